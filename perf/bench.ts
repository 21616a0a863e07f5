// Side-by-side benchmark: makedumpfile and cyclodump on the same inputs in one run,
// alternating, several runs each; medians of wall time, CPU time, peak RSS and output size,
// and the ratios. Writes perf/RESULTS.md (a generated section) and perf/results.svg.
//
//   npm run bench -- [--runs N] [--inputs real-1g,real-3g-large,synth:/path/x.vmcore,...]
//                    [--levels 31,1] [--codecs zlib,lzo,none,snappy,zstd]
//                    [--settings default,one,pinned,disk] [--quick] [--section NAME] [--out FILE]
//
// Settings (each a row per input, level and codec; all run in the same alternating rounds):
//   default  2 CPUs (whatever the machine has), cyclodump's default thread count
//   one      the same, cyclodump --num-threads 1
//   pinned   both tools under `taskset -c 0`, cyclodump's default thread count
//   disk     as default, each run followed by sync(1) and timed with it: until the dump is
//            on the disk, as a kdump script's `sync` before the reboot waits for it
//            (makedumpfile leaves its pages in the page cache; cyclodump's run has already
//            waited for its data before the descriptors and the header that point at it)
// makedumpfile always runs at its default (--num-threads 0: one thread).
//
// Inputs: real-1g (and other names) are the shared fixtures; real-3g-large, real-3g-la57,
// real-5g-large (any name starting real- with no fixture) are vmcores made by
// ../shared/fixtures/make-real-vmcore.sh into $CYCLODUMP_REAL_DUMPS/NAME/work/vmcore
// (default: the artifacts/dumps folder beside the repository); absent ones are skipped.
//
// makedumpfile columns: `makedumpfile` on PATH (Debian's 1.7.2, built without snappy and
// zstd: given -p or -z it writes raw pages, so its -p/-z column is its raw run), and, where
// present, upstream 1.7.9 built with LZO, snappy and zstd: $CYCLODUMP_MAKEDUMPFILE_179, or
// artifacts/perf/makedumpfile-1.7.9/makedumpfile beside the repository. 1.7.9 is the fair
// reference for -p and -z.
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fixtureVmcore } from '../test/helpers/fixtures';
import { encodeNotes, writeElfVmcore } from '../test/helpers/elf-builder';
import { BIN, CACHE, FIXTURES, REPO } from '../test/helpers/paths';
import { measuredCommit, toolEnv } from './tool-env';

interface Sample {
  wall: number;
  cpu: number;
  rssKiB: number;
  bytes: number;
  threads?: number;
}

type Tool = 'mdf' | 'mdf179' | 'cd';
type Setting = 'default' | 'one' | 'pinned' | 'disk';

/** One tool's runs at one input, level, codec and setting. */
interface Cell {
  samples: Sample[];
  /** runs that crashed (makedumpfile's; a cyclodump failure ends the bench) */
  failures: string[];
}

interface Config {
  input: string;
  level: string;
  codec: string;
  setting: Setting;
  cells: Partial<Record<Tool, Cell>>;
}

const CODEC_FLAGS: Record<string, string[]> = { zlib: ['-c'], lzo: ['-l'], none: [], snappy: ['-p'], zstd: ['-z'] };
const SETTING_LABEL: Record<Setting, string> = {
  default: '2 CPUs, default threads', one: '2 CPUs, --num-threads 1', pinned: 'pinned to 1 CPU, default threads',
  disk: '2 CPUs, default threads, then sync',
};

/** perf/then-sync.sh: runs a command, then sync(1) */
const THEN_SYNC = path.join(REPO, 'perf', 'then-sync.sh');

function arg(name: string, def?: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : def;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Runs a command under GNU time; returns wall, user+sys and max RSS. The wall time is
 * taken here around the whole spawn (GNU time's own %e counts in 10 ms steps: a 0.23 s
 * run read 0.23 or 0.24, 4% apart); the spawn of time and taskset is the same for both tools.
 */
function timed(cmd: string[], out: string, pin: boolean): Sample {
  fs.rmSync(out, { force: true });
  const tfile = path.join(os.tmpdir(), `bench-time-${process.pid}`);
  const argv = ['-f', '%U %S %M', '-o', tfile, ...(pin ? ['taskset', '-c', '0'] : []), ...cmd];
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', argv, { encoding: 'latin1', maxBuffer: 64 << 20, env: toolEnv() });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const [user, sys, rss] = fs.readFileSync(tfile, 'latin1').trim().split('\n').pop()!.split(' ').map(Number);
  const bytes = fs.statSync(out).size;
  const th = /^Threads: (\d+);/m.exec(r.stdout);
  fs.rmSync(out, { force: true });
  return { wall, cpu: user + sys, rssKiB: rss, bytes, threads: th ? Number(th[1]) : undefined };
}

/** The folder of the real dumps made outside the repository. */
export function realDumpsDir(): string {
  return process.env.CYCLODUMP_REAL_DUMPS ?? path.resolve(REPO, '..', 'artifacts', 'dumps');
}

/** upstream makedumpfile 1.7.9 (LZO, snappy, zstd), where built; undefined when absent. */
export function makedumpfile179(): string | undefined {
  const p = process.env.CYCLODUMP_MAKEDUMPFILE_179 ?? path.resolve(REPO, '..', 'artifacts', 'perf', 'makedumpfile-1.7.9', 'makedumpfile');
  return fs.existsSync(p) ? p : undefined;
}

/** An input name's vmcore, or undefined for a real dump that has not been made here. */
function inputPath(name: string): string | undefined {
  if (name.startsWith('synth:')) return name.slice(6);
  if (fs.existsSync(path.join(FIXTURES, name))) return fixtureVmcore(name);
  const made = path.join(realDumpsDir(), name, 'work', 'vmcore');
  return fs.existsSync(made) ? made : undefined;
}

function tinyVmcore(): string {
  const p = path.join(CACHE, 'bench', 'tiny.vmcore');
  if (fs.existsSync(p)) return p;
  fs.mkdirSync(path.dirname(p), { recursive: true });
  const data = Buffer.alloc(64 * 4096);
  for (let i = 0; i < 64; i += 2) data.write(`tiny page ${i}`, i * 4096);
  writeElfVmcore(p, { notes: encodeNotes([{ name: 'CORE', type: 1, desc: Buffer.alloc(336) }]), loads: [{ paddr: 0, data }] });
  return p;
}

function toolVersion(bin: string): string {
  try {
    return execFileSync(bin, ['-v'], { encoding: 'latin1' }).split('\n')[0];
  } catch {
    return 'absent';
  }
}

function machine(commit: string, mdf179?: string): string {
  const cpus = os.cpus();
  return `${cpus.length} x ${cpus[0]?.model ?? '?'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, Linux ${os.release()}, Node ${process.version}; `
    + `${toolVersion('makedumpfile')}${mdf179 ? `; upstream ${toolVersion(mdf179)} (${mdf179})` : ''}; cyclodump at commit ${commit}`;
}

/** Fisher-Yates shuffles from a fixed seed: the same orders in every bench run. */
function shuffler(seed: number): <T>(xs: T[]) => T[] {
  let x = seed;
  const next = (n: number): number => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return Math.floor((x / 2 ** 32) * n);
  };
  return <T>(xs: T[]): T[] => {
    const a = [...xs];
    for (let i = a.length - 1; i > 0; i--) {
      const j = next(i + 1);
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  };
}

/** One round of a configuration: each tool once, as runs to make in any order. */
function roundJobs(c: Config, vmcore: string, out: string, mdf179: string | undefined): (() => void)[] {
  const pin = c.setting === 'pinned';
  const level = ['-d', c.level];
  const tools: [Tool, string[]][] = [];
  // makedumpfile's rows do not depend on cyclodump's thread setting: the default and one
  // rows share them (the config of the default setting holds them)
  if (c.setting !== 'one') {
    // 1.7.2 has no snappy/zstd: its raw run stands in
    const mdfCodec = c.codec === 'snappy' || c.codec === 'zstd' ? 'none' : c.codec;
    tools.push(['mdf', ['makedumpfile', ...CODEC_FLAGS[mdfCodec], ...level, vmcore, out]]);
    if (mdf179) tools.push(['mdf179', [mdf179, ...CODEC_FLAGS[c.codec], ...level, vmcore, out]]);
  }
  tools.push(['cd', [process.execPath, BIN, ...CODEC_FLAGS[c.codec], ...level, ...(c.setting === 'one' ? ['--num-threads', '1'] : []),
    '--message-level', '23', vmcore, out]]);
  if (c.setting === 'disk') for (const t of tools) t[1] = [THEN_SYNC, ...t[1]];
  return tools.map(([tool, cmd]) => (): void => {
    const cell = (c.cells[tool] ??= { samples: [], failures: [] });
    if (tool === 'cd') {
      cell.samples.push(timed(cmd, out, pin));
      return;
    }
    // a makedumpfile crash is its own, recorded and shown
    try {
      cell.samples.push(timed(cmd, out, pin));
    } catch (e) {
      cell.failures.push((e as Error).message.split('\n').filter((l) => l.trim()).pop() ?? 'failed');
    }
  });
}

async function main(): Promise<void> {
  // taken before the runs: what the build measured, whatever the tree becomes meanwhile
  const commit = measuredCommit();
  const runs = Number(arg('--runs', '3'));
  const quick = process.argv.includes('--quick');
  const outMd = arg('--out', path.join(REPO, 'perf', 'RESULTS.md'))!;
  const work = path.join(CACHE, 'bench');
  fs.mkdirSync(work, { recursive: true });
  const out = path.join(work, 'out');
  const levels = (arg('--levels') ?? (quick ? '31' : '31,1')).split(',');
  const codecs = (arg('--codecs') ?? (quick ? 'lzo' : 'zlib,lzo,none,snappy,zstd')).split(',');
  for (const c of codecs) if (!CODEC_FLAGS[c]) throw new Error(`unknown codec ${c} (known: ${Object.keys(CODEC_FLAGS).join(', ')})`);
  const settings = (arg('--settings') ?? 'default,one,pinned,disk').split(',') as Setting[];
  for (const s of settings) if (!SETTING_LABEL[s]) throw new Error(`unknown setting ${s} (known: ${Object.keys(SETTING_LABEL).join(', ')})`);
  const section = arg('--section') ?? 'bench';
  const mdf179 = makedumpfile179();
  const configs: Config[] = [];
  for (const name of (arg('--inputs', 'real-1g') ?? 'real-1g').split(',')) {
    const vmcore = inputPath(name);
    const label = name.startsWith('synth:') ? path.basename(vmcore!) : name;
    if (!vmcore) {
      process.stderr.write(`${name}: no vmcore at ${path.join(realDumpsDir(), name, 'work', 'vmcore')}; skipped\n`);
      continue;
    }
    for (const level of levels) {
      for (const codec of codecs) {
        const mine = settings.map((setting): Config => ({ input: label, level, codec, setting, cells: {} }));
        // rounds alternate every tool and setting of this input, level and codec, each round
        // in an order of its own: no run always follows the same one. A run right after
        // makedumpfile's was 0.05-0.07 s slower without a codec (bench-s27); starting each
        // round one run further on (b74d2b4) kept the neighbours, and with 10 runs a round
        // and 5 rounds the default no-codec run still always came after 1.7.9's (bench-s28)
        const order = shuffler(1);
        for (let i = 0; i < runs; i++) {
          for (const job of order(mine.flatMap((c) => roundJobs(c, vmcore, out, mdf179)))) job();
        }
        for (const c of mine) process.stderr.write(`${summaryLine(c, configs.concat(mine))}\n`);
        configs.push(...mine);
      }
    }
  }
  // start-up: a 256 KiB vmcore
  const tiny = tinyVmcore();
  const startup: Sample[] = [];
  const startupMdf: Sample[] = [];
  for (let i = 0; i < Math.max(5, runs); i++) {
    startupMdf.push(timed(['makedumpfile', '-l', '-d', '1', tiny, out], out, false));
    startup.push(timed([process.execPath, BIN, '-l', '-d', '1', tiny, out], out, false));
  }
  const report = render(configs, startup, startupMdf, runs, commit, mdf179);
  process.stdout.write(report.text);
  writeResults(outMd, report.text, section);
  fs.writeFileSync(path.join(path.dirname(outMd), section === 'bench' ? 'results.svg' : `results-${section}.svg`), report.svg);
}

const med = (cell: Cell | undefined, f: (s: Sample) => number): number =>
  cell && cell.samples.length ? median(cell.samples.map(f)) : NaN;

/** makedumpfile's cell for a config: the one setting `one` shares with `default`. */
function mdfCell(c: Config, all: Config[], tool: 'mdf' | 'mdf179'): Cell | undefined {
  if (c.setting !== 'one') return c.cells[tool];
  return all.find((o) => o.input === c.input && o.level === c.level && o.codec === c.codec && o.setting === 'default')?.cells[tool];
}

function summaryLine(c: Config, all: Config[]): string {
  const m = med(mdfCell(c, all, 'mdf'), (s) => s.wall);
  const n = med(mdfCell(c, all, 'mdf179'), (s) => s.wall);
  const d = med(c.cells.cd, (s) => s.wall);
  return `${c.input} -d ${c.level} ${c.codec} ${c.setting}: makedumpfile ${m.toFixed(3)} s, 1.7.9 ${n.toFixed(3)} s, cyclodump ${d.toFixed(3)} s, `
    + `ratio ${(m / d).toFixed(2)} / ${(n / d).toFixed(2)}`;
}

const fmt = (x: number, digits = 2): string => (Number.isFinite(x) ? x.toFixed(digits) : '');
const ratio = (a: number, b: number): string => (Number.isFinite(a) && Number.isFinite(b) ? `**${(a / b).toFixed(2)}x**` : '');

function render(configs: Config[], startup: Sample[], startupMdf: Sample[], runs: number, commit: string, mdf179?: string): { text: string; svg: string } {
  const lines: string[] = [];
  const cmd = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();
  lines.push(`Command: \`${cmd}\` (${runs} alternating runs per configuration; medians; NODE_EXTRA_CA_CERTS unset)`, '',
    `Machine: ${machine(commit, mdf179)}`, '',
    'Speed-up = makedumpfile\'s wall time / cyclodump\'s. makedumpfile runs at its default (one thread); "pinned": both tools under `taskset -c 0`; '
    + '"then sync": each run followed by sync(1) and timed with it, until the dump is on the disk. '
    + 'makedumpfile 1.7.2 has no snappy or zstd: its -p/-z column is its raw run; 1.7.9 has both. "default / one": cyclodump\'s '
    + '`--num-threads 1` wall time over its default\'s (below 1.00x, the default was slower).', '');
  lines.push('| input | -d | codec | setting | mdf 1.7.2 s | mdf 1.7.9 s | cyclodump s | **vs 1.7.2** | **vs 1.7.9** | cd threads | default / one | mdf CPU s | cd CPU s | mdf RSS MiB | cd RSS MiB | mdf 1.7.2 bytes | mdf 1.7.9 bytes | cd bytes |');
  lines.push('|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const bars: { label: string; mdf: number; cd: number }[] = [];
  for (const c of configs) {
    const m = mdfCell(c, configs, 'mdf');
    const n = mdfCell(c, configs, 'mdf179');
    const cd = c.cells.cd;
    const mw = med(m, (s) => s.wall);
    const nw = med(n, (s) => s.wall);
    const cw = med(cd, (s) => s.wall);
    let codec = c.codec;
    if (c.codec === 'snappy' || c.codec === 'zstd') codec += ' (1.7.2: raw)';
    const crashes = [m, n].filter((x) => x && x.failures.length).map((x) => `makedumpfile crashed in ${x!.failures.length} runs: ${x!.failures[0]}`);
    if (crashes.length) codec += ` (${crashes.join('; ')})`;
    let vsOne = '';
    if (c.setting === 'default') {
      const one = configs.find((o) => o.input === c.input && o.level === c.level && o.codec === c.codec && o.setting === 'one');
      if (one) vsOne = ratio(med(one.cells.cd, (s) => s.wall), cw);
    }
    lines.push(`| ${c.input} | ${c.level} | ${codec} | ${SETTING_LABEL[c.setting]} | ${fmt(mw, 3)} | ${fmt(nw, 3)} | ${fmt(cw, 3)} | ${ratio(mw, cw)} | ${ratio(nw, cw)} | `
      + `${cd?.samples[0]?.threads ?? ''} | ${vsOne} | ${fmt(med(m, (s) => s.cpu))} | ${fmt(med(cd, (s) => s.cpu))} | ${fmt(med(m, (s) => s.rssKiB) / 1024, 0)} | `
      + `${fmt(med(cd, (s) => s.rssKiB) / 1024, 0)} | ${fmt(med(m, (s) => s.bytes), 0)} | ${fmt(med(n, (s) => s.bytes), 0)} | ${fmt(med(cd, (s) => s.bytes), 0)} |`);
    bars.push({ label: `${c.input} -d${c.level} ${c.codec} ${c.setting}`, mdf: mw, cd: cw });
  }
  lines.push('', `Start-up (a 64-page vmcore, \`-l -d 1\`): cyclodump ${median(startup.map((s) => s.wall)).toFixed(3)} s wall, ${(median(startup.map((s) => s.rssKiB)) / 1024).toFixed(0)} MiB RSS; makedumpfile ${median(startupMdf.map((s) => s.wall)).toFixed(3)} s.`, '');
  return { text: lines.join('\n') + '\n', svg: chart(bars) };
}

function chart(bars: { label: string; mdf: number; cd: number }[]): string {
  const w = 900;
  const rowH = 34;
  const left = 260;
  const h = 60 + bars.length * rowH;
  const max = Math.max(0.001, ...bars.flatMap((b) => [b.mdf, b.cd]));
  const sx = (v: number) => ((w - left - 80) * v) / max;
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="10" y="20" font-size="14">Wall time, median (s): makedumpfile 1.7.2 (grey) vs cyclodump (blue)</text>`];
  bars.forEach((b, i) => {
    const y = 40 + i * rowH;
    parts.push(`<text x="10" y="${y + 14}">${b.label}</text>`,
      `<rect x="${left}" y="${y}" width="${sx(b.mdf).toFixed(1)}" height="12" fill="#999"/>`,
      `<text x="${left + sx(b.mdf) + 4}" y="${y + 10}">${b.mdf.toFixed(2)}</text>`,
      `<rect x="${left}" y="${y + 14}" width="${sx(b.cd).toFixed(1)}" height="12" fill="#2a6fdb"/>`,
      `<text x="${left + sx(b.cd) + 4}" y="${y + 24}">${b.cd.toFixed(2)} (${(b.mdf / b.cd).toFixed(2)}x)</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** Replaces this run's generated section of RESULTS.md, keeping everything written by hand. */
function writeResults(file: string, text: string, tag: string): void {
  const begin = `<!-- ${tag}:begin -->`;
  const end = `<!-- ${tag}:end -->`;
  const block = `${begin}\n${text}${end}`;
  let md = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Performance results\n\n';
  if (md.includes(begin) && md.includes(end)) {
    md = md.slice(0, md.indexOf(begin)) + block + md.slice(md.indexOf(end) + end.length);
  } else {
    md += `\n${block}\n`;
  }
  fs.writeFileSync(file, md);
}

main().catch((e) => {
  process.stderr.write(`bench: ${(e as Error).message}\n`);
  process.exitCode = 1;
});


// Side-by-side benchmark: makedumpfile 1.7.2 and cyclodump on the same inputs in one run,
// alternating, several runs each; medians of wall time, CPU time, peak RSS and output size,
// and the ratios. Writes perf/RESULTS.md (a generated section) and perf/results.svg.
//
//   npm run bench -- [--runs N] [--inputs real-1g,synth:/path/to/x.vmcore,...] [--quick]
//                    [--levels 31,1] [--codecs zlib,lzo,none,snappy,zstd] [--taskset]
//                    [--section NAME] [--out perf/RESULTS.md]
//
// Each run replaces its own section of RESULTS.md (named by --section, default bench or
// bench-pinned), so runs on different inputs sit side by side.
//
// Debian's makedumpfile is built without snappy and zstd: given -p or -z it writes raw
// pages, so cyclodump's -p/-z rows are compared with makedumpfile's uncompressed run.
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fixtureVmcore } from '../test/helpers/fixtures';
import { encodeNotes, writeElfVmcore } from '../test/helpers/elf-builder';
import { BIN, CACHE, REPO } from '../test/helpers/paths';
import { measuredCommit, toolEnv } from './tool-env';

interface Sample {
  wall: number;
  cpu: number;
  rssKiB: number;
  bytes: number;
  memMapBytes?: number;
}

interface Row {
  input: string;
  level: string;
  codec: string;
  tool: 'makedumpfile' | 'cyclodump';
  threads: string;
  pinned: boolean;
  samples: Sample[];
  /** makedumpfile runs that crashed (its --num-threads 2 sometimes aborts: "libgcc_s.so.1 must be installed for pthread_exit to work") */
  failures: string[];
}

const CODEC_FLAGS: Record<string, string[]> = { zlib: ['-c'], lzo: ['-l'], none: [], snappy: ['-p'], zstd: ['-z'] };

function arg(name: string, def?: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : def;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs a command under GNU time; returns wall, user+sys and max RSS. */
function timed(cmd: string[], out: string, pin: boolean): Sample {
  fs.rmSync(out, { force: true });
  const tfile = path.join(os.tmpdir(), `bench-time-${process.pid}`);
  const argv = ['-f', '%e %U %S %M', '-o', tfile, ...(pin ? ['taskset', '-c', '0'] : []), ...cmd];
  const r = spawnSync('/usr/bin/time', argv, { encoding: 'latin1', maxBuffer: 64 << 20, env: toolEnv() });
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const [wall, user, sys, rss] = fs.readFileSync(tfile, 'latin1').trim().split('\n').pop()!.split(' ').map(Number);
  const bytes = fs.statSync(out).size;
  const mm = /mem_map bytes read: (\d+)/.exec(r.stdout);
  fs.rmSync(out, { force: true });
  return { wall, cpu: user + sys, rssKiB: rss, bytes, memMapBytes: mm ? Number(mm[1]) : undefined };
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

function machine(commit: string): string {
  const cpus = os.cpus();
  let mdf = '';
  try { mdf = execFileSync('makedumpfile', ['-v'], { encoding: 'latin1' }).split('\n')[0]; } catch { /* absent */ }
  return `${cpus.length} x ${cpus[0]?.model ?? '?'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, Linux ${os.release()}, Node ${process.version}; ${mdf}; cyclodump at commit ${commit}`;
}

async function main(): Promise<void> {
  // taken before the runs: what the build measured, whatever the tree becomes meanwhile
  const commit = measuredCommit();
  const runs = Number(arg('--runs', '3'));
  const quick = process.argv.includes('--quick');
  const pinned = process.argv.includes('--taskset');
  const outMd = arg('--out', path.join(REPO, 'perf', 'RESULTS.md'))!;
  const inputs = (arg('--inputs', 'real-1g') ?? 'real-1g').split(',').map((s) => {
    if (s.startsWith('synth:')) return { name: path.basename(s.slice(6)), path: s.slice(6) };
    return { name: s, path: fixtureVmcore(s) };
  });
  const work = path.join(CACHE, 'bench');
  fs.mkdirSync(work, { recursive: true });
  const out = path.join(work, 'out');
  const rows: Row[] = [];
  const levels = (arg('--levels') ?? (quick ? '1' : '31,1')).split(',');
  const codecs = (arg('--codecs') ?? (quick ? 'lzo' : 'zlib,lzo,none,snappy,zstd')).split(',');
  for (const c of codecs) if (!CODEC_FLAGS[c]) throw new Error(`unknown codec ${c} (known: ${Object.keys(CODEC_FLAGS).join(', ')})`);
  const section = arg('--section') ?? (pinned ? 'bench-pinned' : 'bench');
  const threadSets: [string, string][] = pinned ? [['0', '1']] : [['0', '1'], ['2', '2']];

  for (const input of inputs) {
    for (const level of levels) {
      for (const codec of codecs) {
        for (const [mdfThreads, cdThreads] of threadSets) {
          // makedumpfile has no snappy/zstd in Debian's build: its raw run stands in
          const mdfCodec = codec === 'snappy' || codec === 'zstd' ? 'none' : codec;
          const key = (tool: Row['tool'], c: string, t: string) =>
            rows.find((r) => r.input === input.name && r.level === level && r.codec === c && r.tool === tool && r.threads === t && r.pinned === pinned);
          let mdfRow = key('makedumpfile', mdfCodec, mdfThreads);
          const runMdf = !mdfRow;
          if (!mdfRow) {
            mdfRow = { input: input.name, level, codec: mdfCodec, tool: 'makedumpfile', threads: mdfThreads, pinned, samples: [], failures: [] };
            rows.push(mdfRow);
          }
          const cdRow: Row = { input: input.name, level, codec, tool: 'cyclodump', threads: cdThreads, pinned, samples: [], failures: [] };
          rows.push(cdRow);
          for (let i = 0; i < runs; i++) {
            if (runMdf) {
              // a makedumpfile crash is its own, recorded and shown; a cyclodump failure ends the bench
              try {
                mdfRow.samples.push(timed(['makedumpfile', ...CODEC_FLAGS[mdfCodec], '-d', level,
                  ...(mdfThreads !== '0' ? ['--num-threads', mdfThreads] : []), input.path, out], out, pinned));
              } catch (e) {
                mdfRow.failures.push((e as Error).message.split('\n').filter((l) => l.trim()).pop() ?? 'failed');
              }
            }
            cdRow.samples.push(timed([process.execPath, BIN, ...CODEC_FLAGS[codec], '-d', level, '--num-threads', cdThreads,
              '--message-level', '23', input.path, out], out, pinned));
          }
          const m = mdfRow.samples.length ? median(mdfRow.samples.map((s) => s.wall)) : NaN;
          const c = median(cdRow.samples.map((s) => s.wall));
          process.stderr.write(`${input.name} -d ${level} ${codec} threads ${mdfThreads}/${cdThreads}${pinned ? ' pinned' : ''}: makedumpfile ${m.toFixed(2)} s, cyclodump ${c.toFixed(2)} s, ratio ${(m / c).toFixed(2)}\n`);
        }
      }
    }
  }
  // start-up: a 256 KiB vmcore
  const tiny = tinyVmcore();
  const startup: Sample[] = [];
  const startupMdf: Sample[] = [];
  for (let i = 0; i < Math.max(5, runs); i++) {
    startupMdf.push(timed(['makedumpfile', '-l', '-d', '1', tiny, out], out, pinned));
    startup.push(timed([process.execPath, BIN, '-l', '-d', '1', tiny, out], out, pinned));
  }
  const report = render(rows, startup, startupMdf, runs, pinned, commit);
  process.stdout.write(report.text);
  writeResults(outMd, report.text, section);
  fs.writeFileSync(path.join(path.dirname(outMd), section === 'bench' ? 'results.svg' : `results-${section}.svg`), report.svg);
}

function render(rows: Row[], startup: Sample[], startupMdf: Sample[], runs: number, pinned: boolean, commit: string): { text: string; svg: string } {
  const lines: string[] = [];
  const cmd = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();
  lines.push(`Command: \`${cmd}\` (${runs} alternating runs per configuration; medians)`, '', `Machine: ${machine(commit)}`, '',
    pinned ? 'Both tools pinned to one CPU (`taskset -c 0`).' : '', '');
  lines.push('| input | -d | codec | threads mdf/cd | makedumpfile wall s | cyclodump wall s | **speed-up** | mdf CPU s | cd CPU s | mdf RSS MiB | cd RSS MiB | mdf bytes | cd bytes | cd mem_map bytes |');
  lines.push('|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const bars: { label: string; mdf: number; cd: number }[] = [];
  for (const cd of rows.filter((r) => r.tool === 'cyclodump')) {
    const mdfCodec = cd.codec === 'snappy' || cd.codec === 'zstd' ? 'none' : cd.codec;
    const mdfThreads = cd.threads === '1' ? '0' : cd.threads;
    const mdf = rows.find((r) => r.tool === 'makedumpfile' && r.input === cd.input && r.level === cd.level && r.codec === mdfCodec && r.threads === mdfThreads);
    if (!mdf || mdf.samples.length === 0) {
      if (mdf) lines.push(`| ${cd.input} | ${cd.level} | ${cd.codec} | ${mdf.threads}/${cd.threads} | makedumpfile failed in all ${mdf.failures.length} runs (${mdf.failures[0]}) | ${median(cd.samples.map((s) => s.wall)).toFixed(2)} | | | | | | | | |`);
      continue;
    }
    const mw = median(mdf.samples.map((s) => s.wall));
    const cw = median(cd.samples.map((s) => s.wall));
    let note = mdfCodec !== cd.codec ? ` (mdf: raw, its build lacks ${cd.codec})` : '';
    if (mdf.failures.length) note += ` (makedumpfile crashed in ${mdf.failures.length} of ${mdf.failures.length + mdf.samples.length} runs: ${mdf.failures[0]})`;
    lines.push(`| ${cd.input} | ${cd.level} | ${cd.codec}${note} | ${mdf.threads}/${cd.threads} | ${mw.toFixed(2)} | ${cw.toFixed(2)} | **${(mw / cw).toFixed(2)}x** | ${median(mdf.samples.map((s) => s.cpu)).toFixed(2)} | ${median(cd.samples.map((s) => s.cpu)).toFixed(2)} | ${(median(mdf.samples.map((s) => s.rssKiB)) / 1024).toFixed(0)} | ${(median(cd.samples.map((s) => s.rssKiB)) / 1024).toFixed(0)} | ${median(mdf.samples.map((s) => s.bytes))} | ${median(cd.samples.map((s) => s.bytes))} | ${cd.samples[0].memMapBytes ?? ''} |`);
    bars.push({ label: `${cd.input} -d${cd.level} ${cd.codec} t${cd.threads}`, mdf: mw, cd: cw });
  }
  // best makedumpfile configuration per input/level/codec against cyclodump's best
  lines.push('', 'Against makedumpfile\'s best configuration (fastest of --num-threads 0 and 2):', '');
  lines.push('| input | -d | codec | best makedumpfile s | best cyclodump s | speed-up |', '|---|---|---|---:|---:|---:|');
  const groups = new Set(rows.filter((r) => r.tool === 'cyclodump').map((r) => `${r.input}|${r.level}|${r.codec}`));
  for (const g of groups) {
    const [input, level, codec] = g.split('|');
    const mdfCodec = codec === 'snappy' || codec === 'zstd' ? 'none' : codec;
    const m = Math.min(...rows.filter((r) => r.tool === 'makedumpfile' && r.input === input && r.level === level && r.codec === mdfCodec && r.samples.length > 0).map((r) => median(r.samples.map((s) => s.wall))));
    const c = Math.min(...rows.filter((r) => r.tool === 'cyclodump' && r.input === input && r.level === level && r.codec === codec).map((r) => median(r.samples.map((s) => s.wall))));
    lines.push(`| ${input} | ${level} | ${codec} | ${m.toFixed(2)} | ${c.toFixed(2)} | **${(m / c).toFixed(2)}x** |`);
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


// Terabyte-scale check (issue 3) and the memory-flatness figures (issue 4): synthetic
// vmcores of growing RAM, makedumpfile 1.7.2 and cyclodump on each, their counts against
// the generator's expected ones, their files compared byte for byte, and time and peak RSS.
//
//   npm run build && node dist/perf/scale.js [--sizes 4G,64G,256G,1T] [--dir DIR] [--keep]
//                                             [--codec -l] [--level 31] [--threads 2]
//                                             [--arch arm64 [--makedumpfile PATH]]
//
// --arch arm64: arm64 machines (perf/synth --arch arm64), compared with Debian's arm64
// makedumpfile under qemu-user-static (test/fixtures-tools/arm64-makedumpfile.sh, by default
// in .cache/arm64-makedumpfile): its times are an emulator's.
// Writes its section of perf/RESULTS.md. Generated vmcores are sparse (1 TiB takes about
// 21 GB); they are kept in DIR for the next run unless deleted.
import { spawnSync } from 'child_process';
import { measuredCommit, toolEnv } from './tool-env';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { generateVmcore } from './synth/generate';
import { parseReport } from './synth/check';
import { parseSize } from './synth/units';
import type { SynthArch } from './synth/layout';

interface Run {
  wall: number;
  cpu: number;
  rssKiB: number;
  bytes: number;
  sha: string;
  report: string;
  code: number;
}

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : def;
}

function sha256(file: string): string {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(8 << 20);
  let pos = 0;
  for (;;) {
    const n = fs.readSync(fd, buf, 0, buf.length, pos);
    if (n === 0) break;
    h.update(buf.subarray(0, n));
    pos += n;
  }
  fs.closeSync(fd);
  return h.digest('hex');
}

function timed(cmd: string[], out: string): Run {
  fs.rmSync(out, { force: true });
  const tfile = path.join(os.tmpdir(), `scale-time-${process.pid}`);
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', '-o', tfile, ...cmd], { encoding: 'latin1', maxBuffer: 256 << 20, env: toolEnv() });
  const [wall, user, sys, rss] = fs.readFileSync(tfile, 'latin1').trim().split('\n').pop()!.split(' ').map(Number);
  const ok = r.status === 0 && fs.existsSync(out);
  return {
    wall, cpu: user + sys, rssKiB: rss, bytes: ok ? fs.statSync(out).size : 0, sha: ok ? sha256(out) : '',
    report: `${r.stdout}${r.stderr}`, code: r.status ?? -1,
  };
}

async function main(): Promise<void> {
  // taken before the runs: what the build measured, whatever the tree becomes meanwhile
  const commit = measuredCommit();
  const repo = path.resolve(__dirname, '../..');
  const sizes = arg('--sizes', '4G,64G,256G').split(',');
  const dir = arg('--dir', path.join(repo, '.cache', 'scale'));
  const codec = arg('--codec', '-l');
  const level = arg('--level', '31');
  // a fixed --cyclic-buffer (KiB, both tools) makes memory independent of RAM size; without
  // it both tools size the cycle from this machine's free memory (one cycle here)
  const cyclic = process.argv.includes('--cyclic-buffer') ? ['--cyclic-buffer', arg('--cyclic-buffer', '')] : [];
  const threads = arg('--threads', String(Math.max(1, os.availableParallelism?.() ?? os.cpus().length)));
  const arch = arg('--arch', 'x86_64') as SynthArch;
  const mdfTool = arg('--makedumpfile', arch === 'arm64' ? path.join(repo, '.cache', 'arm64-makedumpfile', 'makedumpfile') : 'makedumpfile');
  const prefix = arch === 'arm64' ? 'synth-arm64' : 'synth';
  fs.mkdirSync(dir, { recursive: true });
  const rows: string[] = [];
  for (const size of sizes) {
    const vmcore = path.join(dir, `${prefix}-${size}.vmcore`);
    let genSecs = 0;
    if (!fs.existsSync(`${vmcore}.expected.json`)) {
      const t0 = Date.now();
      await generateVmcore({ arch, ramBytes: parseSize(size), out: vmcore, seed: 1 });
      genSecs = (Date.now() - t0) / 1000;
    }
    const expected = JSON.parse(fs.readFileSync(`${vmcore}.expected.json`, 'utf8')).levels[level];
    const onDisk = fs.statSync(vmcore).blocks * 512;
    const mdf = timed([mdfTool, codec, '-d', level, ...cyclic, '--message-level', '31', vmcore, path.join(dir, 'out.mdf')], path.join(dir, 'out.mdf'));
    const cd = timed([process.execPath, path.join(repo, 'bin', 'cyclodump'), codec, '-d', level, ...cyclic, '--num-threads', threads, '--message-level', '31', vmcore, path.join(dir, 'out.cd')], path.join(dir, 'out.cd'));
    const mc = parseReport(mdf.report);
    const cc = parseReport(cd.report);
    const fields = ['zero', 'cache', 'cache_private', 'user', 'free', 'hwpoison', 'offline', 'remaining'] as const;
    const mdfOk = mdf.code === 0 && fields.every((f) => (mc as unknown as Record<string, number>)[f] === expected[f]);
    const cdOk = cd.code === 0 && fields.every((f) => (cc as unknown as Record<string, number>)[f] === expected[f]);
    const mm = /mem_map bytes read: (\d+)/.exec(cd.report);
    rows.push(`| ${size} | ${(onDisk / 2 ** 30).toFixed(1)} GiB${genSecs ? `, ${genSecs.toFixed(0)} s` : ''} | ${expected.remaining} | ${mdfOk ? 'yes' : 'NO'} | ${cdOk ? 'yes' : 'NO'} | ${mdf.sha === cd.sha && mdf.sha !== '' ? 'yes' : 'NO'} | ${mdf.wall.toFixed(2)} | ${cd.wall.toFixed(2)} | ${(mdf.wall / cd.wall).toFixed(2)}x | ${(mdf.rssKiB / 1024).toFixed(0)} | ${(cd.rssKiB / 1024).toFixed(0)} | ${mm ? mm[1] : ''} |`);
    process.stderr.write(`${rows[rows.length - 1]}\n`);
    fs.rmSync(path.join(dir, 'out.mdf'), { force: true });
    fs.rmSync(path.join(dir, 'out.cd'), { force: true });
    if (!process.argv.includes('--keep')) {
      fs.rmSync(vmcore, { force: true });
      fs.rmSync(`${vmcore}.expected.json`, { force: true });
    }
  }
  const cpus = os.cpus();
  const text = [
    `Command: \`node dist/perf/scale.js ${process.argv.slice(2).join(' ')}\``, '',
    `Machine: ${cpus.length} x ${cpus[0]?.model ?? '?'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}; cyclodump at commit ${commit}`, '',
    `Synthetic ${arch} vmcores (perf/synth, seed 1), \`${[codec, '-d', level, ...cyclic].join(' ')}\` for both tools, cyclodump with --num-threads ${threads}${arch === 'arm64' ? '; makedumpfile is the arm64 build under qemu-user-static' : ''}:`, '',
    '| RAM | vmcore on disk, generation | expected remaining pages | makedumpfile counts = expected | cyclodump counts = expected | same file | mdf wall s | cd wall s | speed-up | mdf RSS MiB | cd RSS MiB | cd mem_map bytes read |',
    '|---|---|---:|---|---|---|---:|---:|---:|---:|---:|---:|',
    ...rows, '',
  ].join('\n');
  const file = path.join(repo, 'perf', 'RESULTS.md');
  const tag = `scale-${arch === 'arm64' ? 'arm64-' : ''}${sizes.join('-')}${cyclic.length ? `-cb${cyclic[1]}` : ''}`;
  const begin = `<!-- ${tag}:begin -->`;
  const end = `<!-- ${tag}:end -->`;
  let md = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Performance results\n\n';
  const block = `${begin}\n${text}${end}`;
  md = md.includes(begin) ? md.slice(0, md.indexOf(begin)) + block + md.slice(md.indexOf(end) + end.length) : `${md}\n${block}\n`;
  fs.writeFileSync(file, md);
  process.stdout.write(text);
}

main().catch((e) => {
  process.stderr.write(`scale: ${(e as Error).message}\n`);
  process.exitCode = 1;
});

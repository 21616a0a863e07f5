// Running cyclodump and the reference tools (makedumpfile, libkdumpfile) as processes.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BIN, CACHE, REPO } from './paths';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  wallMs: number;
}

function run(cmd: string, args: string[], opts: { input?: Buffer | string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): RunResult {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, {
    input: opts.input, env: { ...process.env, ...opts.env }, cwd: opts.cwd, maxBuffer: 256 << 20, encoding: 'latin1',
  });
  if (r.error) throw r.error;
  return { code: r.status ?? (r.signal ? 128 : -1), stdout: r.stdout, stderr: r.stderr, wallMs: Date.now() - t0 };
}

export function cyclodump(args: string[], opts: { input?: Buffer | string; env?: NodeJS.ProcessEnv; oneCpu?: boolean } = {}): RunResult {
  // oneCpu: under `taskset` to one CPU, as a capture kernel booted with nr_cpus=1 runs it
  if (opts.oneCpu) return run('taskset', ['-c', String(firstAllowedCpu()), process.execPath, BIN, ...args], opts);
  return run(process.execPath, [BIN, ...args], opts);
}

/** The lowest CPU this process may run on (Cpus_allowed_list of /proc/self/status). */
export function firstAllowedCpu(): number {
  const m = /^Cpus_allowed_list:\s*(\d+)/m.exec(fs.readFileSync('/proc/self/status', 'latin1'));
  return m ? Number(m[1]) : 0;
}

export function makedumpfile(args: string[], opts: { input?: Buffer | string } = {}): RunResult {
  return run('makedumpfile', args, opts);
}

/**
 * The reference for arm64 dumps: Debian's arm64 makedumpfile under qemu-user-static, as
 * test/fixtures-tools/arm64-makedumpfile.sh sets it up (CYCLODUMP_MAKEDUMPFILE_ARM64, else
 * .cache/arm64-makedumpfile/makedumpfile). Undefined when it is not there.
 */
export function makedumpfileArm64Path(): string | undefined {
  const p = process.env.CYCLODUMP_MAKEDUMPFILE_ARM64 ?? path.join(CACHE, 'arm64-makedumpfile', 'makedumpfile');
  return fs.existsSync(p) ? p : undefined;
}

/** Skips the calling suite (or fails under CI, which installs it) when the arm64 makedumpfile is missing. */
export function needMakedumpfileArm64(ctx: Mocha.Context): void {
  if (makedumpfileArm64Path()) return;
  if (process.env.CI) throw new Error('the arm64 makedumpfile is not set up, but CI sets it up (.ci/run): the step failed');
  // eslint-disable-next-line no-console
  console.log('      (skipped: no arm64 makedumpfile here; run test/fixtures-tools/arm64-makedumpfile.sh .cache/arm64-makedumpfile, or .ci/run)');
  ctx.skip();
}

export function makedumpfileArm64(args: string[], opts: { input?: Buffer | string } = {}): RunResult {
  const p = makedumpfileArm64Path();
  if (!p) throw new Error('no arm64 makedumpfile (needMakedumpfileArm64 first)');
  return run(p, args, opts);
}

/** Debian's python3 with python3-libkdumpfile; the checker script lives in test/tools. */
export function libkdumpfileCheck(args: string[]): RunResult {
  return run('/usr/bin/python3', [path.join(REPO, 'test', 'tools', 'libkdump_check.py'), ...args]);
}

export interface PageCounts {
  original: number;
  excluded: number;
  zero: number;
  cache: number;
  cachePrivate: number;
  user: number;
  free: number;
  hwpoison: number;
  offline: number;
  remaining: number;
  memoryHole: number;
  total: number;
}

/** Parses makedumpfile's (and cyclodump's) report lines (--message-level 31). */
export function parseReport(text: string): PageCounts {
  const get = (label: string): number => {
    const m = new RegExp(`${label.replace(/[()]/g, '\\$&')}\\s*:\\s*0x([0-9a-f]+)`).exec(text);
    if (!m) throw new Error(`report line "${label}" not found in:\n${text}`);
    return parseInt(m[1], 16);
  };
  return {
    original: get('Original pages'),
    excluded: get('Excluded pages'),
    zero: get('Pages filled with zero'),
    cache: get('Non-private cache pages'),
    cachePrivate: get('Private cache pages'),
    user: get('User process data pages'),
    free: get('Free pages'),
    hwpoison: get('Hwpoison pages'),
    offline: get('Offline pages'),
    remaining: get('Remaining pages'),
    memoryHole: get('Memory Hole'),
    total: get('Total pages'),
  };
}

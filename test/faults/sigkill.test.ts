// SIGKILL (and the signals cyclodump does not catch: SIGQUIT, SIGUSR2, SIGALRM) at points
// spread over -c, -l, -E and --split runs of real-1g, from pass 1 to the end of pass 2. No
// handler runs, so what is left is what the writes up to that instant made: every file
// must say it is incomplete (kdump status 0x08, ELF e_flags bit 0), and every page it
// holds must equal the vmcore's (our reader for every page, libkdumpfile on a sample).
//
// By default a sample of the 40 points runs (the test stays under 90 s on 2 cores);
// CYCLODUMP_SIGKILL_ALL=1 runs all of them.
import { expect } from 'chai';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { KdumpVmcore } from '../../src/vmcore/kdump-vmcore';
import { expectIncompleteElf, libkdumpfileSample } from '../helpers/faults';
import { verifyPagesAgainstVmcore } from '../helpers/compare';
import { fixtureVmcore, scratchDir } from '../helpers/fixtures';
import { BIN } from '../helpers/paths';

interface Mode {
  name: string;
  args: string[];
  /** output files (one, or the parts of --split) */
  files: number;
  /**
   * bytes on disk of the finished output(s), all files together, measured once with
   * `cyclodump ARGS real-1g OUT; du -B1 OUT*` (2026-12-06); the kill points are fractions of it
   */
  fullBytes: number;
}

const MODES: Mode[] = [
  { name: '-c', args: ['-c', '-d', '31'], files: 1, fullBytes: 20_900_000 },
  { name: '-l', args: ['-l', '-d', '31'], files: 1, fullBytes: 28_000_000 },
  { name: '-E', args: ['-E', '-d', '31'], files: 1, fullBytes: 95_700_000 },
  { name: '--split', args: ['-l', '-d', '31', '--split'], files: 2, fullBytes: 28_090_000 },
];

/** 0: as soon as the file says it is a dump (its signature; pass 1); then fractions of the finished size (pass 2) */
const POINTS = [0, 0.02, 0.1, 0.2, 0.3, 0.45, 0.6, 0.75, 0.85, 0.95];
/** the default sample: pass 1, early, middle and late, spread so each mode gets other points */
const SAMPLE = new Set(['-c:0', '-c:0.45', '-c:0.95', '-l:0.02', '-l:0.6', '-E:0', '-E:0.3', '-E:0.85', '--split:0.1', '--split:0.75']);

interface Killed {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** bytes on disk when the signal went; -1: the run ended first */
  at: number;
  stderr: string;
}

function allocated(files: string[]): number {
  let n = 0;
  for (const f of files) {
    try {
      n += fs.statSync(f).blocks * 512;
    } catch {
      return -1;
    }
  }
  return n;
}

/**
 * Whether a file starts with a dump's signature (kdump KDUMP/DISKDUMP, ELF): the writers
 * put it last of the headers, so before it the file is no dump yet and says nothing.
 */
function hasSignature(file: string): boolean {
  const b = Buffer.alloc(8);
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return false;
  }
  try {
    fs.readSync(fd, b, 0, 8, 0);
  } finally {
    fs.closeSync(fd);
  }
  return b.toString('latin1').startsWith('KDUMP') || b.toString('latin1').startsWith('DISKDUMP') || b.readUInt32BE(0) === 0x7f454c46;
}

/**
 * Runs cyclodump and sends `signal` once the outputs hold `bytes` (0: once each holds its
 * signature, the last of its headers' writes, made right after the file is; a poll can
 * still fall later than that).
 */
function runAndKill(args: string[], outs: string[], bytes: number, signal: NodeJS.Signals): Promise<Killed> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args, ...outs], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('latin1');
    child.stderr.on('data', (d: string) => { stderr += d; });
    let at = -1;
    const poll = setInterval(() => {
      const n = allocated(outs);
      if (n < 0 || n < bytes || (bytes === 0 && !outs.every(hasSignature))) return;
      clearInterval(poll);
      at = n;
      child.kill(signal);
    }, 1);
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${args.join(' ')}: no end after 120 s`)); }, 120_000);
    child.on('close', (code, sig) => {
      clearInterval(poll);
      clearTimeout(timer);
      resolve({ code, signal: sig, at, stderr });
    });
  });
}

/** A kdump file (or split part) left by a killed run: flagged, and every page it holds right. */
function expectKilledKdump(file: string, vmcore: string): number {
  const d = KdumpVmcore.open(file);
  try {
    expect(d.incomplete, `${file}: status 0x${d.header.status.toString(16)} lacks the incomplete flag`).to.equal(true);
  } finally {
    d.close();
  }
  const pages = verifyPagesAgainstVmcore(file, vmcore).pages;
  if (pages > 0) libkdumpfileSample(file, vmcore, 400);
  return pages;
}

/** An ELF file left by a killed run: e_flags bit 0 set, every PT_LOAD byte right (none before the first segment's data). */
function expectKilledElf(file: string, vmcore: string): number {
  const ehdr = Buffer.alloc(64);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, ehdr, 0, 64, 0);
  } finally {
    fs.closeSync(fd);
  }
  expect(ehdr.readUInt32LE(48) & 1, `${file}: e_flags bit 0 (incomplete) not set`).to.equal(1);
  if (!phdrTypes(file).includes(1)) return 0;
  return expectIncompleteElf(file, vmcore);
}

/** p_type of every program header of an ELF64 file. */
function phdrTypes(file: string): number[] {
  const b = Buffer.alloc(1 << 20);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, b, 0, b.length, 0);
  } finally {
    fs.closeSync(fd);
  }
  const phnum = b.readUInt16LE(56);
  const types: number[] = [];
  for (let i = 0; i < phnum && 64 + 56 * (i + 1) <= b.length; i++) types.push(b.readUInt32LE(64 + 56 * i));
  return types;
}

describe('SIGKILL at points spread over -c, -l, -E and --split runs: every file left says incomplete, every page it holds is right', function () {
  this.timeout(180_000);
  let dir: string;
  let vmcore: string;
  const all = process.env.CYCLODUMP_SIGKILL_ALL === '1';

  before(function () {
    dir = scratchDir('sigkill');
    vmcore = fixtureVmcore('real-1g');
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function killAndCheck(mode: Mode, point: number, signal: NodeJS.Signals): Promise<void> {
    const outs = Array.from({ length: mode.files }, (_, i) => path.join(dir, `out${i}`));
    for (const o of outs) fs.rmSync(o, { force: true });
    const bytes = Math.round(point * mode.fullBytes);
    const r = await runAndKill([...mode.args, vmcore], outs, bytes, signal);
    expect(r.at, `the signal was sent before the run ended (stderr: ${r.stderr})`).to.be.at.least(0);
    expect(r.signal, r.stderr).to.equal(signal);
    let pages = 0;
    for (const o of outs) {
      expect(fs.statSync(o).size, `${o} is empty: it says nothing`).to.be.greaterThan(0);
      pages += mode.name === '-E' ? expectKilledElf(o, vmcore) : expectKilledKdump(o, vmcore);
    }
    // a kill in the second half of pass 2 leaves pages (a kill in pass 1 leaves headers
    // only; descriptors are gathered 8,192 pages at a time, so an early kill may leave data
    // that no descriptor points at yet: those pages read as not in the file)
    if (point >= 0.45) expect(pages, 'pages in the files left').to.be.greaterThan(0);
  }

  for (const mode of MODES) {
    for (const point of POINTS) {
      const key = `${mode.name}:${point}`;
      const run = all || SAMPLE.has(key) ? it : it.skip;
      run(`${mode.name}: SIGKILL at ${point === 0 ? 'the first byte (pass 1)' : `${point * 100}% of the output`}`, async function () {
        await killAndCheck(mode, point, 'SIGKILL');
      });
    }
  }

  for (const [signal, mode, point] of [['SIGQUIT', MODES[1], 0.4], ['SIGUSR2', MODES[2], 0.5], ['SIGALRM', MODES[3], 0.5]] as const) {
    it(`${signal} (not caught: the process ends as under SIGKILL), ${mode.name} at ${point * 100}%`, async function () {
      await killAndCheck(mode, point, signal);
    });
  }
});

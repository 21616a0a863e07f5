// SIGTERM (and SIGINT, and a second signal) at ten points of a dump of real-1g, chosen by
// how much of the output is on disk: the run stops at the next batch, exits 1 with one
// line, and leaves nothing (no page written yet) or a file flagged incomplete that our
// reader and libkdumpfile open, every page of which equals the vmcore's.
import { expect } from 'chai';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { errorLines, expectIncompleteKdump } from '../helpers/faults';
import { fixtureVmcore, scratchDir } from '../helpers/fixtures';
import { BIN } from '../helpers/paths';

const MiB = 1 << 20;

interface Stopped {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  /** bytes of the output allocated when the (first) signal was sent; -1: not sent */
  at: number;
}

/** Runs cyclodump and sends `signals` once `bytes` of the output are allocated (0: once it exists). */
function runAndSignal(args: string[], out: string, bytes: number, signals: NodeJS.Signals[]): Promise<Stopped> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args, out], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('latin1');
    child.stderr.on('data', (d: string) => { stderr += d; });
    let at = -1;
    const poll = setInterval(() => {
      let st: fs.Stats;
      try {
        st = fs.statSync(out);
      } catch {
        return;
      }
      const allocated = st.blocks * 512;
      if (allocated < bytes) return;
      clearInterval(poll);
      at = allocated;
      for (const s of signals) child.kill(s);
    }, 2);
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${args.join(' ')}: no end after 120 s`)); }, 120_000);
    // 'close': the process has ended and its stderr is read to the end
    child.on('close', (code, signal) => {
      clearInterval(poll);
      clearTimeout(timer);
      resolve({ code, signal, stderr, at });
    });
  });
}

describe('signals: SIGTERM at ten points, SIGINT, a second signal', function () {
  let dir: string;
  let vmcore: string;

  before(function () {
    dir = scratchDir('signals');
    vmcore = fixtureVmcore('real-1g');
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const points: { args: string[]; bytes: number; why: string }[] = [
    { args: ['-l', '-d', '31'], bytes: 0, why: 'in pass 1 (the mem_map scan)' },
    { args: ['-l', '-d', '31'], bytes: 1 * MiB, why: 'early in pass 2' },
    { args: ['-l', '-d', '31'], bytes: 5 * MiB, why: 'pass 2' },
    { args: ['-l', '-d', '31'], bytes: 12 * MiB, why: 'pass 2' },
    { args: ['-c', '-d', '31'], bytes: 8 * MiB, why: 'pass 2, zlib' },
    { args: ['-l', '-d', '1'], bytes: 200 * 1024, why: 'first batches' },
    { args: ['-l', '-d', '1'], bytes: 20 * MiB, why: 'pass 2' },
    { args: ['-l', '-d', '1'], bytes: 60 * MiB, why: 'pass 2' },
    { args: ['-l', '-d', '1'], bytes: 110 * MiB, why: 'half way' },
    { args: ['-l', '-d', '1'], bytes: 160 * MiB, why: 'late' },
  ];

  for (const p of points) {
    it(`SIGTERM ${p.why} (${p.args.join(' ')}, ${(p.bytes / MiB).toFixed(1)} MiB written): exit 1, nothing or a flagged, correct file`, async function () {
      const out = path.join(dir, 'dump');
      fs.rmSync(out, { force: true });
      const r = await runAndSignal([...p.args, vmcore], out, p.bytes, ['SIGTERM']);
      expect(r.at, 'the signal was sent').to.be.at.least(0);
      expect(r.code, r.stderr).to.equal(1);
      expect(r.stderr).to.not.match(/\n\s+at /);
      const lines = errorLines(r.stderr);
      expect(lines[lines.length - 1]).to.equal('cyclodump: interrupted by SIGTERM');
      if (p.bytes === 0) {
        // during pass 1 nothing is written: no file is left
        expect(fs.existsSync(out), 'no file after a signal in pass 1').to.equal(false);
        expect(lines).to.have.length(1);
        return;
      }
      expect(lines[0]).to.contain('is incomplete (marked so in its header) but readable');
      const c = expectIncompleteKdump(out, vmcore);
      expect(c.pages).to.be.greaterThan(0);
    });
  }

  it('SIGINT: the same', async function () {
    const out = path.join(dir, 'dump-int');
    const r = await runAndSignal(['-l', '-d', '31', vmcore], out, 4 * MiB, ['SIGINT']);
    expect(r.code, r.stderr).to.equal(1);
    expect(errorLines(r.stderr).pop()).to.equal('cyclodump: interrupted by SIGINT');
    expect(expectIncompleteKdump(out, vmcore).pages).to.be.greaterThan(0);
  });

  it('a second signal ends the run at once (128 + its number), the file still flagged and correct', async function () {
    const out = path.join(dir, 'dump-twice');
    // two different signals: the kernel merges a second SIGTERM that is still pending
    const r = await runAndSignal(['-l', '-d', '1', vmcore], out, 40 * MiB, ['SIGTERM', 'SIGINT']);
    expect(r.code, r.stderr).to.be.oneOf([130, 143]);
    expect(expectIncompleteKdump(out, vmcore).pages).to.be.greaterThan(0);
  });
});

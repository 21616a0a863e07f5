// A pool worker that throws or dies under a task (preloaded fault, test/helpers/
// worker-fault.ts): the run ends, never hangs, with one clear line and exit 1; in pass 1
// nothing is left, in pass 2 the file is flagged incomplete and every page in it is right.
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { errorLines, expectIncompleteKdump, synthVmcore } from '../helpers/faults';
import { fixtureVmcore, scratchDir } from '../helpers/fixtures';
import { BIN, REPO } from '../helpers/paths';

const PRELOAD = path.join(REPO, 'dist', 'test', 'helpers', 'worker-fault.js');

describe('worker faults: a failing or dying pool worker ends the run cleanly', function () {
  let dir: string;
  let vmcore: string;
  let big: string;

  before(async function () {
    dir = scratchDir('worker-fault');
    vmcore = fixtureVmcore('real-1g');
    // pass 1 runs on the pool only for a mem_map above SMALL_SCAN_BYTES (32 MiB): 4 GiB of
    // synthetic RAM has 64 MiB of struct pages
    big = await synthVmcore(4096);
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const cases: { fault: string; message: RegExp; left: 'deleted' | 'incomplete' }[] = [
    { fault: 'scan:throw:1', message: /^cyclodump: internal error: injected scan fault$/, left: 'deleted' },
    { fault: 'scan:exit:2', message: /^cyclodump: internal error: worker exited with code: 3$/, left: 'deleted' },
    { fault: 'compress:throw:4', message: /^cyclodump: internal error: injected compress fault$/, left: 'incomplete' },
    { fault: 'compress:exit:4', message: /^cyclodump: internal error: worker exited with code: 3$/, left: 'incomplete' },
  ];

  for (const c of cases) {
    it(`${c.fault}: exit 1, one line, ${c.left === 'deleted' ? 'no file' : 'a flagged, correct file'}, no hang`, function () {
      const out = path.join(dir, c.fault.replace(/:/g, '-'));
      const input = c.fault.startsWith('scan') ? big : vmcore;
      const r = spawnSync(process.execPath, ['-r', PRELOAD, BIN, '-l', '-d', '31', '--num-threads', '2', input, out], {
        env: { ...process.env, CYCLODUMP_WORKER_FAULT: c.fault }, encoding: 'latin1', timeout: 120_000,
      });
      expect(r.signal, 'the run ended by itself').to.equal(null);
      expect(r.status, r.stderr).to.equal(1);
      expect(r.stderr).to.not.match(/\n\s+at /);
      const lines = errorLines(r.stderr);
      expect(lines[lines.length - 1]).to.match(c.message);
      if (c.left === 'deleted') {
        expect(fs.existsSync(out)).to.equal(false);
        return;
      }
      expect(lines).to.have.length(2);
      expect(lines[0]).to.contain('is incomplete (marked so in its header) but readable');
      expect(expectIncompleteKdump(out, input).pages).to.be.greaterThan(0);
    });
  }
});

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

// without a codec the pages go to a pool of Node workers (those of a codec, to the native
// page loop's own threads)
describe('worker faults: a failing or dying pool worker ends the run cleanly', function () {
  let dir: string;
  let vmcore: string;
  let big: string;

  before(async function () {
    dir = scratchDir('worker-fault');
    vmcore = fixtureVmcore('real-1g');
    // the coordinator scans slices itself until the workers are ready (the preload makes it
    // wait for them on its first slice): 16 GiB of synthetic RAM has 256 MiB of struct pages
    // (16 slices), so each worker takes slices; a worker's first slice is certain to be its own
    big = await synthVmcore(16384);
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const cases: { fault: string; message: RegExp; left: 'deleted' | 'incomplete' }[] = [
    { fault: 'scan:throw:1', message: /^cyclodump: internal error: injected scan fault$/, left: 'deleted' },
    { fault: 'scan:exit:1', message: /^cyclodump: internal error: worker exited with code: 3$/, left: 'deleted' },
    { fault: 'compress:throw:4', message: /^cyclodump: internal error: injected compress fault$/, left: 'incomplete' },
    { fault: 'compress:exit:4', message: /^cyclodump: internal error: worker exited with code: 3$/, left: 'incomplete' },
  ];

  // a worker that cannot start fails its warm-up, before any work went to the pool: the run
  // goes on on one thread and its dump is whole
  for (const fault of ['start:throw:1', 'start:exit:1']) {
    it(`${fault}: one warning, exit 0, the same file as without threads`, function () {
      const out = path.join(dir, fault.replace(/:/g, '-'));
      const r = spawnSync(process.execPath, ['-r', PRELOAD, BIN, '-d', '31', '--num-threads', '2', vmcore, out], {
        env: { ...process.env, CYCLODUMP_WORKER_FAULT: fault }, encoding: 'latin1', timeout: 120_000,
      });
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stderr).to.not.match(/\n\s+at /);
      const lines = errorLines(r.stderr);
      expect(lines[0]).to.match(/^warning: worker threads could not start \((injected start fault|worker exited with code: 3)\); the dump runs on one thread$/);
      const one = path.join(dir, 'one-thread');
      if (!fs.existsSync(one)) {
        const o = spawnSync(process.execPath, [BIN, '-d', '31', '--num-threads', '1', vmcore, one], { encoding: 'latin1' });
        expect(o.status, o.stderr).to.equal(0);
      }
      expect(fs.readFileSync(out).equals(fs.readFileSync(one)), 'the same bytes as a one-thread run').to.equal(true);
    });
  }

  for (const c of cases) {
    it(`${c.fault}: exit 1, one line, ${c.left === 'deleted' ? 'no file' : 'a flagged, correct file'}, no hang`, function () {
      const out = path.join(dir, c.fault.replace(/:/g, '-'));
      const input = c.fault.startsWith('scan') ? big : vmcore;
      const started = path.join(dir, `${c.fault.replace(/:/g, '-')}.started`);
      const r = spawnSync(process.execPath, ['-r', PRELOAD, BIN, '-d', '31', '--num-threads', '2', input, out], {
        env: {
          ...process.env, CYCLODUMP_WORKER_FAULT: c.fault,
          CYCLODUMP_WORKER_FAULT_STARTED: started, CYCLODUMP_WORKER_FAULT_THREADS: '2',
        },
        encoding: 'latin1', timeout: 120_000,
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

// The limits a run reads from /proc and the threads they leave room for (the figures are the
// measured ones of src/util/limits.ts; test/faults/resource-limits.test.ts runs the CLI under them).
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import {
  COORDINATOR_ADDRESS_RESERVE, FDS_PER_WORKER, FDS_TRANSIENT, WORKER_ADDRESS_BYTES, openDescriptors, parseLimits, threadBudget,
} from '../../src/util/limits';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            28                   4096                 files
Max locked memory         8388608              8388608              bytes
Max address space         2147483648           unlimited            bytes
`;

describe('util/limits: resource limits and the threads they leave room for', function () {
  it('reads the soft values of /proc/self/limits; unlimited is Infinity', function () {
    expect(parseLimits(LIMITS)).to.deep.equal({ openFiles: 28, addressSpace: 2147483648 });
    expect(parseLimits(LIMITS.replace('2147483648', 'unlimited  '))).to.deep.equal({ openFiles: 28, addressSpace: Infinity });
    expect(parseLimits('')).to.deep.equal({ openFiles: Infinity, addressSpace: Infinity });
  });

  it('reads this process\'s own limits as the shell set them', function () {
    const r = spawnSync('sh', ['-c', 'ulimit -n 77; exec "$NODE" -e "console.log(JSON.stringify(require(process.env.LIMITS).readLimits()))"'], {
      encoding: 'utf8', env: { ...process.env, NODE: process.execPath, LIMITS: require.resolve('../../src/util/limits') },
    });
    expect(r.status, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout).openFiles).to.equal(77);
  });

  it('counts the descriptors below the limit only, without the one that lists them', function () {
    const n = openDescriptors(1 << 20);
    expect(n).to.be.greaterThan(2);
    const fd = fs.openSync(__filename, 'r');
    try {
      expect(openDescriptors(1 << 20)).to.equal(n + 1);
      // one inherited above the limit takes no slot
      expect(openDescriptors(fd)).to.be.lessThan(n + 1);
    } finally {
      fs.closeSync(fd);
    }
  });

  const free = { openFiles: Infinity, addressSpace: Infinity };
  it('leaves the wanted threads alone when nothing is limited', function () {
    expect(threadBudget({ outputFiles: 1, wanted: 8 }, free, 19, 800 << 20, false)).to.deep.equal({ threads: 8, reason: undefined });
  });

  it('refuses a run whose own descriptors do not fit, with one line', function () {
    const b = threadBudget({ outputFiles: 1, wanted: 2 }, { ...free, openFiles: 20 }, 19, 0, false);
    expect(b.refusal).to.equal('too few file descriptors: the limit is 20 (ulimit -n) and this dump needs 21');
    expect(threadBudget({ outputFiles: 1, wanted: 1 }, { ...free, openFiles: 21 }, 19, 0, false).refusal).to.equal(undefined);
    // --split: one descriptor per output
    expect(threadBudget({ outputFiles: 3, wanted: 1 }, { ...free, openFiles: 22 }, 19, 0, false).refusal).to.match(/needs 23$/);
  });

  it('gives each worker its descriptors, and one worker is no pool', function () {
    const one = 19 + 1 + FDS_TRANSIENT;
    const at = (openFiles: number) => threadBudget({ outputFiles: 1, wanted: 4 }, { ...free, openFiles }, 19, 0, false);
    expect(at(one + 2 * FDS_PER_WORKER - 1).threads).to.equal(1);
    expect(at(one + 2 * FDS_PER_WORKER).threads).to.equal(2);
    expect(at(one + 2 * FDS_PER_WORKER).reason).to.equal(`the open-file limit (ulimit -n ${one + 2 * FDS_PER_WORKER}) leaves room for 2 worker threads`);
    expect(at(one + 4 * FDS_PER_WORKER)).to.deep.equal({ threads: 4, reason: undefined });
  });

  it('gives each worker its address space', function () {
    const mapped = 1800 << 20;
    const at = (mb: number) => threadBudget({ outputFiles: 1, wanted: 4 }, { ...free, addressSpace: mb * 2 ** 20 }, 19, mapped, false).threads;
    const base = (mapped + COORDINATOR_ADDRESS_RESERVE) / 2 ** 20;
    expect(at(base + 2 * WORKER_ADDRESS_BYTES / 2 ** 20 - 1)).to.equal(1);
    expect(at(base + 2 * WORKER_ADDRESS_BYTES / 2 ** 20)).to.equal(2);
    expect(at(base + 4 * WORKER_ADDRESS_BYTES / 2 ** 20)).to.equal(4);
    // less than the coordinator's own reserve: no pool, and no refusal (one thread is tried)
    expect(at(1000)).to.equal(1);
  });
});

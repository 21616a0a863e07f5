// Preloaded (node -r) into a cyclodump run by the worker-fault tests: in each pool worker
// thread, the Nth task of one kind fails. CYCLODUMP_WORKER_FAULT=KIND:HOW:N, KIND being
// scan or compress, or start (the worker's set-up: opening the input, loading its codec),
// HOW throw (the task rejects) or exit (the worker thread dies under it).
// Test code only: nothing in src/ knows about it.
//
// The coordinator scans slices and compresses batches itself until every worker has
// started, so whether a worker ever gets a task would depend on how fast threads start on
// the machine (without a codec pass 2 can end before they have). CYCLODUMP_WORKER_FAULT_STARTED
// names a file each worker appends a byte to once it has set up, and the coordinator's
// first scan slice (scan faults) or first batch (compress faults) waits until
// CYCLODUMP_WORKER_FAULT_THREADS have: the pool is then ready for the next, and the
// workers get the rest.
import * as fs from 'fs';
import { isMainThread } from 'worker_threads';

/* eslint-disable @typescript-eslint/no-var-requires */
function wrap(file: string, name: string, around: (real: (...a: unknown[]) => unknown, args: unknown[]) => unknown): void {
  const mod = require(file) as Record<string, unknown>;
  const real = mod[name] as (...args: unknown[]) => unknown;
  mod[name] = (...args: unknown[]): unknown => around(real, args);
}

const spec = process.env.CYCLODUMP_WORKER_FAULT;
const startedFile = process.env.CYCLODUMP_WORKER_FAULT_STARTED;
const threads = Number(process.env.CYCLODUMP_WORKER_FAULT_THREADS ?? 0);

if (spec) {
  const [kind, how, nth] = spec.split(':');
  if (isMainThread) {
    // bin/cyclodump runs the start-up bundle, which holds its own copy of every module: the
    // coordinator's scan is wrapped only where the CLI loads from dist/src one by one
    wrap('../../src/cli/launch', 'loadCli', () => require('../../src/cli/main'));
    // the coordinator's first scan slice, or its first pass-2 batch, waits for the workers
    const first: Record<string, [string, string]> = {
      scan: ['../../src/pipeline/scan-task', 'runScanTask'],
      compress: ['../../src/pipeline/page-batch', 'compressBatch'],
    };
    if (first[kind] && startedFile && threads > 0) {
      let waited = false;
      wrap(first[kind][0], first[kind][1], (real, args) => {
        if (!waited) {
          waited = true;
          const deadline = Date.now() + 60_000;
          const tick = new Int32Array(new SharedArrayBuffer(4));
          const count = (): number => (fs.existsSync(startedFile) ? fs.statSync(startedFile).size : 0);
          while (count() < threads && Date.now() < deadline) Atomics.wait(tick, 0, 0, 10);
        }
        return real(...args);
      });
    }
  } else {
    const n = Number(nth);
    const targets: Record<string, [string, string]> = {
      scan: ['../../src/pipeline/scan-task', 'runScanTask'],
      compress: ['../../src/pipeline/page-batch', 'compressBatch'],
      start: ['../../src/pipeline/setup', 'createWorkerContext'],
    };
    const [file, name] = targets[kind];
    let calls = 0;
    wrap(file, name, (real, args) => {
      if (++calls === n) {
        if (how === 'exit') process.exit(3);
        throw new Error(`injected ${kind} fault`);
      }
      return real(...args);
    });
    if (startedFile && kind !== 'start') {
      wrap('../../src/pipeline/setup', 'createWorkerContext', (real, args) => {
        const ctx = real(...args);
        fs.appendFileSync(startedFile, 'x');
        return ctx;
      });
    }
  }
}

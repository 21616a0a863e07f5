// Preloaded (node -r) into a cyclodump run by the worker-fault tests: in each pool worker
// thread, the Nth task of one kind fails. CYCLODUMP_WORKER_FAULT=KIND:HOW:N, KIND being
// scan or compress, HOW throw (the task rejects) or exit (the worker thread dies under it).
// Test code only: nothing in src/ knows about it.
import { isMainThread } from 'worker_threads';

const spec = process.env.CYCLODUMP_WORKER_FAULT;
if (!isMainThread && spec) {
  const [kind, how, nth] = spec.split(':');
  const n = Number(nth);
  /* eslint-disable @typescript-eslint/no-var-requires */
  const mod = kind === 'scan'
    ? require('../../src/pipeline/scan-task') as Record<string, unknown>
    : require('../../src/pipeline/page-batch') as Record<string, unknown>;
  const name = kind === 'scan' ? 'runScanTask' : 'compressBatch';
  const real = mod[name] as (...args: unknown[]) => unknown;
  let calls = 0;
  mod[name] = (...args: unknown[]): unknown => {
    if (++calls === n) {
      if (how === 'exit') process.exit(3);
      throw new Error(`injected ${kind} fault`);
    }
    return real(...args);
  };
}

// Pass 2's batch queue (src/pipeline/batch-queue.ts) on a stand-in executor that compresses
// on this thread, as with one CPU: every promise settles at once, so only the queue itself
// gives the event loop a turn. Without one, the callbacks of background work (the fdatasync
// before a group of descriptors, whose descriptors then stay in memory until pass 2 ends)
// and signal handlers would wait for the whole of pass 2.
import { expect } from 'chai';
import { BatchQueue } from '../../src/pipeline/batch-queue';
import type { Executor } from '../../src/pipeline/executor';
import type { PageBatch, PageBatchResult } from '../../src/pipeline/page-batch';

/** Busy for `ms` on this thread, as compressing a batch is. */
function busy(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) { /* spin */ }
}

function inlineExecutor(msPerBatch: number): Executor {
  return {
    threads: 1,
    inline: true,
    scan: () => Promise.reject(new Error('not used')),
    zeroScan: () => Promise.reject(new Error('not used')),
    compress: (b: PageBatch): Promise<PageBatchResult> => {
      busy(msPerBatch);
      return Promise.resolve({ seq: b.seq, count: 0, sizes: new Int32Array(0), flags: new Uint8Array(0), data: new ArrayBuffer(8), dataLen: 0, zeroPages: 0 } as unknown as PageBatchResult);
    },
    close: () => Promise.resolve(),
  };
}

function batch(): PageBatch {
  return { seq: 0, pfnStart: 0, pfnEnd: 8, bitmap: new Uint8Array(1), count: 0 };
}

describe('pipeline/batch-queue: pass 2 on one thread', function () {
  it('gives the event loop a turn at least every 50 ms, so that I/O callbacks run during pass 2', async function () {
    const queue = new BatchQueue(inlineExecutor(5), () => Promise.resolve(), () => undefined);
    let ranAt = -1;
    let pushed = 0;
    setImmediate(() => { ranAt = pushed; });
    // 60 batches of 5 ms: 300 ms of work
    for (; pushed < 60; pushed++) await queue.push(batch(), pushed);
    await queue.drain();
    expect(ranAt, 'the callback ran before pass 2 ended').to.be.within(0, 59);
    expect(ranAt, 'within about 50 ms of work (10 batches)').to.be.at.most(15);
  });

  it('does not turn the loop for every batch when batches are quick', async function () {
    const queue = new BatchQueue(inlineExecutor(0), () => Promise.resolve(), () => undefined);
    let turns = 0;
    let stop = false;
    const count = (): void => { if (!stop) { turns++; setImmediate(count); } };
    setImmediate(count);
    for (let i = 0; i < 2000; i++) await queue.push(batch(), i);
    await queue.drain();
    stop = true;
    expect(turns).to.be.below(50);
  });

  it('afterStored: runs once the batches pushed before it are handed to the store, before any later one', async function () {
    // a pool-like executor: results settle later, so batches stay in flight
    const executor: Executor = { ...inlineExecutor(0), threads: 2, inline: false };
    const events: string[] = [];
    const queue = new BatchQueue(executor, (q) => { events.push(`store ${q.index}`); return Promise.resolve(); }, () => undefined);
    for (let i = 0; i < 3; i++) await queue.push(batch(), i);
    queue.afterStored(() => events.push('mark'));
    expect(events, 'nothing waited for at the mark').to.not.include('mark');
    for (let i = 3; i < 10; i++) await queue.push(batch(), i);
    await queue.drain();
    expect(events.indexOf('mark')).to.equal(events.indexOf('store 2') + 1);
    expect(events.filter((e) => e === 'mark')).to.have.length(1);
    const empty = new BatchQueue(executor, () => Promise.resolve(), () => undefined);
    let now = false;
    empty.afterStored(() => { now = true; });
    expect(now, 'with nothing in flight, at once').to.equal(true);
  });
});

// Runs pass 1 and pass 2 work units: on this thread (one usable CPU: threads that cannot
// run in parallel only cost), or on a piscina pool of worker_threads.
import * as path from 'path';
import type { ScanResult } from '../filter/page-scan';
import type { PageBatch, PageBatchResult } from './page-batch';
import { asyncBatchesFit, compressBatch, compressBatchAsync } from './page-batch';
import type { ScanTask, ZeroScanResult } from './scan-task';
import { runScanTask, runZeroScanTask } from './scan-task';
import type { WorkerContext, WorkerSetup } from './setup';
import type { CodecName } from '../codec';
import { checkInterrupted } from '../util/interrupt';
import { WORKER_CODE_RANGE_MB } from '../util/limits';

/**
 * Scan slices run on this thread one per event-loop turn, not all in one go: a signal
 * (seen only when the loop polls) then stops pass 1 within one slice, before a byte of
 * the dump is written.
 */
class InlineScanQueue {
  private readonly queue: { task: ScanTask; resolve: (r: ScanResult) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;

  constructor(private readonly ctx: WorkerContext) {}

  run(task: ScanTask): Promise<ScanResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ task, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const item = this.queue.shift()!;
      try {
        checkInterrupted();
        item.resolve(runScanTask(this.ctx, item.task));
      } catch (e) {
        item.reject(e);
      }
      this.schedule();
    });
  }
}

export interface Executor {
  readonly threads: number;
  /** compress() has done its batch when it returns (this thread, with the native loop's own threads) */
  readonly inline?: boolean;
  scan(task: ScanTask): Promise<ScanResult>;
  zeroScan(task: ScanTask): Promise<ZeroScanResult>;
  compress(batch: PageBatch): Promise<PageBatchResult>;
  /** pass 2's thread count from its measured work (pool executors) */
  fitPass2?(work: Pass2Work): void;
  close(): Promise<void>;
}

export class InlineExecutor implements Executor {
  /**
   * With more than one thread for the native page loop, batches go to libuv's pool, one
   * per pool thread (compressBatchAsync), while this thread cuts and writes others; else
   * compress() does its batch here before it returns.
   */
  private readonly asyncBatches: boolean;
  private readonly scans: InlineScanQueue;
  constructor(private readonly ctx: WorkerContext) {
    this.scans = new InlineScanQueue(ctx);
    this.asyncBatches = (ctx.pageThreads ?? 1) > 1 && asyncBatchesFit(ctx);
  }

  get inline(): boolean {
    return !this.asyncBatches;
  }

  /** this thread, or the native page loop's threads that take its batches */
  get threads(): number {
    return this.ctx.pageThreads ?? 1;
  }

  scan(task: ScanTask): Promise<ScanResult> {
    return this.scans.run(task);
  }

  zeroScan(task: ScanTask): Promise<ZeroScanResult> {
    return Promise.resolve(runZeroScanTask(this.ctx, task));
  }

  compress(batch: PageBatch): Promise<PageBatchResult> {
    if (this.asyncBatches && !batch.fromInput) return compressBatchAsync(this.ctx, batch);
    return Promise.resolve(compressBatch(this.ctx, batch));
  }

  async close(): Promise<void> {
    // the context belongs to the caller
  }
}

/**
 * The pool, with this thread standing in for it until it has started: workers start while
 * the coordinator scans, and get work only once every one has loaded and opened the input
 * (its warm-up task). Until then a scan slice or a page batch runs here, so neither pass
 * waits for the pool's start-up; then this thread only hands out work and writes. A worker
 * that cannot start (no descriptor, no thread, no memory for its isolate) fails its
 * warm-up; no work has gone to the pool then, so the run goes on on this thread, said in
 * one warning through `fellBack`: no page is ever handed to a pool that did not start.
 */
export class PoolExecutor implements Executor {
  // piscina is loaded only when threads are used: it is not free to start
  private pool?: import('piscina').Piscina;
  private readonly scans: InlineScanQueue;
  /** the threads that run here instead, once the pool could not start */
  private fallback?: InlineExecutor;
  /** settled when every worker has started and opened the input, or the pool was given up */
  private readonly started: Promise<void>;
  /** every worker has started: work goes to the pool */
  private poolReady = false;
  /** pool tasks given out and not yet settled */
  private busy = 0;
  private readonly pendingScans: { task: ScanTask; resolve: (r: ScanResult) => void; reject: (e: unknown) => void }[] = [];
  private scanningHere = false;
  /** pass 2 on this thread alone: set by fitPass2 when the measured work cannot pay for a hand-off */
  private pass2Here = false;

  constructor(private readonly poolThreads: number, setup: WorkerSetup, private readonly local: WorkerContext,
    private readonly fellBack: (why: string) => void) {
    this.scans = new InlineScanQueue(local);
    let warm: Promise<unknown>[];
    try {
      const pool = startPool(poolThreads, setup);
      this.pool = pool;
      // a worker that fails with no task of its own reports on the pool: the warm-up
      // tasks below report it too, so this only keeps Node from throwing it
      pool.on('error', () => undefined);
      // each worker loads its modules and opens the input now, not under its first task
      warm = Array.from({ length: poolThreads }, () => pool.run(null, { name: 'warm' }));
    } catch (e) {
      warm = [Promise.reject(e)];
    }
    this.started = Promise.allSettled(warm).then((results) => {
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) return this.giveUp(failed.reason);
      this.poolReady = true;
      this.pump();
    });
  }

  /** threads doing pass 2's page work: the pool's, or this one alone */
  get threads(): number {
    return this.fallback || this.pass2Here ? 1 : this.poolThreads;
  }

  private async giveUp(reason: unknown): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    this.fallback = new InlineExecutor(this.local);
    this.fellBack(`worker threads could not start (${(reason as Error)?.message ?? String(reason)}); the dump runs on one thread`);
    this.pump();
    await pool?.destroy().catch(() => undefined);
  }

  private toPool<T>(task: unknown, name: string, transferList?: ArrayBuffer[]): Promise<T> {
    this.busy++;
    const p = this.pool!.run(task, { name, transferList }) as Promise<T>;
    const done = (): void => {
      this.busy--;
      this.pump();
    };
    p.then(done, done);
    return p;
  }

  /** Scan slices to idle workers once the pool has started; before that (or without it), one at a time here. */
  private pump(): void {
    while (this.pendingScans.length && this.poolReady && this.busy < this.poolThreads) {
      const s = this.pendingScans.shift()!;
      this.toPool<ScanResult>(s.task, 'scan').then(s.resolve, s.reject);
    }
    if (this.pendingScans.length && !this.scanningHere && !this.poolReady) {
      const s = this.pendingScans.shift()!;
      this.scanningHere = true;
      this.scans.run(s.task).then(s.resolve, s.reject).finally(() => {
        this.scanningHere = false;
        this.pump();
      });
    }
  }

  scan(task: ScanTask): Promise<ScanResult> {
    return new Promise((resolve, reject) => {
      this.pendingScans.push({ task, resolve, reject });
      this.pump();
    });
  }

  async zeroScan(task: ScanTask): Promise<ZeroScanResult> {
    await this.started;
    return this.fallback ? this.fallback.zeroScan(task) : this.toPool(task, 'zeroscan');
  }

  compress(batch: PageBatch): Promise<PageBatchResult> {
    // here until the pool has started, and for the whole of pass 2 when the work is too
    // small to hand out
    if (!this.poolReady || this.pass2Here) return Promise.resolve(compressBatch(this.local, batch));
    return this.toPool(batch, 'compress', batch.out ? [batch.out] : undefined);
  }

  /**
   * After pass 1, from the measured work: pass 2 stays on this thread when its pages
   * cannot pay for the hand-off to workers (PASS2_POOL_MIN_US of codec work).
   */
  fitPass2(work: Pass2Work): void {
    this.pass2Here = pass2Micros(work) < PASS2_POOL_MIN_US;
  }

  async close(): Promise<void> {
    await this.started;
    await this.pool?.destroy();
  }
}

/** What pass 2 has to do, known once pass 1 has counted the pages. */
export interface Pass2Work {
  pages: number;
  codec: CodecName;
}

/**
 * CPU time per 4 KiB page of each codec on this project's 2-vCPU reference machine
 * (perf/RESULTS.md: libdeflate 19 us, LZO1X-1 5.4 us; snappy and zstd through their npm
 * bindings 11 and 16 us). A page kept raw costs a zero test and a copy, which workers do
 * not make faster: the kernel's copy into the page cache is most of it.
 */
export const CODEC_MICROS_PER_PAGE: Record<CodecName, number> = { none: 0, lzo: 5.4, zlib: 19, snappy: 11, zstd: 16 };

/**
 * Below this much codec work, workers lose more in hand-offs and cold caches than they
 * gain (real-1g -l -d 31, ~21,000 pages, about 115 ms of LZO: one thread 0.34 s, two 0.37 s).
 */
export const PASS2_POOL_MIN_US = 200_000;

export function pass2Micros(work: Pass2Work): number {
  return work.pages * (CODEC_MICROS_PER_PAGE[work.codec] ?? 0);
}

function startPool(threads: number, setup: WorkerSetup): import('piscina').Piscina {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { Piscina } = require('piscina') as typeof import('piscina');
  return new Piscina({
    filename: path.resolve(__dirname, '../../workers/dump-worker.js'),
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: 60_000,
    workerData: setup,
    // a worker's memory is page buffers and one struct-page chunk; cap it. The snappy and
    // zstd bindings return a new Buffer per page: with a small young generation those are
    // collected every few thousand pages instead of piling up (real-1g -p -d 1, 2
    // threads: peak RSS 186 MiB with V8's default, 136 MiB with 2 MiB). The code range is
    // what a worker reserves most of (512 MiB by default): its code needs a few MiB
    resourceLimits: { maxOldGenerationSizeMb: 256, maxYoungGenerationSizeMb: 2, codeRangeSizeMb: WORKER_CODE_RANGE_MB },
  });
}

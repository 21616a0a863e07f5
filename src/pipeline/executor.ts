// Runs pass 1 and pass 2 work units: on this thread (one usable CPU: threads that cannot
// run in parallel only cost), or on a piscina pool of worker_threads.
import * as path from 'path';
import type { ScanResult } from '../filter/page-scan';
import type { PageBatch, PageBatchResult } from './page-batch';
import { compressBatch } from './page-batch';
import type { ScanTask, ZeroScanResult } from './scan-task';
import { runScanTask, runZeroScanTask } from './scan-task';
import type { WorkerContext, WorkerSetup } from './setup';
import { checkInterrupted } from '../util/interrupt';

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
  scan(task: ScanTask): Promise<ScanResult>;
  zeroScan(task: ScanTask): Promise<ZeroScanResult>;
  compress(batch: PageBatch): Promise<PageBatchResult>;
  close(): Promise<void>;
}

export class InlineExecutor implements Executor {
  readonly threads = 1;
  private readonly scans: InlineScanQueue;
  constructor(private readonly ctx: WorkerContext) {
    this.scans = new InlineScanQueue(ctx);
  }

  scan(task: ScanTask): Promise<ScanResult> {
    return this.scans.run(task);
  }

  zeroScan(task: ScanTask): Promise<ZeroScanResult> {
    return Promise.resolve(runZeroScanTask(this.ctx, task));
  }

  compress(batch: PageBatch): Promise<PageBatchResult> {
    return Promise.resolve(compressBatch(this.ctx, batch));
  }

  async close(): Promise<void> {
    // the context belongs to the caller
  }
}

export class PoolExecutor implements Executor {
  // piscina is loaded only when threads are used: it is not free to start
  private readonly pool: import('piscina').Piscina;

  private readonly inlineScan?: InlineScanQueue;

  /**
   * With `scanHere` (given for a mem_map small enough to scan in about the time a worker
   * takes to start), pass 1 runs on this thread against that context while the workers
   * start and load their modules; pass 2 then finds them ready.
   */
  constructor(readonly threads: number, setup: WorkerSetup, scanHere?: WorkerContext) {
    if (scanHere) this.inlineScan = new InlineScanQueue(scanHere);
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { Piscina } = require('piscina') as typeof import('piscina');
    this.pool = new Piscina({
      filename: path.resolve(__dirname, '../../workers/dump-worker.js'),
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 60_000,
      workerData: setup,
      // a worker's memory is page buffers and one struct-page chunk; cap it. The snappy and
      // zstd bindings return a new Buffer per page: with a small young generation those are
      // collected every few thousand pages instead of piling up (real-1g -p -d 1, 2
      // threads: peak RSS 186 MiB with V8's default, 136 MiB with 2 MiB)
      resourceLimits: { maxOldGenerationSizeMb: 256, maxYoungGenerationSizeMb: 2 },
    });
    // each worker loads its modules and opens the input now, not under its first batch; a
    // failure here shows again, and is reported, on the first real task
    for (let i = 0; i < threads; i++) this.pool.run(null, { name: 'warm' }).catch(() => undefined);
  }

  scan(task: ScanTask): Promise<ScanResult> {
    if (this.inlineScan) return this.inlineScan.run(task);
    return this.pool.run(task, { name: 'scan' });
  }

  zeroScan(task: ScanTask): Promise<ZeroScanResult> {
    return this.pool.run(task, { name: 'zeroscan' });
  }

  compress(batch: PageBatch): Promise<PageBatchResult> {
    const transferList = batch.out ? [batch.out] : undefined;
    return this.pool.run(batch, { name: 'compress', transferList });
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

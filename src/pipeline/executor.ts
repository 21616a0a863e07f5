// Runs pass 1 and pass 2 work units: on this thread (one usable CPU: threads that cannot
// run in parallel only cost), or on a piscina pool of worker_threads.
import * as path from 'path';
import type { ScanResult } from '../filter/page-scan';
import type { PageBatch, PageBatchResult } from './page-batch';
import { compressBatch } from './page-batch';
import type { ScanTask, ZeroScanResult } from './scan-task';
import { runScanTask, runZeroScanTask } from './scan-task';
import type { WorkerContext, WorkerSetup } from './setup';

export interface Executor {
  readonly threads: number;
  scan(task: ScanTask): Promise<ScanResult>;
  zeroScan(task: ScanTask): Promise<ZeroScanResult>;
  compress(batch: PageBatch): Promise<PageBatchResult>;
  close(): Promise<void>;
}

export class InlineExecutor implements Executor {
  readonly threads = 1;
  constructor(private readonly ctx: WorkerContext) {}

  scan(task: ScanTask): Promise<ScanResult> {
    return Promise.resolve(runScanTask(this.ctx, task));
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

  constructor(readonly threads: number, setup: WorkerSetup) {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { Piscina } = require('piscina') as typeof import('piscina');
    this.pool = new Piscina({
      filename: path.resolve(__dirname, '../../workers/dump-worker.js'),
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 60_000,
      workerData: setup,
      // a worker's memory is page buffers and one struct-page chunk; cap it
      resourceLimits: { maxOldGenerationSizeMb: 256 },
    });
  }

  scan(task: ScanTask): Promise<ScanResult> {
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

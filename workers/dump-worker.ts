// piscina worker: a thin entry point that runs pass 1 and pass 2 work units from src/.
import { move, transferableSymbol, valueSymbol, workerData } from 'piscina';
import type { ScanResult } from '../src/filter/page-scan';
import type { PageBatch } from '../src/pipeline/page-batch';
import { compressBatch } from '../src/pipeline/page-batch';
import type { ScanTask, ZeroScanResult } from '../src/pipeline/scan-task';
import { runScanTask, runZeroScanTask } from '../src/pipeline/scan-task';
import { WorkerContext, WorkerSetup, createWorkerContext } from '../src/pipeline/setup';

let ctx: WorkerContext | undefined;
function context(): WorkerContext {
  ctx ??= createWorkerContext(workerData as WorkerSetup);
  return ctx;
}

/** Loads everything a task needs before the first one arrives. */
export function warm(): void {
  context();
}

export function scan(task: ScanTask): ScanResult {
  return runScanTask(context(), task);
}

export function zeroscan(task: ScanTask): ZeroScanResult {
  return runZeroScanTask(context(), task);
}

export function compress(batch: PageBatch): unknown {
  const r = compressBatch(context(), batch);
  // hand the buffers over instead of copying them
  return move({
    [transferableSymbol]: [r.data, r.sizes.buffer, r.flags.buffer, ...(r.inputRuns ? [r.inputRuns.buffer] : [])],
    [valueSymbol]: r,
  } as unknown as ArrayBuffer);
}

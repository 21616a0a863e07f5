// Pass 1 work unit: the mem_map scan of one slice of a cycle, clearing excluded pfns in the
// cycle's shared 2nd bitmap. Slices are whole memory sections, so slices of one cycle
// touch disjoint bytes and run on any thread in any order.
import type { ScanResult } from '../filter/page-scan';
import type { WorkerContext } from './setup';

export interface ScanTask {
  sliceStart: number;
  sliceEnd: number;
  /** the cycle's 2nd bitmap */
  bitmap: SharedArrayBuffer;
  /** byte offset of sliceStart's bit in `bitmap` */
  byteOffset: number;
  byteLength: number;
}

export function runScanTask(ctx: WorkerContext, task: ScanTask): ScanResult {
  if (!ctx.scanner) throw new Error('scan task without a page scanner');
  const view = new Uint8Array(task.bitmap, task.byteOffset, task.byteLength);
  return ctx.scanner.scan(task.sliceStart, task.sliceEnd, view);
}

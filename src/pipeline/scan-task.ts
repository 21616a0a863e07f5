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

export interface ZeroScanResult {
  zeros: number;
  bytesRead: number;
}

/**
 * ELF output only: pages filled with zero leave the 2nd bitmap while it is built (the ELF
 * format has no shared zero page). Reads the slice's dumpable pages and clears zero ones.
 */
export function runZeroScanTask(ctx: WorkerContext, task: ScanTask): ZeroScanResult {
  const view = new Uint8Array(task.bitmap, task.byteOffset, task.byteLength);
  const reader = ctx.reader;
  let zeros = 0;
  let pages = 0;
  reader.forEachDumpable(view, task.sliceEnd - task.sliceStart, task.sliceStart, Infinity, (bit, off, ok) => {
    pages++;
    if (ok && reader.isZero(off)) {
      view[bit >> 3] &= ~(1 << (bit & 7));
      zeros++;
    }
  });
  return { zeros, bytesRead: pages * ctx.setup.pageSize };
}

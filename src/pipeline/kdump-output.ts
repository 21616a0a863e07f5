// Pass 2 for the kdump-compressed format, on the pipeline's side: what a kdump file's
// headers say, taken from the prepared dump (the writer itself is format/kdump-writer.ts),
// and each cycle's 2nd bitmap cut into the batches of pages the pool reads and compresses.
// Spec: kdump-compressed.md §1-§7.
import { CODEC_FLAGS } from '../codec';
import { batchLoops } from '../format/batch-loops';
import { KdumpFileValues, KdumpWriter } from '../format/kdump-writer';
import { countPrstatus } from '../vmcore/notes';
import { BATCH_PAGES, PageBatch } from './page-batch';
import type { PreparedDump } from './prepare';

export { KdumpWriter, BATCH_PAGES };

/** A kdump file's header values for this dump; `extraStatus`: DUMP_DH_* bits to add (-e). */
export function kdumpFileValues(prep: PreparedDump, extraStatus = 0, split?: KdumpFileValues['split']): KdumpFileValues {
  const { plan, kernel: km, input } = prep;
  return {
    pageSize: plan.pageSize, maxMapnr: plan.maxMapnr,
    utsname: km.utsname, crashTime: km.crashTime, nrCpus: countPrstatus(input.notes),
    status: CODEC_FLAGS[plan.worker.codec] | extraStatus,
    physBase: km.physBase, dumpLevel: plan.dumpLevel,
    noteBytes: input.noteBytes, vmcoreinfo: input.vmcoreinfo, split,
  };
}

/** Cuts a cycle's bitmap into batches of at most `maxPages` dumpable pages, each starting at a multiple of 8 pfns. */
export function* batchesOf(bm: Uint8Array, start: number, end: number, maxPages: number,
  from = start, to = end): Generator<PageBatch> {
  // a split boundary need not fall on a byte: mask the partial bytes at both ends
  const firstByte = Math.floor((from - start) / 8);
  const nbytes = Math.ceil((to - start) / 8);
  const headMask = 0xff & (0xff << ((from - start) % 8));
  const tailBits = (to - start) % 8;
  const tailMask = tailBits === 0 ? 0xff : (1 << tailBits) - 1;
  const cutNext = batchLoops().cutBatch;
  const cut = new Int32Array(3);
  let byte = firstByte;
  while (cutNext(bm, byte, nbytes, maxPages, firstByte, headMask, tailMask, cut)) {
    const first = cut[0];
    byte = cut[1];
    const count = cut[2];
    const pfnStart = start + first * 8;
    const pfnEnd = Math.min(start + byte * 8, end);
    const bitmap = bm.slice(first, byte);
    if (first === firstByte) bitmap[0] &= headMask;
    if (byte === nbytes) bitmap[bitmap.length - 1] &= tailMask;
    yield { seq: 0, pfnStart, pfnEnd, bitmap, count };
  }
}

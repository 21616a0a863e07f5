// --split: one dump written as several files at once, each holding the pages of one pfn
// range, the ranges balanced by dumpable pages counted per split block (--splitblock-size).
// Every file is a valid split part: same main header, full bitmaps, a descriptor table sized
// for the whole dump, its own pages from the common data offset. Spec:
// flattened-and-split.md §2.
//
// makedumpfile 1.7.2 means to balance the same way, but its split-block table is never
// filled (write_into_splitblock_table computes each byte and drops it), so it puts every
// page into the first file. The parts here are balanced; --reassemble of either tool's
// parts gives the same dump.
import { popcountBytes } from '../filter/bitmap';
import { KdumpWriter } from '../format/kdump-writer';
import { SplitWriter } from '../format/split-writer';
import { DumpError } from '../util/errors';
import type { Messages } from '../util/messages';
import { Coordinator, DumpOutcome } from './coordinator';
import type { RunOptions } from './dump';
import { kdumpFileValues } from './kdump-output';
import { Outputs } from './outputs';
import { PreparedDump, closeJob, prepareDump } from './prepare';
import { FinishedBitmap, cycleBuffer } from './scan-pass';

const DEFAULT_SPLITBLOCK_BYTES = 1 << 30;

export interface SplitOptions extends RunOptions {
  outputs: string[];
  /** --splitblock-size in KiB */
  splitblockKiB?: number;
}

/** Dumpable pfns per split block, from the finished 2nd bitmap. */
async function splitblockCounts(bitmap: FinishedBitmap, prep: PreparedDump, pfnsPerBlock: number): Promise<Float64Array> {
  const { plan } = prep;
  const counts = new Float64Array(Math.ceil(plan.maxMapnr / pfnsPerBlock));
  const bm = cycleBuffer(plan);
  for (let c = 0; c < plan.numCycles; c++) {
    const cy = await bitmap.read(c, bm, true);
    const view = bm.subarray(0, Math.ceil((cy.end - cy.start) / 8));
    for (let p = cy.start; p < cy.end;) {
      const block = Math.floor(p / pfnsPerBlock);
      const end = Math.min(cy.end, (block + 1) * pfnsPerBlock);
      // blocks are whole bytes of pfns unless the block size is odd; count bit by bit then
      if ((p - cy.start) % 8 === 0 && (end - cy.start) % 8 === 0) {
        counts[block] += popcountBytes(view, (p - cy.start) / 8, (end - cy.start) / 8);
      } else {
        for (let q = p; q < end; q++) {
          const i = q - cy.start;
          if (view[i >> 3] & (1 << (i & 7))) counts[block]++;
        }
      }
      p = end;
    }
  }
  return counts;
}

/** makedumpfile's setup_splitting with a working table: ranges end on split-block boundaries. */
export function splitRanges(counts: Float64Array, pfnsPerBlock: number, maxMapnr: number, numDumpable: number, files: number): { start: number; end: number }[] {
  const ranges: { start: number; end: number }[] = [];
  const need = Math.floor(numDumpable / files);
  let block = 0;
  let end = 0;
  for (let i = 0; i < files - 1; i++) {
    const start = end;
    if (start >= maxMapnr) {
      end = maxMapnr;
    } else {
      let left = need;
      while (block < counts.length && left > 0) {
        left -= counts[block];
        block++;
      }
      end = Math.min(block * pfnsPerBlock, maxMapnr);
    }
    ranges.push({ start, end });
  }
  ranges.push({ start: end, end: maxMapnr });
  return ranges;
}

/** The split set's writer: one part per file, the ranges balanced by dumpable pages per split block. */
async function splitWriter(prep: PreparedDump, bitmap: FinishedBitmap, outputs: Outputs, blockBytes: number,
  extraStatus?: number): Promise<SplitWriter> {
  const pfnsPerBlock = blockBytes / prep.plan.pageSize;
  const counts = await splitblockCounts(bitmap, prep, pfnsPerBlock);
  const ranges = splitRanges(counts, pfnsPerBlock, prep.plan.maxMapnr, bitmap.numDumpable, outputs.sinks.length);
  // the dump's page number of each part's first page: the pages of the blocks before it
  let firstIndex = 0;
  let block = 0;
  return new SplitWriter(outputs.sinks.map((sink, i) => {
    for (; block < counts.length && block * pfnsPerBlock < ranges[i].start; block++) firstIndex += counts[block];
    return new KdumpWriter(sink, kdumpFileValues(prep, extraStatus, { startPfn: ranges[i].start, endPfn: ranges[i].end, firstIndex }));
  }));
}

export async function runSplitDump(opts: SplitOptions, msgs: Messages): Promise<DumpOutcome> {
  if (opts.elf) throw new DumpError('usage', 'Options for splitting dumpfile cannot be used with Elf format.');
  if (opts.flatten) throw new DumpError('usage', '--split cannot be used with -F');
  const prep = prepareDump({ ...opts, numDumpfiles: opts.outputs.length }, msgs);
  let outputs: Outputs;
  const blockBytes = opts.splitblockKiB !== undefined ? opts.splitblockKiB * 1024 : DEFAULT_SPLITBLOCK_BYTES;
  try {
    if (blockBytes <= 0 || blockBytes % prep.plan.pageSize !== 0) {
      throw new DumpError('usage', `the splitblock size must be a positive multiple of the page size (${prep.plan.pageSize} bytes)`);
    }
    outputs = Outputs.openFiles(opts.outputs, opts);
  } catch (e) {
    await closeJob(prep);
    throw e;
  }
  // before pass 1 the parts' ranges are not known: their first headers say split, no pfn, incomplete
  const early = (): void => {
    for (const sink of outputs.sinks) new KdumpWriter(sink, kdumpFileValues(prep, opts.extraStatus, { startPfn: 0, endPfn: 0, firstIndex: 0 })).start();
  };
  return new Coordinator(prep).run(outputs, (bitmap) => splitWriter(prep, bitmap, outputs, blockBytes, opts.extraStatus), early);
}

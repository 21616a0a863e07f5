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
import { FileSink } from '../format/sink';
import { DumpError } from '../util/errors';
import type { Messages } from '../util/messages';
import { checkInterrupted, onForcedExit } from '../util/interrupt';
import { DumpOutcome, RunOptions, markIncomplete, openFileSink, repairShortWrites, unreadPagesError } from './dump';
import { KdumpWriter, writePageStream } from './kdump-output';
import { DumpJob, closeJob, prepareDump } from './prepare';
import { buildReport } from './report';
import { cycleBitmap, cycleBounds, cycleBuffer, scanPass } from './scan-pass';

const DEFAULT_SPLITBLOCK_BYTES = 1 << 30;

export interface SplitOptions extends RunOptions {
  outputs: string[];
  /** --splitblock-size in KiB */
  splitblockKiB?: number;
}

/** Dumpable pfns per split block, from the finished 2nd bitmap. */
async function splitblockCounts(job: DumpJob, pfnsPerBlock: number): Promise<Float64Array> {
  const counts = new Float64Array(Math.ceil(job.maxMapnr / pfnsPerBlock));
  const bm = cycleBuffer(job);
  for (let c = 0; c < job.numCycles; c++) {
    const cy = cycleBounds(job, c);
    const view = bm.subarray(0, Math.ceil((cy.end - cy.start) / 8));
    view.fill(0);
    if (!job.cache.peek(c, view)) await cycleBitmap(job, c, bm);
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

export async function runSplitDump(opts: SplitOptions, msgs: Messages): Promise<DumpOutcome> {
  if (opts.elf) throw new DumpError('usage', 'Options for splitting dumpfile cannot be used with Elf format.');
  if (opts.flatten) throw new DumpError('usage', '--split cannot be used with -F');
  const job = prepareDump({ ...opts, numDumpfiles: opts.outputs.length }, msgs);
  const sinks: FileSink[] = [];
  let parts: KdumpWriter[] = [];
  let started = false;
  let unregister = (): void => {};
  try {
    const blockBytes = opts.splitblockKiB !== undefined ? opts.splitblockKiB * 1024 : DEFAULT_SPLITBLOCK_BYTES;
    if (blockBytes <= 0 || blockBytes % job.pageSize !== 0) {
      throw new DumpError('usage', `the splitblock size must be a positive multiple of the page size (${job.pageSize} bytes)`);
    }
    for (const out of opts.outputs) sinks.push(openFileSink(out, opts));
    await scanPass(job);
    checkInterrupted();
    const pfnsPerBlock = blockBytes / job.pageSize;
    const ranges = splitRanges(await splitblockCounts(job, pfnsPerBlock), pfnsPerBlock, job.maxMapnr, job.numDumpable, opts.outputs.length);
    started = true;
    const writers = sinks.map((sink, i) => new KdumpWriter(job, sink, {
      extraStatus: opts.extraStatus, split: { startPfn: ranges[i].start, endPfn: ranges[i].end },
    }));
    parts = writers;
    unregister = onForcedExit(() => {
      for (let i = 0; i < sinks.length; i++) {
        writers[i].flushWrittenDescriptorsSync();
        repairShortWrites(sinks[i], writers[i].g, job.numDumpable);
        markIncomplete(sinks[i]);
      }
    });
    for (const w of writers) {
      w.writeHeaders();
      w.writeMemoryBitmap();
    }
    await writePageStream(job, writers);
    if (job.stats.unreadPages > 0) throw unreadPagesError(job);
    for (const s of sinks) s.close();
    unregister();
    job.progress.finish();
    return { report: buildReport(job, sinks.reduce((a, s) => a + s.bytesWritten, 0), false) };
  } catch (e) {
    unregister();
    if (!started) {
      for (const s of sinks) s.discard();
      throw e;
    }
    job.progress.finish();
    const err = e instanceof DumpError ? e : new DumpError('internal', `internal error: ${(e as Error)?.message ?? String(e)}`);
    const report = buildReport(job, sinks.reduce((a, s) => a + s.bytesWritten, 0), true);
    // a set none of whose parts holds a page yet is deleted whole (see runDump)
    if (!parts.some((w) => w.written > 0)) {
      for (const s of sinks) s.discard();
      msgs.error(`the dump files ${opts.outputs.join(', ')} held no page yet and were deleted`);
      return { report, error: err };
    }
    // a full disk under any part marks every part incomplete, as makedumpfile does
    let marked = 0;
    for (let i = 0; i < sinks.length; i++) {
      if (parts[i]) repairShortWrites(sinks[i], parts[i].g, job.numDumpable);
      if (markIncomplete(sinks[i])) marked++;
      try { sinks[i].close(); } catch { /* reported below */ }
    }
    if (marked === sinks.length) msgs.error(`the dump files ${opts.outputs.join(', ')} are incomplete (marked so in their headers) but readable`);
    else msgs.error(`the dump files ${opts.outputs.join(', ')} are incomplete; ${sinks.length - marked} of them could not be marked so`);
    return { report, error: err };
  } finally {
    await closeJob(job);
  }
}

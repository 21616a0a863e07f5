// One dump from a prepared plan to its report: pass 1, then pass 2 (every cycle's finished
// 2nd bitmap to the writer, its dumpable pages through the batch queue to the writer in
// order). The coordinator owns what the run counts, the progress line and the one failure
// path; the writer only writes (format/dump-writer.ts).
import { C_ZERO } from '../filter/dump-level';
import { PageDesc } from '../format/diskdump';
import type { DumpGeometry, DumpWriter } from '../format/dump-writer';
import { DumpError } from '../util/errors';
import { checkInterrupted, onForcedExit } from '../util/interrupt';
import { BatchQueue, QueuedBatch } from './batch-queue';
import { BitmapCache } from './bitmap-cache';
import { BATCH_PAGES, batchesOf } from './kdump-output';
import type { Outputs } from './outputs';
import type { PageBatchResult } from './page-batch';
import { PreparedDump, closeJob } from './prepare';
import { Progress } from './progress';
import { DumpReport, buildReport } from './report';
import { FinishedBitmap, cycleBuffer, progressPlan, scanPass } from './scan-pass';
import { Tally } from './tally';

export interface DumpOutcome {
  report: DumpReport;
  /** set when the dump could not be finished; a file output is marked incomplete */
  error?: DumpError;
}

/**
 * Pass 2's writer: given before pass 1 (a dump file may then keep pass 1's 2nd bitmap in
 * its final place), or made once pass 1 has counted the pages (--split needs the counts).
 */
export type WriterSource = DumpWriter | ((bitmap: FinishedBitmap) => DumpWriter | Promise<DumpWriter>);

export class Coordinator {
  readonly tally = new Tally();
  readonly progress: Progress;
  private readonly cache: BitmapCache;

  constructor(private readonly prep: PreparedDump) {
    this.progress = new Progress(prep.msgs);
    this.cache = new BitmapCache(prep.plan.bitmapCacheBytes, prep.plan.workDir);
  }

  /** Runs the dump into `outputs`; closes the prepared dump. A failure before pass 2 is thrown, later ones returned. */
  async run(outputs: Outputs, source: WriterSource): Promise<DumpOutcome> {
    const { plan, msgs } = this.prep;
    let writer = typeof source === 'function' ? undefined : source;
    let bitmap: FinishedBitmap | undefined;
    let started = false;
    let unregister = (): void => {};
    try {
      const store = writer?.bitmapStore?.(plan.cycles.cyclePfns);
      if (store && this.cache.budgetBytes > 0) this.cache.useOutput(store);
      this.progress.begin(progressPlan(plan, true));
      bitmap = await scanPass(this.prep, { tally: this.tally, cache: this.cache, progress: this.progress });
      writer ??= await (source as Exclude<WriterSource, DumpWriter>)(bitmap);
      // a signal during pass 1 ends the run before anything is written
      checkInterrupted();
      started = true;
      const w = writer;
      unregister = onForcedExit(() => { w.markIncomplete(); });
      await this.writePass(w, bitmap);
      if (this.tally.unreadPages > 0) {
        throw new DumpError('read-error',
          `${this.tally.unreadPages} dumpable pages could not be read from ${plan.input}; their descriptors say the data was lost`);
      }
      outputs.close();
      unregister();
      this.progress.finish();
      return { report: this.report(outputs, bitmap, w, false) };
    } catch (e) {
      unregister();
      if (!started) {
        outputs.discard();
        throw e;
      }
      this.progress.finish();
      if (!(e instanceof DumpError)) msgs.debug((e as Error)?.stack ?? String(e));
      const error = e instanceof DumpError ? e : new DumpError('internal', `internal error: ${(e as Error)?.message ?? String(e)}`);
      const report = this.report(outputs, bitmap!, writer!, true);
      outputs.leaveUnfinished(writer!, msgs);
      return { report, error };
    } finally {
      this.progress.stop();
      this.cache.close();
      await closeJob(this.prep);
    }
  }

  private report(outputs: Outputs, bitmap: FinishedBitmap, writer: DumpWriter, incomplete: boolean): DumpReport {
    return buildReport(this.prep, this.tally, bitmap.numDumpable, outputs.bytesWritten, incomplete, writer.elfExcluded);
  }

  /**
   * Pass 2: every cycle's finished bitmap to the writer, in pfn order, and the dumpable
   * pages of its page ranges cut into batches, read and compressed by the executor and
   * handed to the writer in the order they were cut.
   */
  private async writePass(writer: DumpWriter, bitmap: FinishedBitmap): Promise<void> {
    const { plan } = this.prep;
    const t0 = Date.now();
    writer.begin(this.geometry(bitmap));
    if (writer.pageRanges.length > 0) this.progress.setWriteTotal(bitmap.numDumpable);
    const queue = new BatchQueue(this.prep.executor, (q, r) => this.store(writer, q, r), () => writer.failure);
    const bm = cycleBuffer(plan);
    let index = 0;
    try {
      for (let c = 0; c < plan.numCycles; c++) {
        const cy = await bitmap.read(c, bm);
        const view = bm.subarray(0, Math.ceil((cy.end - cy.start) / 8));
        writer.bitmap({ index: c, start: cy.start, end: cy.end, bits: view });
        // a cycle without a dumpable page (a hole in a sparse physical map) has no batch
        if (bitmap.cycleDumpable[c] === 0) continue;
        for (const range of writer.pageRanges) {
          const from = Math.max(range.start, cy.start);
          const to = Math.min(range.end, cy.end);
          if (from >= to) continue;
          for (const batch of batchesOf(view, cy.start, cy.end, BATCH_PAGES, from, to)) {
            checkInterrupted();
            await queue.push(batch, index);
            index += batch.count;
          }
        }
      }
      await queue.drain();
      await writer.finish();
    } finally {
      // on failure, the batches and writes still running end before the pool is torn down
      // and the file marked; the descriptors of pages already on disk are written
      await queue.settle();
      await writer.settle();
    }
    this.tally.writeMs = Date.now() - t0;
  }

  private geometry(bitmap: FinishedBitmap): DumpGeometry {
    const { plan } = this.prep;
    return {
      numDumpable: bitmap.numDumpable,
      cyclePfns: plan.cycles.cyclePfns,
      fillMemory: (view, start) => plan.pfns.fillMemory(view, start),
      progress: {
        total: (pages) => this.progress.setWriteTotal(pages),
        written: (pages, bytesIn, bytesOut) => this.progress.written(pages, bytesIn, bytesOut),
      },
    };
  }

  /** A batch's result: counted, shown, handed to the writer. */
  private store(writer: DumpWriter, q: QueuedBatch, r: PageBatchResult): Promise<void> {
    this.tally.counts[C_ZERO] += r.zeroPages;
    this.tally.unreadPages += r.readErrors;
    this.progress.written(r.count, r.count * this.prep.plan.pageSize, r.dataLen + PageDesc.size * r.count);
    return writer.pages({ pfnStart: q.batch.pfnStart, pfnEnd: q.batch.pfnEnd, index: q.index, pages: r });
  }
}

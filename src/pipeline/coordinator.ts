// One dump from a prepared plan to its report: pass 1, then pass 2 (every cycle's finished
// 2nd bitmap to the writer, its dumpable pages through the batch queue to the writer in
// order). The coordinator owns what the run counts, the progress line and the one failure
// path; the writer only writes (format/dump-writer.ts).
import { C_ZERO } from '../filter/dump-level';
import { PageDesc } from '../format/diskdump';
import type { DumpGeometry, DumpWriter } from '../format/dump-writer';
import { DumpError, NoSpaceError } from '../util/errors';
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
import { WriteOrder } from './write-order';
import { PriorityGroup, groupPages, priorityPages } from '../kernel/priority-pages';

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

  /**
   * Runs the dump into `outputs`; closes the prepared dump. A failure before pass 2 is
   * thrown, later ones returned. `early`: for a writer made after pass 1, writes its
   * outputs' first headers (flagged incomplete) before pass 1, as start() does.
   */
  async run(outputs: Outputs, source: WriterSource, early?: () => void): Promise<DumpOutcome> {
    const { plan, msgs } = this.prep;
    let writer = typeof source === 'function' ? undefined : source;
    let bitmap: FinishedBitmap | undefined;
    let started = false;
    let unregister = (): void => {};
    try {
      // the output says "incomplete" from its first byte: a run killed from here on leaves
      // a file that says what it is, never one that claims to be complete or claims nothing
      writer?.start?.();
      early?.();
      const store = writer?.bitmapStore?.(plan.cycles.cyclePfns);
      if (store && this.cache.budgetBytes > 0) this.cache.useOutput(store);
      this.progress.begin(progressPlan(plan, true));
      bitmap = await scanPass(this.prep, { tally: this.tally, cache: this.cache, progress: this.progress });
      writer ??= await (source as Exclude<WriterSource, DumpWriter>)(bitmap);
      // the default thread count, checked against the measured work
      if (!plan.threadsGiven) this.prep.executor.fitPass2?.({ pages: bitmap.numDumpable, codec: plan.worker.codec });
      // a signal during pass 1 ends the run before anything is written
      checkInterrupted();
      started = true;
      const w = writer;
      unregister = onForcedExit(() => { w.markIncomplete(); });
      await this.writePass(w, bitmap);
      outputs.close();
      unregister();
      this.progress.finish();
      return { report: this.report(outputs, bitmap, w, false) };
    } catch (e) {
      unregister();
      if (!started) {
        // a full disk under the first headers says what became of the file; other failures
        // before pass 2 (bad input, a signal) leave nothing to talk about
        if (e instanceof NoSpaceError) outputs.dropEmpty(msgs);
        else outputs.discard();
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
   * handed to the writer: by default the priority pages first (write-order.ts), with
   * --pfn-order in the order they were cut.
   */
  private async writePass(writer: DumpWriter, bitmap: FinishedBitmap): Promise<void> {
    const t0 = Date.now();
    writer.begin(this.geometry(bitmap));
    if (writer.pageRanges.length > 0) this.progress.setWriteTotal(bitmap.numDumpable);
    const queue = new BatchQueue(this.prep.executor, (q, r) => this.store(writer, q, r), () => writer.failure);
    // without a codec, kept pages stay in the input until the writer's sink copies them
    queue.fromInput = writer.takesRuns === true && this.prep.plan.worker.codec === 'none';
    try {
      const order = this.prep.plan.pfnOrder || writer.pageRanges.length === 0 ? undefined : this.writeOrder();
      if (order) await this.priorityFirstPass(writer, bitmap, queue, order, t0);
      else await this.pfnOrderPass(writer, bitmap, queue);
      await queue.drain();
      // before the writer finishes: a file that lacks pages must never be finished as complete
      this.checkNothingLacks();
      await writer.finish();
    } finally {
      // on failure, the batches and writes still running end before the pool is torn down
      // and the file marked; the descriptors of pages already on disk are written
      await queue.settle();
      await writer.settle();
    }
    this.tally.writeMs = Date.now() - t0;
  }

  /**
   * Throws when the dump lacks pages: some could not be read (their descriptors say the
   * data was lost), or the input itself is an incomplete dump, whose missing pages are
   * missing here too. The file is then marked incomplete like any unfinished one.
   */
  private checkNothingLacks(): void {
    const { plan, input } = this.prep;
    const unread = this.tally.unreadPages;
    if (input.incomplete) {
      throw new DumpError('incomplete-input', `${plan.input} is an incomplete dump (its header says so)`
        + `${unread > 0 ? `, ${unread} of its pages were lost` : ''}: what it lacks, the dump made from it lacks too`);
    }
    if (unread > 0) {
      throw new DumpError('read-error', `${unread} dumpable pages could not be read from ${plan.input}; their descriptors say the data was lost`);
    }
  }

  /** makedumpfile's order: each cycle's bitmap, then its pages in pfn order. */
  private async pfnOrderPass(writer: DumpWriter, bitmap: FinishedBitmap, queue: BatchQueue): Promise<void> {
    const { plan } = this.prep;
    const bm = cycleBuffer(plan);
    let index = 0;
    for (let c = 0; c < plan.numCycles; c++) {
      const cy = await bitmap.read(c, bm);
      const view = bm.subarray(0, Math.ceil((cy.end - cy.start) / 8));
      writer.bitmap({ index: c, start: cy.start, end: cy.end, bits: view });
      // a cycle without a dumpable page (a hole in a sparse physical map) has no batch
      if (bitmap.cycleDumpable[c] === 0) continue;
      for (const { from, to } of rangesWithin(writer.pageRanges, cy.start, cy.end)) {
        for (const batch of batchesOf(view, cy.start, cy.end, BATCH_PAGES, from, to)) {
          checkInterrupted();
          await queue.push(batch, index);
          index += batch.count;
        }
      }
    }
  }

  /**
   * The default order: every cycle's bitmap first (a file cut short has them all), then
   * the priority pages the dump keeps, then the rest of each cycle in pfn order.
   */
  private async priorityFirstPass(writer: DumpWriter, bitmap: FinishedBitmap, queue: BatchQueue, order: WriteOrder, firstFrom: number): Promise<void> {
    const { plan } = this.prep;
    const bm = cycleBuffer(plan);
    for (let c = 0, base = 0; c < plan.numCycles; c++) {
      const cy = await bitmap.read(c, bm, true);
      const view = bm.subarray(0, Math.ceil((cy.end - cy.start) / 8));
      writer.bitmap({ index: c, start: cy.start, end: cy.end, bits: view });
      order.markCycle(cy.start, cy.end, view, base);
      base += bitmap.cycleDumpable[c];
    }
    for (const b of order.priorityBatches(BATCH_PAGES, writer.pageRanges)) {
      checkInterrupted();
      await queue.push(b.batch, b.index, b.runs);
    }
    // their descriptors go out as soon as their data is down, not with the next 8,192
    // pages': a file cut (or killed) from then on can be read. The pass goes on meanwhile:
    // neither that fdatasync nor the batches still in flight are waited for here.
    queue.afterStored(() => writer.checkpoint?.());
    this.tally.firstMs = Date.now() - firstFrom;
    this.prep.msgs.debug(`written first: ${[...order.written].map(([g, n]) => `${g} ${n}`).join(', ')} pages`);
    for (let c = 0, base = 0; c < plan.numCycles; c++) {
      const dumpable = bitmap.cycleDumpable[c];
      if (dumpable === 0) continue;
      const cy = await bitmap.read(c, bm);
      const view = bm.subarray(0, Math.ceil((cy.end - cy.start) / 8));
      const rest = order.restOf(cy.start, cy.end, view);
      const ranker = WriteOrder.ranker(view, cy.start, base);
      for (const { from, to } of rangesWithin(writer.pageRanges, cy.start, cy.end)) {
        for (const batch of batchesOf(rest, cy.start, cy.end, BATCH_PAGES, from, to)) {
          checkInterrupted();
          const b = order.slotsOf(batch, ranker, view, cy.start, rest);
          await queue.push(b.batch, b.index, b.runs);
        }
      }
      base += dumpable;
    }
  }

  /**
   * The priority pages of this kernel, found from VMCOREINFO and the notes; none (a dump
   * without VMCOREINFO, a kernel whose structures cannot be followed): pfn order.
   */
  private writeOrder(): WriteOrder | undefined {
    const t0 = Date.now();
    const { kernel, input, msgs } = this.prep;
    let groups: PriorityGroup[] = [];
    try {
      groups = priorityPages(kernel, input.noteBytes, input.notes);
    } catch (e) {
      // the order is a convenience: a kernel whose structures cannot be followed is written in pfn order
      msgs.debug(`priority pages not found: ${(e as Error)?.message ?? String(e)}`);
    }
    this.tally.priorityMs = Date.now() - t0;
    msgs.debug(`priority pages found in ${this.tally.priorityMs} ms: ${groups.map((g) => `${g.name} ${groupPages(g)}`).join(', ')}`);
    if (!groups.some((g) => groupPages(g) > 0)) return undefined;
    return new WriteOrder(groups);
  }

  private geometry(bitmap: FinishedBitmap): DumpGeometry {
    const { plan } = this.prep;
    return {
      numDumpable: bitmap.numDumpable,
      cyclePfns: plan.cycles.cyclePfns,
      inputFd: this.prep.input.direct?.fd,
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
    return writer.pages({ pfnStart: q.batch.pfnStart, pfnEnd: q.batch.pfnEnd, index: q.index, runs: q.runs, pages: r });
  }
}

/** The parts of the writer's page ranges that fall inside the pfns [start, end). */
function* rangesWithin(ranges: readonly { start: number; end: number }[], start: number, end: number): Generator<{ from: number; to: number }> {
  for (const r of ranges) {
    const from = Math.max(r.start, start);
    const to = Math.min(r.end, end);
    if (from < to) yield { from, to };
  }
}

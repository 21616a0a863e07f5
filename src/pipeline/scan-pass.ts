// Pass 1: every cycle's 2nd bitmap built once (PT_LOAD coverage, then the mem_map scan
// spread over the pool), its dumpable pages counted, the bitmap kept for pass 2. What it
// hands over is a FinishedBitmap: pass 2 takes each cycle back from it, and it builds
// again a cycle its cache could not keep.
import { clearBits, popcountBytes } from '../filter/bitmap';
import { C_ZERO, DL_EXCLUDE_CACHE, DL_EXCLUDE_CACHE_PRI, DL_EXCLUDE_FREE, DL_EXCLUDE_USER_DATA } from '../filter/dump-level';
import type { ScanResult } from '../filter/page-scan';
import { PfnRange, normalize } from '../filter/pfn-ranges';
import { unusedVmemmap } from '../filter/vmemmap';
import { checkInterrupted } from '../util/interrupt';
import { BitmapCache } from './bitmap-cache';
import { CycleBounds, cycleBounds } from './cycles';
import type { DumpPlan, PreparedDump } from './prepare';
import type { Progress, ProgressPlan } from './progress';
import type { ScanTask, ZeroScanResult } from './scan-task';
import { Tally } from './tally';

/** An exclusion that ran past the slice it was found in: [start, end) of class `counter`. */
export interface CarriedRange {
  start: number;
  end: number;
  counter: number;
}

/** A cycle-sized shared buffer (workers write slices of it), reused cycle after cycle. */
export function cycleBuffer(plan: DumpPlan): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(plan.cycles.cyclePfns / 8));
}

/** The slices of cycle cy that the struct-page scan is cut into, over the bitmap in bm. */
export function sliceTasks(plan: DumpPlan, cy: CycleBounds, bm: Uint8Array): ScanTask[] {
  const tasks: ScanTask[] = [];
  const sab = bm.buffer as SharedArrayBuffer;
  const step = plan.cycles.slicePfns;
  for (let s = cy.start; s < cy.end; s += step) {
    const e = Math.min(s + step, cy.end);
    tasks.push({ sliceStart: s, sliceEnd: e, bitmap: sab, byteOffset: bm.byteOffset + (s - cy.start) / 8, byteLength: Math.ceil((e - s) / 8) });
  }
  return tasks;
}

/** pfns scanned, mem_map bytes read, and the present pages of those pfns of which the scan excluded some. */
export type OnScanned = (pfns: number, memMapBytes: number, present: number, excluded: number) => void;

/**
 * Builds a cycle's 2nd bitmap: PT_LOAD coverage (or the refiltered dump's bitmap), the
 * struct-page scan of its slices, then the exclusions carried in from earlier slices.
 * The scan is a function, so that `map` can run it on this thread with a per-page hook.
 */
export class CycleBuilder {
  readonly carried: CarriedRange[] = [];
  /** cycles built at least once: their carries are recorded */
  private builtTo = 0;

  constructor(private readonly plan: DumpPlan, private readonly scan: (task: ScanTask) => Promise<ScanResult>) {}

  async build(cy: CycleBounds, bm: Uint8Array, onScanned?: OnScanned): Promise<ScanResult[]> {
    bm.fill(0);
    const view = bm.subarray(0, Math.ceil((cy.end - cy.start) / 8));
    this.plan.pfns.fillDumpable(view, cy.start);
    let results: ScanResult[] = [];
    if (this.plan.scan) {
      results = await Promise.all(sliceTasks(this.plan, cy, bm).map((task) => {
        if (!onScanned) return this.scan(task);
        // progress per slice as it completes: pfns, mem_map bytes, and what the slice kept
        const first = (task.sliceStart - cy.start) / 8;
        const present = popcountBytes(view, first, first + task.byteLength);
        return this.scan(task).then((r) => {
          let excluded = 0;
          for (let i = 0; i < r.counts.length; i++) excluded += r.counts[i];
          onScanned(task.sliceEnd - task.sliceStart, r.memMapBytes, present, excluded);
          return r;
        });
      }));
    } else {
      onScanned?.(cy.end - cy.start, 0, popcountBytes(view), 0);
    }
    if (cy.index >= this.builtTo) {
      this.builtTo = cy.index + 1;
      results.forEach((r, k) => {
        const sliceEnd = Math.min(cy.start + (k + 1) * this.plan.cycles.slicePfns, cy.end);
        for (const carry of r.carries) this.carried.push({ start: sliceEnd, end: carry.end, counter: carry.counter });
      });
    }
    for (const r of this.carried) {
      if (r.end > cy.start && r.start < cy.end) clearBits(bm, cy.start, r.start, r.end);
    }
    return results;
  }
}

/** What pass 1 reports to: the coordinator's counters, the cache of finished cycles, progress. */
export interface PassOneContext {
  tally: Tally;
  cache: BitmapCache;
  progress?: Progress;
}

/** The finished 2nd bitmap, cycle by cycle, and its counts. */
export class FinishedBitmap {
  /** dumpable pages per cycle, and in all */
  readonly cycleDumpable: Float64Array;
  numDumpable = 0;
  /** -e: physical pages holding struct pages of excluded memory */
  vmemmapExcluded: PfnRange[] = [];

  constructor(private readonly prep: PreparedDump, private readonly builder: CycleBuilder, private readonly run: PassOneContext) {
    this.cycleDumpable = new Float64Array(prep.plan.numCycles);
  }

  bounds(c: number): CycleBounds {
    return cycleBounds(this.prep.plan.cycles.cyclePfns, this.prep.plan.maxMapnr, c);
  }

  /**
   * Cycle c's finished bitmap into bm (a cycle buffer): from the cache, which lets it go
   * unless `keep`, or built again.
   */
  async read(c: number, bm: Uint8Array, keep = false): Promise<CycleBounds> {
    const cy = this.bounds(c);
    const view = bm.subarray(0, Math.ceil((cy.end - cy.start) / 8));
    bm.fill(0);
    if (keep ? this.run.cache.peek(c, view) : this.run.cache.take(c, view)) return cy;
    this.run.tally.rescannedCycles++;
    const results = await this.builder.build(cy, bm);
    this.run.tally.memMapBytes += results.reduce((a, r) => a + r.memMapBytes, 0);
    await this.excludeZeroPages(cy, bm);
    this.applyVmemmap(cy, view);
    // read again later (the default write order reads every cycle twice): kept if it fits
    if (keep) this.run.cache.put(c, view);
    return cy;
  }

  /** -E and --mem-usage with dump level bit 1: zero pages leave the cycle's bitmap. Returns how many. */
  async excludeZeroPages(cy: CycleBounds, bm: Uint8Array): Promise<number> {
    if (!this.prep.plan.zeroScan) return 0;
    const progress = this.run.progress;
    const results = await Promise.all(sliceTasks(this.prep.plan, cy, bm).map((t) => this.prep.executor.zeroScan(t)
      .then((r: ZeroScanResult) => {
        progress?.zeroScanned(r.bytesRead / this.prep.plan.pageSize, r.bytesRead);
        return r;
      })));
    return results.reduce((a, r) => a + r.zeros, 0);
  }

  applyVmemmap(cy: CycleBounds, view: Uint8Array): void {
    for (const [s, e] of this.vmemmapExcluded) {
      if (e <= cy.start || s >= cy.end) continue;
      clearBits(view, cy.start, s, e);
    }
  }
}

/** Pass 1 over every cycle (progress, if given, has begun); the tally gets its counts. */
export async function scanPass(prep: PreparedDump, context?: Partial<PassOneContext>): Promise<FinishedBitmap> {
  const t0 = Date.now();
  const { plan, msgs } = prep;
  const run: PassOneContext = {
    tally: context?.tally ?? new Tally(), cache: context?.cache ?? new BitmapCache(plan.bitmapCacheBytes), progress: context?.progress,
  };
  const { tally, cache, progress } = run;
  const builder = new CycleBuilder(plan, (task) => prep.executor.scan(task));
  const finished = new FinishedBitmap(prep, builder, run);
  const bm = cycleBuffer(plan);
  for (let c = 0; c < plan.numCycles; c++) {
    checkInterrupted();
    const cy = finished.bounds(c);
    const results = await builder.build(cy, bm, progress ? (...a) => progress.scanned(...a) : undefined);
    for (const r of results) addScanResult(tally, r, msgs);
    tally.counts[C_ZERO] += await finished.excludeZeroPages(cy, bm);
    const view = bm.subarray(0, Math.ceil((cy.end - cy.start) / 8));
    finished.cycleDumpable[c] = popcountBytes(view);
    finished.numDumpable += finished.cycleDumpable[c];
    cache.put(c, view);
  }
  if (tally.unreadablePfns > 0) msgs.warn(`struct pages of ${tally.unreadablePfns} pfns could not be read; those pages were kept`);
  if (plan.excludeVmemmap) excludeVmemmapPages(prep, finished, cache, bm);
  tally.scanMs = Date.now() - t0;
  msgs.debug(cache.usesOutput
    ? `2nd bitmap: ${plan.numCycles} cycles kept in the dump file between the passes (memory: ${cache.bytesUsed} bytes)`
    : `2nd-bitmap cache: ${cache.bytesUsed} bytes for ${plan.numCycles} cycles (budget ${cache.budgetBytes}, over budget: ${cache.dropped})`);
  progress?.scanFinished({ ms: tally.scanMs, pfns: plan.maxMapnr, memMapBytes: tally.memMapBytes, dumpable: finished.numDumpable });
  return finished;
}

const CLASS_BITS = DL_EXCLUDE_CACHE | DL_EXCLUDE_CACHE_PRI | DL_EXCLUDE_USER_DATA | DL_EXCLUDE_FREE;

/** What the progress line weighs for a run of this plan; `write`: whether pass 2 follows. */
export function progressPlan(plan: DumpPlan, write: boolean): ProgressPlan {
  return {
    pfns: plan.maxMapnr,
    presentPages: plan.maxMapnr - plan.pfns.memoryHole,
    structScan: !!plan.scan,
    zeroScan: plan.zeroScan,
    write,
    codec: plan.worker.codec,
    // a guess until the first slices are scanned: d31 dumps keep a tenth to a third
    keptPrior: plan.scan && (plan.dumpLevel & CLASS_BITS) !== 0 ? 0.3 : 1,
  };
}

function addScanResult(tally: Tally, r: ScanResult, msgs: PreparedDump['msgs']): void {
  for (let i = 0; i < r.counts.length; i++) tally.counts[i] += r.counts[i];
  tally.memMapBytes += r.memMapBytes;
  tally.unreadablePfns += r.unreadablePfns;
  tally.badOrderPfns += r.badOrderPfns.length;
  for (const pfn of r.badOrderPfns) msgs.warn(`invalid free page order at pfn 0x${pfn.toString(16)}; the page is kept`);
}

/** -e, once the whole 2nd bitmap is known: clear the vmemmap pages of excluded memory. */
function excludeVmemmapPages(prep: PreparedDump, finished: FinishedBitmap, cache: BitmapCache, bm: Uint8Array): void {
  const { plan, kernel: km, msgs } = prep;
  const tr = km.translator;
  const memmap = km.memmap;
  const layout = km.layout;
  if (!tr || !memmap || !layout) {
    msgs.warn('-e: the vmemmap cannot be located without VMCOREINFO; nothing more is excluded');
    return;
  }
  const mem = new Uint8Array(plan.cycles.cyclePfns / 8);
  const found: PfnRange[] = [];
  forEachCachedCycle(finished, cache, bm, (cy, view) => {
    mem.fill(0);
    plan.pfns.fillMemory(mem.subarray(0, view.length), cy.start);
    found.push(...unusedVmemmap(mem, view, cy.start, cy.end - cy.start, memmap.ranges, layout.sizePage, plan.pageSize, tr));
  });
  finished.vmemmapExcluded = normalize(found);
  let cleared = 0;
  forEachCachedCycle(finished, cache, bm, (cy, view) => {
    const before = finished.cycleDumpable[cy.index];
    finished.applyVmemmap(cy, view);
    const after = popcountBytes(view);
    cleared += before - after;
    finished.cycleDumpable[cy.index] = after;
    finished.numDumpable -= before - after;
    cache.put(cy.index, view);
  });
  msgs.msg(`Excluded ${cleared} unused vmemmap pages`);
}

/** Every cycle the cache holds, restored into bm in turn. */
function forEachCachedCycle(finished: FinishedBitmap, cache: BitmapCache, bm: Uint8Array,
  fn: (cy: CycleBounds, view: Uint8Array) => void): void {
  for (let c = 0; c < finished.cycleDumpable.length; c++) {
    const cy = finished.bounds(c);
    const view = bm.subarray(0, Math.ceil((cy.end - cy.start) / 8));
    view.fill(0);
    if (cache.peek(c, view)) fn(cy, view);
  }
}

// Pass 1: build every cycle's 2nd bitmap once (the mem_map scan, spread over the pool),
// count the dumpable pages, keep the bitmap compressed for pass 2.
import { clearBits, popcountBytes } from '../filter/bitmap';
import { normalize } from '../filter/pfn-ranges';
import { unusedVmemmap } from '../filter/vmemmap';
import { checkInterrupted } from '../util/interrupt';
import { C_ZERO, DL_EXCLUDE_CACHE, DL_EXCLUDE_CACHE_PRI, DL_EXCLUDE_FREE, DL_EXCLUDE_USER_DATA, DL_EXCLUDE_ZERO } from '../filter/dump-level';
import type { ScanResult } from '../filter/page-scan';
import type { DumpJob } from './prepare';
import type { ScanTask } from './scan-task';

export interface CycleBounds {
  index: number;
  start: number;
  end: number;
}

export function cycleBounds(job: DumpJob, c: number): CycleBounds {
  const start = c * job.plan.cyclePfns;
  return { index: c, start, end: Math.min(start + job.plan.cyclePfns, job.maxMapnr) };
}

/** A cycle-sized shared buffer, reused cycle after cycle. */
export function cycleBuffer(job: DumpJob): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(job.plan.cyclePfns / 8));
}

/**
 * Builds cycle c's 2nd bitmap into bm: PT_LOAD coverage, then the struct-page scan of its
 * slices, then exclusions carried in from earlier slices. Returns the scan results.
 */
async function buildCycle(job: DumpJob, cy: CycleBounds, bm: Uint8Array, report = false): Promise<ScanResult[]> {
  bm.fill(0);
  const byteLen = Math.ceil((cy.end - cy.start) / 8);
  const view = bm.subarray(0, byteLen);
  job.sets.fillDumpable(view, cy.start);
  let results: ScanResult[] = [];
  if (job.scanSetup) {
    const tasks: Promise<ScanResult>[] = [];
    const sab = bm.buffer as SharedArrayBuffer;
    for (let s = cy.start; s < cy.end; s += job.plan.slicePfns) {
      const e = Math.min(s + job.plan.slicePfns, cy.end);
      const task: ScanTask = {
        sliceStart: s, sliceEnd: e, bitmap: sab,
        byteOffset: bm.byteOffset + (s - cy.start) / 8, byteLength: Math.ceil((e - s) / 8),
      };
      if (!report) {
        tasks.push(job.executor.scan(task));
        continue;
      }
      // progress per slice as it completes: pfns, mem_map bytes, and what the slice kept
      const present = popcountBytes(view, (s - cy.start) / 8, task.byteLength + (s - cy.start) / 8);
      tasks.push(job.executor.scan(task).then((r) => {
        let excluded = 0;
        for (let i = 0; i < r.counts.length; i++) excluded += r.counts[i];
        job.progress.scanned(e - s, r.memMapBytes, present, excluded);
        return r;
      }));
    }
    results = await Promise.all(tasks);
  } else if (report) {
    job.progress.scanned(cy.end - cy.start, 0, popcountBytes(view), 0);
  }
  return results;
}

function sliceTasks(job: DumpJob, cy: CycleBounds, bm: Uint8Array): ScanTask[] {
  const tasks: ScanTask[] = [];
  const sab = bm.buffer as SharedArrayBuffer;
  for (let s = cy.start; s < cy.end; s += job.plan.slicePfns) {
    const e = Math.min(s + job.plan.slicePfns, cy.end);
    tasks.push({ sliceStart: s, sliceEnd: e, bitmap: sab, byteOffset: bm.byteOffset + (s - cy.start) / 8, byteLength: Math.ceil((e - s) / 8) });
  }
  return tasks;
}

/** ELF output with dump level bit 1: zero pages leave the finished 2nd bitmap. Returns how many. */
async function excludeZeroPages(job: DumpJob, cy: CycleBounds, bm: Uint8Array): Promise<number> {
  if (!(job.opts.elf || job.opts.memUsage) || !(job.dumpLevel & DL_EXCLUDE_ZERO)) return 0;
  const results = await Promise.all(sliceTasks(job, cy, bm).map((t) => job.executor.zeroScan(t).then((r) => {
    job.progress.zeroScanned(r.bytesRead / job.pageSize, r.bytesRead);
    return r;
  })));
  return results.reduce((a, r) => a + r.zeros, 0);
}

/** Applies the exclusions that crossed slice ends (recorded with their real start). */
function applyCarries(job: DumpJob, cy: CycleBounds, bm: Uint8Array): void {
  for (const r of job.carried) {
    if (r.end <= cy.start || r.start >= cy.end) continue;
    clearBits(bm, cy.start, r.start, r.end);
  }
}

export async function scanPass(job: DumpJob): Promise<void> {
  const t0 = Date.now();
  const bm = cycleBuffer(job);
  const memUsage = !!job.opts.memUsage;
  const filtering = (job.dumpLevel & (DL_EXCLUDE_CACHE | DL_EXCLUDE_CACHE_PRI | DL_EXCLUDE_USER_DATA | DL_EXCLUDE_FREE)) !== 0;
  job.progress.begin({
    pfns: job.maxMapnr,
    presentPages: job.maxMapnr - job.sets.memoryHole,
    structScan: !!job.scanSetup,
    zeroScan: (!!job.opts.elf || memUsage) && (job.dumpLevel & DL_EXCLUDE_ZERO) !== 0,
    write: !memUsage,
    codec: job.workerSetup.codec,
    // a guess until the first slices are scanned: d31 dumps keep a tenth to a third
    keptPrior: job.scanSetup && filtering ? 0.3 : 1,
  });
  for (let c = 0; c < job.numCycles; c++) {
    checkInterrupted();
    const cy = cycleBounds(job, c);
    const results = await buildCycle(job, cy, bm, true);
    for (let k = 0; k < results.length; k++) {
      const r = results[k];
      for (let i = 0; i < r.counts.length; i++) job.counts[i] += r.counts[i];
      job.stats.memMapBytes += r.memMapBytes;
      job.stats.unreadablePfns += r.unreadablePfns;
      job.stats.badOrderPfns += r.badOrderPfns.length;
      for (const pfn of r.badOrderPfns) {
        job.msgs.warn(`invalid free page order at pfn 0x${pfn.toString(16)}; the page is kept`);
      }
      const sliceEnd = Math.min(cy.start + (k + 1) * job.plan.slicePfns, cy.end);
      for (const carry of r.carries) job.carried.push({ start: sliceEnd, end: carry.end });
    }
    applyCarries(job, cy, bm);
    job.counts[C_ZERO] += await excludeZeroPages(job, cy, bm);
    const view = bm.subarray(0, Math.ceil((cy.end - cy.start) / 8));
    job.cycleDumpable[c] = popcountBytes(view);
    job.numDumpable += job.cycleDumpable[c];
    job.cache.put(c, view);
  }
  if (job.stats.unreadablePfns > 0) {
    job.msgs.warn(`struct pages of ${job.stats.unreadablePfns} pfns could not be read; those pages were kept`);
  }
  if (job.opts.excludeVmemmap) excludeVmemmapPages(job, bm);
  job.stats.scanMs = Date.now() - t0;
  job.msgs.debug(job.cache.usesOutput
    ? `2nd bitmap: ${job.numCycles} cycles kept in the dump file between the passes (memory: ${job.cache.bytesUsed} bytes)`
    : `2nd-bitmap cache: ${job.cache.bytesUsed} bytes for ${job.numCycles} cycles (budget ${job.cache.budgetBytes}, over budget: ${job.cache.dropped})`);
  job.progress.scanFinished({ ms: job.stats.scanMs, pfns: job.maxMapnr, memMapBytes: job.stats.memMapBytes, dumpable: job.numDumpable });
}

/** -e, once the whole 2nd bitmap is known: clear the vmemmap pages of excluded memory. */
function excludeVmemmapPages(job: DumpJob, bm: Uint8Array): void {
  const tr = job.km.translator;
  const memmap = job.km.memmap;
  const layout = job.km.layout;
  if (!tr || !memmap || !layout) {
    job.msgs.warn('-e: the vmemmap cannot be located without VMCOREINFO; nothing more is excluded');
    return;
  }
  const mem = new Uint8Array(job.plan.cyclePfns / 8);
  const found = [];
  for (let c = 0; c < job.numCycles; c++) {
    const cy = cycleBounds(job, c);
    const len = Math.ceil((cy.end - cy.start) / 8);
    const view = bm.subarray(0, len);
    view.fill(0);
    if (!job.cache.peek(c, view)) continue;
    mem.fill(0);
    job.sets.fillMemory(mem.subarray(0, len), cy.start);
    found.push(...unusedVmemmap(mem, view, cy.start, cy.end - cy.start, memmap.ranges, layout.sizePage, job.pageSize, tr));
  }
  job.vmemmapExcluded = normalize(found);
  let cleared = 0;
  for (let c = 0; c < job.numCycles; c++) {
    const cy = cycleBounds(job, c);
    const len = Math.ceil((cy.end - cy.start) / 8);
    const view = bm.subarray(0, len);
    view.fill(0);
    if (!job.cache.peek(c, view)) continue;
    const before = job.cycleDumpable[c];
    applyVmemmap(job, cy, view);
    const after = popcountBytes(view);
    cleared += before - after;
    job.cycleDumpable[c] = after;
    job.numDumpable -= before - after;
    job.cache.put(c, view);
  }
  job.msgs.msg(`Excluded ${cleared} unused vmemmap pages`);
}

function applyVmemmap(job: DumpJob, cy: CycleBounds, view: Uint8Array): void {
  for (const [s, e] of job.vmemmapExcluded) {
    if (e <= cy.start || s >= cy.end) continue;
    clearBits(view, cy.start, s, e);
  }
}

/** Cycle c's final 2nd bitmap for pass 2: from the cache, or scanned again. */
export async function cycleBitmap(job: DumpJob, c: number, bm: Uint8Array): Promise<CycleBounds> {
  const cy = cycleBounds(job, c);
  const view = bm.subarray(0, Math.ceil((cy.end - cy.start) / 8));
  bm.fill(0);
  if (job.cache.take(c, view)) return cy;
  job.stats.rescannedCycles++;
  const results = await buildCycle(job, cy, bm);
  job.stats.memMapBytes += results.reduce((a, r) => a + r.memMapBytes, 0);
  applyCarries(job, cy, bm);
  await excludeZeroPages(job, cy, bm);
  applyVmemmap(job, cy, bm);
  return cy;
}

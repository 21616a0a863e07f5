// Pass 1: build every cycle's 2nd bitmap once (the mem_map scan, spread over the pool),
// count the dumpable pages, keep the bitmap compressed for pass 2.
import { clearBits, popcountBytes } from '../filter/bitmap';
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
async function buildCycle(job: DumpJob, cy: CycleBounds, bm: Uint8Array): Promise<ScanResult[]> {
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
      tasks.push(job.executor.scan(task));
    }
    results = await Promise.all(tasks);
  }
  return results;
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
  job.progress.setScanTotal(job.maxMapnr, job.scanSetup ? 0.15 : 0.01);
  for (let c = 0; c < job.numCycles; c++) {
    const cy = cycleBounds(job, c);
    const results = await buildCycle(job, cy, bm);
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
    job.progress.scanned(cy.end - cy.start, results.reduce((a, r) => a + r.memMapBytes, 0));
    applyCarries(job, cy, bm);
    const view = bm.subarray(0, Math.ceil((cy.end - cy.start) / 8));
    job.cycleDumpable[c] = popcountBytes(view);
    job.numDumpable += job.cycleDumpable[c];
    job.cache.put(c, view);
  }
  if (job.stats.unreadablePfns > 0) {
    job.msgs.warn(`struct pages of ${job.stats.unreadablePfns} pfns could not be read; those pages were kept`);
  }
  job.stats.scanMs = Date.now() - t0;
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
  return cy;
}

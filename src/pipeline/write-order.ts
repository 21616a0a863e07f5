// The order pass 2 writes page data in, by default: the priority pages first (kernel page
// tables, utsname, the log, ... : src/kernel/priority-pages.ts), those the dump keeps, a
// group after the other; then every other page in pfn order. The bitmaps and the
// descriptor table stay in pfn order (a descriptor carries its page's offset), so a
// reader sees the same file as makedumpfile's but for where the data sits; a dump cut
// short holds what it needs to be read and to tell why the machine died.
// --pfn-order writes makedumpfile's order instead. Spec: docs/spec/write-order.md.
//
// Memory (docs/spec/write-order.md §2): the small groups (hundreds of pages) cost 17 bytes
// a page (pfn, group, rank); mem_map, which grows with the machine (4M pages of struct
// pages on 1 TiB), is kept as runs (priority-pages.ts MemMapRuns, 52 bytes a run) and
// costs here 2 bits a page (kept, describes a kept pfn) and 24 bytes a run (its first
// page's index and rank, its place in two orders): no object and no number per page.
// 1 TiB with a PMD-mapped vmemmap: 1 MiB of bits and at most 8,192 runs (623 KB).
import { POP8, popcount32, popcountBytes } from '../filter/bitmap';
import type { SlotRun } from '../format/dump-writer';
import type { MemMapRuns, PriorityGroup } from '../kernel/priority-pages';
import type { PageBatch } from './page-batch';

/** A batch and the descriptor-table slots its pages' descriptors go to, in page order. */
export interface OrderedBatch {
  batch: PageBatch;
  /** slot of the first page; with runs, runs[0].slot */
  index: number;
  /** set when the slots are not one run from index */
  runs?: SlotRun[];
}

/** Widest pfn span of one priority batch: its bitmap stays small (32 KiB). */
const MAX_PRIORITY_SPAN = 1 << 18;

/** Counts set bits of a cycle's bitmap below a pfn, moving forward only. */
class Ranker {
  private pos = 0;
  private count = 0;
  constructor(private readonly view: Uint8Array, private readonly start: number, private readonly base: number) {}

  /** dumpable pages of the whole dump below pfn (pfn in this cycle, not below the last one asked) */
  rank(pfn: number): number {
    const bit = pfn - this.start;
    const byte = bit >> 3;
    if ((this.pos >> 3) < byte) {
      // the partial byte at pos, then whole bytes
      if ((this.pos & 7) !== 0) {
        this.count += POP8[this.view[this.pos >> 3] & (0xff << (this.pos & 7))];
        this.pos = ((this.pos >> 3) + 1) * 8;
      }
      this.count += popcountBytes(this.view, this.pos >> 3, byte);
      this.pos = byte * 8;
    }
    if (this.pos < bit) {
      // bits [pos, bit) of one byte
      this.count += POP8[this.view[byte] & (0xff << (this.pos & 7)) & ((1 << (bit & 7)) - 1)];
      this.pos = bit;
    }
    return this.base + this.count;
  }
}

function bitAt(view: Uint8Array, i: number): boolean {
  return (view[i >> 3] & (1 << (i & 7))) !== 0;
}

/** The 8 bits of bm from bit i on (bits past its end read as 0). */
function byteAt(bm: Uint8Array, i: number): number {
  const b = i >> 3;
  const s = i & 7;
  return s === 0 ? bm[b] : ((bm[b] >> s) | ((b + 1 < bm.length ? bm[b + 1] : 0) << (8 - s))) & 0xff;
}

/** Whether any bit of bm in [from, to) is set. */
function anyBit(bm: Uint8Array, from: number, to: number): boolean {
  let i = from;
  for (; i < to && (i & 7) !== 0; i++) if (bitAt(bm, i)) return true;
  for (; i + 8 <= to; i += 8) if (bm[i >> 3] !== 0) return true;
  for (; i < to; i++) if (bitAt(bm, i)) return true;
  return false;
}

/** bm's bytes as 32-bit words where its offset allows (nextBit then skips 32 clear bits a step), else undefined */
export function wordsOf(bm: Uint8Array): Uint32Array | undefined {
  return bm.byteOffset % 4 === 0 ? new Uint32Array(bm.buffer, bm.byteOffset, bm.length >> 2) : undefined;
}

/** The first set bit of bm in [from, to), or -1. `words`: wordsOf(bm), for long runs of clear bits. */
export function nextBit(bm: Uint8Array, from: number, to: number, words?: Uint32Array): number {
  let i = from;
  for (; i < to && (i & 7) !== 0; i++) if (bitAt(bm, i)) return i;
  if (i >= to) return -1;
  let byte = i >> 3;
  const last = to >> 3;
  if (words) {
    while (byte < last && (byte & 3) !== 0 && bm[byte] === 0) byte++;
    // whole clear words (the interpreter's loads, not the bits, are what a long scan costs)
    let w = byte >> 2;
    const lastWord = last >> 2;
    if ((byte & 3) === 0) {
      while (w < lastWord && words[w] === 0) w++;
      byte = w * 4;
    }
  }
  while (byte < last && bm[byte] === 0) byte++;
  i = byte * 8;
  if (byte < last) return i + 31 - Math.clz32(bm[byte] & -bm[byte]);
  for (; i < to; i++) if (bitAt(bm, i)) return i;
  return -1;
}

/**
 * dst bits [d, d+n) op= src bits [s, s+n): 'copy', 'or', or 'andNot' (clear dst where src
 * is set). Whole bytes of dst at a time; any alignment of either.
 */
function bitsInto(op: 'copy' | 'or' | 'andNot', dst: Uint8Array, d: number, src: Uint8Array, s: number, n: number): void {
  let i = 0;
  const one = (k: number): void => {
    const on = bitAt(src, s + k);
    const b = (d + k) >> 3;
    const m = 1 << ((d + k) & 7);
    if (op === 'copy') dst[b] = on ? dst[b] | m : dst[b] & ~m;
    else if (on) dst[b] = op === 'or' ? dst[b] | m : dst[b] & ~m;
  };
  for (; i < n && ((d + i) & 7) !== 0; i++) one(i);
  for (; i + 8 <= n; i += 8) {
    const v = byteAt(src, s + i);
    const b = (d + i) >> 3;
    if (op === 'copy') dst[b] = v;
    else if (op === 'or') dst[b] |= v;
    else dst[b] &= ~v;
  }
  for (; i < n; i++) one(i);
}

export class WriteOrder {
  // the groups named by pfn (all but mem-map), merged: pfns ascending, each once, with the
  // earliest group naming it and its rank (descriptor slot), -1 when not dumped
  private readonly pfn: Float64Array;
  private readonly group: Uint8Array;
  private readonly rank: Float64Array;
  private next = 0;
  private restNext = 0;

  // mem-map, when there is one: its runs, by first pfn and by first pfn described
  private readonly mm?: MemMapRuns;
  private readonly mmGroup: number = -1;
  private readonly byPfn: Uint32Array = new Uint32Array(0);
  private readonly byDescribe: Uint32Array = new Uint32Array(0);
  /** each run's first page's index in the page bits; dumpable pages below its first pfn (-1 until seen) */
  private readonly pageOff = new Float64Array(0);
  private readonly rank0 = new Float64Array(0);
  /** a bit per page of every run: its pfn is kept */
  private readonly dumped = new Uint8Array(0);
  /** a bit per page: it describes a kept pfn; once the priority batches are out, it was written first */
  private readonly kept = new Uint8Array(0);
  private runNext = 0;
  private describeNext = 0;
  private restRun = 0;
  /** pages written first, per group name */
  readonly written = new Map<string, number>();

  constructor(private readonly groups: readonly PriorityGroup[]) {
    // a k-way merge of the groups' ascending pfns; on a tie the earliest group is taken
    const small = groups.map((g, gi) => ({ g, gi })).filter((x) => !x.g.memMap);
    let total = 0;
    for (const x of small) total += x.g.pfns.length;
    const pfn = new Float64Array(total);
    const group = new Uint8Array(total);
    const at = new Uint32Array(small.length);
    let n = 0;
    for (;;) {
      let best = -1;
      for (let k = 0; k < small.length; k++) {
        if (at[k] < small[k].g.pfns.length && (best < 0 || small[k].g.pfns[at[k]] < small[best].g.pfns[at[best]])) best = k;
      }
      if (best < 0) break;
      const p = small[best].g.pfns[at[best]++];
      if (n > 0 && pfn[n - 1] === p) continue;
      pfn[n] = p;
      group[n++] = small[best].gi;
    }
    this.pfn = pfn.subarray(0, n);
    this.group = group.subarray(0, n);
    this.rank = new Float64Array(n).fill(-1);

    const mmGroup = groups.findIndex((g) => g.memMap);
    if (mmGroup < 0) return;
    // a page named by mem-map and by a group after it would belong to that group: none is
    if (mmGroup !== groups.length - 1) throw new Error('the mem-map group must come last');
    const mm = groups[mmGroup].memMap!;
    this.mm = mm;
    this.mmGroup = mmGroup;
    const runs = mm.count;
    this.pageOff = new Float64Array(runs);
    for (let r = 0, off = 0; r < runs; r++) {
      this.pageOff[r] = off;
      off += mm.runPages[r];
    }
    this.rank0 = new Float64Array(runs).fill(-1);
    this.dumped = new Uint8Array(Math.ceil(mm.pages / 8));
    this.kept = new Uint8Array(Math.ceil(mm.pages / 8));
    this.byPfn = sortedIndex(runs, (r) => mm.runPfn[r]);
    this.byDescribe = sortedIndex(runs, (r) => mm.rangeStart[r] + Math.floor(mm.first[r] / mm.sizePage));
  }

  /**
   * Pass 2's first walk over the finished bitmap, cycle by cycle in pfn order: the slot of
   * each candidate page of this cycle, and whether the pfns a struct-page page describes
   * are kept. `base`: dumpable pages before the cycle.
   */
  markCycle(start: number, end: number, view: Uint8Array, base: number): void {
    const ranker = new Ranker(view, start, base);
    for (; this.next < this.pfn.length && this.pfn[this.next] < end; this.next++) {
      const pfn = this.pfn[this.next];
      if (pfn >= start && bitAt(view, pfn - start)) this.rank[this.next] = ranker.rank(pfn);
    }
    if (this.mm) {
      this.markRuns(start, end, view, base);
      this.markDescribed(start, end, view);
    }
  }

  /** mem-map pages in the cycle: their kept bits, and each run's rank where it starts. */
  private markRuns(start: number, end: number, view: Uint8Array, base: number): void {
    const mm = this.mm!;
    const ranker = new Ranker(view, start, base);
    const order = this.byPfn;
    while (this.runNext < order.length && mm.runPfn[order[this.runNext]] + mm.runPages[order[this.runNext]] <= start) this.runNext++;
    for (let k = this.runNext; k < order.length; k++) {
      const r = order[k];
      const p0 = mm.runPfn[r];
      if (p0 >= end) break;
      const a = Math.max(p0, start);
      const b = Math.min(p0 + mm.runPages[r], end);
      if (a >= b) continue;
      if (p0 >= start) this.rank0[r] = ranker.rank(p0);
      bitsInto('copy', this.dumped, this.pageOff[r] + (a - p0), view, a - start, b - a);
    }
  }

  /**
   * mem-map pages describing pfns of the cycle: whether any of those is kept. Walks the
   * cycle's kept pfns within each run's described pfns, and from the page a kept pfn's
   * struct page lies in on to the next page: a bitmap scan plus a step per page.
   */
  private markDescribed(start: number, end: number, view: Uint8Array): void {
    const mm = this.mm!;
    const ps = mm.pageSize;
    const sp = mm.sizePage;
    const order = this.byDescribe;
    const kept = this.kept;
    const words = wordsOf(view);
    const describeEnd = (r: number): number => Math.min(mm.rangeEnd[r], mm.rangeStart[r] + Math.ceil(mm.end[r] / sp));
    while (this.describeNext < order.length && describeEnd(order[this.describeNext]) <= start) this.describeNext++;
    for (let k = this.describeNext; k < order.length; k++) {
      const r = order[k];
      const rs = mm.rangeStart[r];
      const a = Math.max(start, rs + Math.floor(mm.first[r] / sp));
      if (a >= end) break;
      const b = Math.min(end, describeEnd(r)) - start;
      const off = this.pageOff[r];
      const base = mm.base[r];
      const first = mm.first[r];
      const last = mm.end[r];
      for (let q = a - start; q < b;) {
        q = nextBit(view, q, b, words);
        if (q < 0) break;
        // the run's pages holding pfn q's struct page (bytes o0 to o1 of the range's mem_map)
        const o = (q + start - rs) * sp;
        const k0 = Math.floor((Math.max(first, o) - base) / ps);
        const k1 = Math.floor((Math.min(last, o + sp) - 1 - base) / ps);
        for (let j = k0; j <= k1; j++) kept[(off + j) >> 3] |= 1 << ((off + j) & 7);
        // on to the first pfn whose struct page reaches past page k1
        q = Math.max(q + 1, rs + Math.floor((base + (k1 + 1) * ps) / sp) - start);
      }
    }
  }

  /**
   * The priority pages as batches of at most maxPages, none across a page range's end: in
   * group order then pfn order, dumped, each once, mem-map only for kept pfns.
   */
  *priorityBatches(maxPages: number, pageRanges: readonly { start: number; end: number }[]): Generator<OrderedBatch> {
    const pfns = new Float64Array(maxPages);
    const slots = new Float64Array(maxPages);
    let n = 0;
    let range: { start: number; end: number } | undefined;
    // whether pfn can join the batch being gathered
    const fits = (pfn: number): boolean => n < maxPages && pfn > pfns[n - 1] && pfn - pfns[0] < MAX_PRIORITY_SPAN && (!range || pfn < range.end);
    const add = (pfn: number, slot: number): void => {
      if (n === 0) range = pageRanges.find((r) => pfn >= r.start && pfn < r.end);
      pfns[n] = pfn;
      slots[n++] = slot;
    };
    for (let g = 0; g < this.groups.length; g++) {
      if (g === this.mmGroup) continue;
      let count = 0;
      for (let i = 0; i < this.pfn.length; i++) {
        if (this.group[i] !== g || this.rank[i] < 0) continue;
        if (n > 0 && !fits(this.pfn[i])) { yield batchOf(pfns, slots, n); n = 0; }
        add(this.pfn[i], this.rank[i]);
        count++;
      }
      this.written.set(this.groups[g].name, count);
    }
    const mm = this.mm;
    if (mm) {
      // runs by first pfn; a pfn in two runs is taken from the first, with what both describe
      let count = 0;
      let emittedEnd = -1;
      let small = 0;
      const order = this.byPfn;
      const dumped = this.dumped;
      const kept = this.kept;
      for (let k = 0; k < order.length; k++) {
        const r = order[k];
        const p0 = mm.runPfn[r];
        const pages = mm.runPages[r];
        const off = this.pageOff[r];
        for (let k2 = k + 1; k2 < order.length && mm.runPfn[order[k2]] < p0 + pages; k2++) {
          const r2 = order[k2];
          const a = mm.runPfn[r2];
          bitsInto('or', kept, off + (a - p0), kept, this.pageOff[r2], Math.min(p0 + pages, a + mm.runPages[r2]) - a);
        }
        let slot = this.rank0[r];
        for (let j = 0; j < pages; j++) {
          const bit = off + j;
          if ((bit & 7) === 0 && j + 8 <= pages && (dumped[bit >> 3] & kept[bit >> 3]) === 0) {
            // none of 8 pages to write first
            slot += POP8[dumped[bit >> 3]];
            kept[bit >> 3] = 0;
            j += 7;
            continue;
          }
          const isDumped = bitAt(dumped, bit);
          const p = p0 + j;
          let take = isDumped && p >= emittedEnd && bitAt(kept, bit);
          if (take) {
            // a page a group before names went with that group
            while (small < this.pfn.length && this.pfn[small] < p) small++;
            take = small >= this.pfn.length || this.pfn[small] !== p;
          }
          if (take) {
            if (n > 0 && !fits(p)) { yield batchOf(pfns, slots, n); n = 0; }
            add(p, slot);
            count++;
          } else {
            kept[bit >> 3] &= ~(1 << (bit & 7));
          }
          if (isDumped) slot++;
        }
        emittedEnd = Math.max(emittedEnd, p0 + pages);
      }
      this.written.set(this.groups[this.mmGroup].name, count);
    }
    if (n > 0) yield batchOf(pfns, slots, n);
  }

  /** The cycle's bitmap without the pages already written (a copy when it had any), for the batches of the rest. */
  restOf(start: number, end: number, view: Uint8Array): Uint8Array {
    let rest = view;
    const p = this.pfn;
    while (this.restNext < p.length && p[this.restNext] < start) this.restNext++;
    for (let k = this.restNext; k < p.length && p[k] < end; k++) {
      if (this.rank[k] < 0) continue;
      if (rest === view) rest = view.slice();
      const b = p[k] - start;
      rest[b >> 3] &= ~(1 << (b & 7));
    }
    const mm = this.mm;
    if (mm) {
      const order = this.byPfn;
      while (this.restRun < order.length && mm.runPfn[order[this.restRun]] + mm.runPages[order[this.restRun]] <= start) this.restRun++;
      for (let k = this.restRun; k < order.length; k++) {
        const r = order[k];
        const p0 = mm.runPfn[r];
        if (p0 >= end) break;
        const a = Math.max(p0, start);
        const b = Math.min(p0 + mm.runPages[r], end);
        const from = this.pageOff[r] + (a - p0);
        if (a >= b || !anyBit(this.kept, from, from + (b - a))) continue;
        if (rest === view) rest = view.slice();
        bitsInto('andNot', rest, a - start, this.kept, from, b - a);
      }
    }
    return rest;
  }

  /**
   * The slots of a batch of the rest (cut from `rest`, restOf's answer for the cycle): one
   * run from the rank of its first page, or, when pages written first lie among its pages,
   * a run between each two of them.
   */
  slotsOf(batch: PageBatch, ranker: Ranker, view: Uint8Array, start: number, rest: Uint8Array): OrderedBatch {
    const bm = batch.bitmap;
    let first = 0;
    while (bm[first] === 0) first++;
    const firstBit = first * 8 + (31 - Math.clz32(bm[first] & -bm[first]));
    const b0 = (batch.pfnStart - start) >> 3;
    const nb = bm.length;
    if (rest === view || popcountBytes(view, b0, b0 + nb) === popcountBytes(rest, b0, b0 + nb)) {
      return { batch, index: ranker.rank(batch.pfnStart + firstBit) };
    }
    // every kept page takes a slot; a kept page not in the batch (written first) ends a run
    let slot = ranker.rank(batch.pfnStart);
    const runs: SlotRun[] = [];
    let open = false;
    /** n kept pages in a row, all the batch's */
    const take = (n: number): void => {
      if (open) runs[runs.length - 1].count += n;
      else runs.push({ slot, count: n });
      open = true;
      slot += n;
    };
    /** the kept pages of one byte of the view, v, of which the batch has b */
    const byte = (v: number, b: number): void => {
      if (v === b) {
        if (b !== 0) take(POP8[b]);
        return;
      }
      for (let k = 0; k < 8; k++) {
        if (!(v & (1 << k))) continue;
        if (b & (1 << k)) {
          take(1);
        } else {
          open = false;
          slot++;
        }
      }
    };
    // the batch's bytes but its first and last are rest's (batchesOf takes whole bytes and
    // masks only those two): in between, whole words of the view and of rest are compared
    const vw = wordsOf(view);
    const rw = wordsOf(rest);
    byte(view[b0], bm[0]);
    for (let i = 1; i < nb - 1;) {
      const at = b0 + i;
      if (vw && rw && (at & 3) === 0 && i + 4 < nb) {
        const v = vw[at >> 2];
        if (v === rw[at >> 2]) {
          if (v !== 0) take(popcount32(v));
          i += 4;
          continue;
        }
      }
      byte(view[at], rest[at]);
      i++;
    }
    if (nb > 1) byte(view[b0 + nb - 1], bm[nb - 1]);
    return { batch, index: runs[0].slot, runs: runs.length > 1 ? runs : undefined };
  }

  /** A ranker over a cycle's full bitmap. */
  static ranker(view: Uint8Array, start: number, base: number): Ranker {
    return new Ranker(view, start, base);
  }
}

/** A priority batch of n pages (pfns ascending) and their slots. */
function batchOf(pfns: Float64Array, slots: Float64Array, n: number): OrderedBatch {
  const pfnStart = pfns[0] - (pfns[0] % 8);
  const pfnEnd = pfns[n - 1] + 1;
  const bitmap = new Uint8Array(Math.ceil((pfnEnd - pfnStart) / 8));
  const runs: SlotRun[] = [];
  let last: SlotRun | undefined;
  for (let k = 0; k < n; k++) {
    const b = pfns[k] - pfnStart;
    bitmap[b >> 3] |= 1 << (b & 7);
    if (last && last.slot + last.count === slots[k]) last.count++;
    else runs.push(last = { slot: slots[k], count: 1 });
  }
  return { batch: { seq: 0, pfnStart, pfnEnd, bitmap, count: n }, index: runs[0].slot, runs: runs.length > 1 ? runs : undefined };
}

/** 0..n-1 ordered by key (stable), without sorting when already in order. */
function sortedIndex(n: number, key: (i: number) => number): Uint32Array {
  const idx = new Uint32Array(n);
  let sorted = true;
  for (let i = 0; i < n; i++) {
    idx[i] = i;
    if (i > 0 && key(i) < key(i - 1)) sorted = false;
  }
  if (!sorted) {
    const keys = new Float64Array(n);
    for (let i = 0; i < n; i++) keys[i] = key(i);
    idx.sort((a, b) => keys[a] - keys[b] || a - b);
  }
  return idx;
}

export type { Ranker };

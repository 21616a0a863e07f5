// Sorted, disjoint pfn intervals [start, end) and the PT_LOAD-derived sets the bitmaps
// start from. Spec: kdump-compressed.md §5, page-filtering.md §5 (exclude_nodata_pages).
import type { LoadSegment } from '../vmcore/physical';
import { clearBits, setRanges } from './bitmap';

export type PfnRange = readonly [number, number];

export function normalize(ranges: PfnRange[]): PfnRange[] {
  const r = ranges.filter(([s, e]) => e > s).sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [s, e] of r) {
    const last = out[out.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

export function subtract(a: PfnRange[], b: PfnRange[]): PfnRange[] {
  const out: [number, number][] = [];
  const bb = normalize(b);
  for (const [s0, e0] of normalize(a)) {
    let s = s0;
    for (const [bs, be] of bb) {
      if (be <= s || bs >= e0) continue;
      if (bs > s) out.push([s, bs]);
      s = Math.max(s, be);
      if (s >= e0) break;
    }
    if (s < e0) out.push([s, e0]);
  }
  return out;
}

export function clip(ranges: PfnRange[], lo: number, hi: number): PfnRange[] {
  const out: [number, number][] = [];
  for (const [s, e] of ranges) {
    const a = Math.max(s, lo);
    const b = Math.min(e, hi);
    if (b > a) out.push([a, b]);
  }
  return out;
}

export function totalPfns(ranges: readonly PfnRange[]): number {
  let n = 0;
  for (const [s, e] of ranges) n += e - s;
  return n;
}

/**
 * How makedumpfile marks a PT_LOAD in the 1st ("memory") bitmap. In cyclic-buffer mode a
 * partial last page is left out; in one-cycle bitmap-file mode it is put in.
 */
export type BitmapMode = 'cyclic' | 'one-cycle';

/**
 * The pfn sets the bitmaps start from, whatever the input: PT_LOAD ranges of an ELF
 * vmcore, or the bitmaps of a kdump-compressed dump being refiltered.
 */
export interface PfnSets {
  /** sets the 1st-bitmap ("memory") bits of the slice starting at pfn `base` */
  fillMemory(view: Uint8Array, base: number): void;
  /** sets the bits the 2nd bitmap starts from before filtering */
  fillDumpable(view: Uint8Array, base: number): void;
  /** "Memory Hole" of the report */
  memoryHole: number;
  /** pfns the struct-page scan may look at (ELF: first byte in PT_LOAD file data); undefined: the input's 1st bitmap */
  inSegs?: PfnRange[];
}

export function rangePfnSets(s: LoadPfnSets): PfnSets {
  return {
    fillMemory: (view, base) => setRanges(view, base, s.memory),
    fillDumpable: (view, base) => setRanges(view, base, s.dumpable),
    memoryHole: s.memoryHole,
    inSegs: s.inSegs,
  };
}

/** Refiltering: both bitmaps come from the dump being refiltered (makedumpfile copies them). */
export function bitmapPfnSets(bitmap1: Uint8Array, bitmap2: Uint8Array, maxMapnr: number): PfnSets {
  let present = 0;
  for (const b of bitmap1) present += POP[b];
  const copy = (src: Uint8Array) => (view: Uint8Array, base: number): void => {
    const from = base >> 3;
    const n = Math.min(view.length, Math.ceil(maxMapnr / 8) - from);
    if (n > 0) view.set(src.subarray(from, from + n));
    // bits at or above max_mapnr stay clear
    const tail = maxMapnr - base;
    if (tail < view.length * 8 && tail >= 0) clearBits(view, base, maxMapnr, base + view.length * 8);
  };
  return { fillMemory: copy(bitmap1), fillDumpable: copy(bitmap2), memoryHole: maxMapnr - present };
}

const POP = new Uint8Array(256);
for (let i = 0; i < 256; i++) POP[i] = (i & 1) + POP[i >> 1];

export interface LoadPfnSets {
  /** 1st bitmap: pfns present in the input */
  memory: PfnRange[];
  /** what the 2nd bitmap starts from before filtering: memory minus PT_LOAD tails without file data */
  dumpable: PfnRange[];
  /** pfns whose first byte lies in a PT_LOAD's file data (makedumpfile is_in_segs) */
  inSegs: PfnRange[];
  /** "Memory Hole" of the report, with makedumpfile's per-PT_LOAD counting */
  memoryHole: number;
}

export function loadPfnSets(loads: readonly LoadSegment[], pageSize: number, maxMapnr: number, mode: BitmapMode): LoadPfnSets {
  const memoryRaw: PfnRange[] = [];
  const dumpableRaw: PfnRange[] = [];
  const nodata: PfnRange[] = [];
  const inSegs: PfnRange[] = [];
  let counted = 0;
  for (const l of loads) {
    const ps = l.paddr;
    const pe = l.paddr + l.memsz;
    const first = Math.floor(ps / pageSize);
    let last = Math.floor(pe / pageSize);
    dumpableRaw.push([first, last]);
    if (mode === 'one-cycle') {
      // create_1st_bitmap_file: skips loads starting above max_mapnr, counts a partial last page
      if (first > maxMapnr) continue;
      last = Math.min(last, maxMapnr);
      if (pe % pageSize !== 0) last++;
      memoryRaw.push([first, last]);
      counted += Math.max(0, last - first);
    } else {
      memoryRaw.push([first, last]);
      counted += Math.max(0, Math.min(last, maxMapnr) - Math.min(first, maxMapnr));
    }
    nodata.push([Math.floor((ps + l.filesz) / pageSize), Math.ceil(pe / pageSize)]);
    if (l.filesz > 0) inSegs.push([Math.ceil(ps / pageSize), Math.ceil((ps + l.filesz) / pageSize)]);
  }
  const memory = clip(normalize(memoryRaw), 0, maxMapnr);
  const dumpable = clip(subtract(memory.length ? normalize(dumpableRaw) : [], nodata), 0, maxMapnr);
  return { memory, dumpable, inSegs: normalize(inSegs), memoryHole: maxMapnr - counted };
}

// The interface every input format offers the layers above it: physical memory
// as a set of ranges that can be read into a caller's buffer.

/** One PT_LOAD (or equivalent) of the input, in the input's order. */
export interface LoadSegment {
  /** physical start (may be unaligned, as /proc/vmcore's 0x1000-0x9fbff range ends mid-page) */
  readonly paddr: number;
  readonly memsz: number;
  /** bytes of the range stored in the file; the rest reads as zero */
  readonly filesz: number;
  readonly fileOffset: number;
  readonly vaddr: bigint;
}

export interface PhysicalMemory {
  readonly pageSize: number;
  readonly loads: readonly LoadSegment[];
  /** File offset holding physical address `pa` (first load in input order wins), or -1. */
  fileOffset(pa: number): number;
  /**
   * Reads [pa, pa+len) into buf at off. Bytes covered by no load's file data read as
   * zero. Returns false when no load covers any byte of the range (nothing to read).
   */
  read(pa: number, buf: Uint8Array, off: number, len: number): boolean;
  /**
   * Set when pages sit in the input file as they are, so that they can be taken from it
   * directly (through a mapping) instead of read: the file and where each range is in it.
   */
  readonly direct?: { fd: number; map: FileMap };
}

/**
 * What a filtered dump read back as input (refiltering) still says about the dump it is:
 * its level (a refiltered dump keeps it), its bitmaps (what it holds), phys_base.
 */
export interface EarlierDump {
  dumpLevel: number;
  maxMapnr: number;
  physBase: bigint;
  /** pfns in memory */
  bitmap1: Uint8Array;
  /** pfns whose pages it holds */
  bitmap2: Uint8Array;
}

/**
 * Physical-to-file map with overlaps resolved: sorted, disjoint intervals, each taken
 * from the first load (in input order) that covers it. The x86_64 kernel-text PT_LOAD
 * overlaps a RAM PT_LOAD; makedumpfile's paddr_to_offset scans loads in order, so the
 * earlier one wins and so it does here.
 */
export class FileMap {
  /** interval starts, ends (exclusive) and the file offset of each start */
  readonly starts: Float64Array;
  readonly ends: Float64Array;
  readonly offsets: Float64Array;

  constructor(loads: readonly LoadSegment[]) {
    let pieces: { s: number; e: number; off: number }[] = [];
    for (const l of loads) {
      if (l.filesz <= 0) continue;
      let todo = [{ s: l.paddr, e: l.paddr + l.filesz }];
      for (const p of pieces) {
        const next: { s: number; e: number }[] = [];
        for (const t of todo) {
          if (t.e <= p.s || t.s >= p.e) { next.push(t); continue; }
          if (t.s < p.s) next.push({ s: t.s, e: p.s });
          if (t.e > p.e) next.push({ s: p.e, e: t.e });
        }
        todo = next;
        if (todo.length === 0) break;
      }
      for (const t of todo) pieces.push({ s: t.s, e: t.e, off: l.fileOffset + (t.s - l.paddr) });
    }
    pieces = pieces.sort((a, b) => a.s - b.s);
    // merge neighbours that are contiguous in the file as well, so a long run is one read
    const merged: typeof pieces = [];
    for (const p of pieces) {
      const last = merged[merged.length - 1];
      if (last && last.e === p.s && last.off + (last.e - last.s) === p.off) last.e = p.e;
      else merged.push({ ...p });
    }
    this.starts = Float64Array.from(merged.map((p) => p.s));
    this.ends = Float64Array.from(merged.map((p) => p.e));
    this.offsets = Float64Array.from(merged.map((p) => p.off));
  }

  /** index of the interval containing pa, or of the first interval after it (may be length) */
  find(pa: number): number {
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ends[mid] <= pa) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  fileOffset(pa: number): number {
    const i = this.find(pa);
    if (i < this.starts.length && this.starts[i] <= pa) return this.offsets[i] + (pa - this.starts[i]);
    return -1;
  }
}

/** Sorted, merged physical ranges covered by loads' memsz (file data or not). */
export function coveredRanges(loads: readonly LoadSegment[]): { start: number; end: number }[] {
  const r = loads
    .filter((l) => l.memsz > 0)
    .map((l) => ({ start: l.paddr, end: l.paddr + l.memsz }))
    .sort((a, b) => a.start - b.start);
  const out: { start: number; end: number }[] = [];
  for (const x of r) {
    const last = out[out.length - 1];
    if (last && x.start <= last.end) last.end = Math.max(last.end, x.end);
    else out.push({ ...x });
  }
  return out;
}

/** Pages that byte ranges sorted by start touch, a page shared by two ranges counted once; and the end of the last. */
export function pagesTouched(ranges: readonly { start: number; end: number }[], pageSize: number): { pages: number; endPfn: number } {
  let pages = 0;
  let endPfn = 0;
  for (const r of ranges) {
    const first = Math.max(Math.floor(r.start / pageSize), endPfn);
    const last = Math.ceil(r.end / pageSize);
    if (last > first) pages += last - first;
    endPfn = Math.max(endPfn, last);
  }
  return { pages, endPfn };
}

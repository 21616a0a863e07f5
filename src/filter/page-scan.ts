// The mem_map scan: runs the page decision table (page-rules.ts) over each pfn's struct
// page, with makedumpfile 1.7.2's one-cycle semantics (spec page-filtering.md §3): each mem_map range
// (memory section) is scanned from its start, an excluded block is skipped over, and an
// exclusion that runs past the end of the slice being scanned is handed back as a carry
// for the next slice.
//
// Hot loop: typed-array views over one reused buffer, no allocation per page.
import type { PageLayout } from '../kernel/page-layout';
import type { MemMapRange } from '../kernel/memmap';
import type { Translator } from '../translate';
import { nativeAddon } from '../util/native-addon';
import type { FileMap } from '../vmcore/physical';
import { DL_EXCLUDE_CACHE, DL_EXCLUDE_CACHE_PRI, DL_EXCLUDE_FREE, DL_EXCLUDE_USER_DATA, NUM_COUNTERS } from './dump-level';
import { clearBits } from './bitmap';
import { nativeScan } from './native-scan';
import { Rules, VERDICT, classifyChunk, rulesArray, rulesOf } from './page-rules';
import type { PfnRange } from './pfn-ranges';

/** makedumpfile reads struct pages in groups of 512 (PGMM_CACHED); the "next page" of
 *  a compound head is only looked at inside its group. */
const PGMM_CACHED = 512;
/** struct pages read per I/O: 8192 pfns (512 KiB of mem_map at 64 bytes each) */
const CHUNK_PFNS = 8192;

export interface ScanSetup {
  layout: PageLayout;
  dumpLevel: number;
  maxMapnr: number;
  /** sorted mem_map ranges (sections) */
  ranges: MemMapRange[];
  /** pfns whose first byte lies in PT_LOAD file data; others are memory holes, never examined.
   *  Undefined when refiltering: then the input's 1st bitmap says which pfns exist. */
  inSegs?: PfnRange[];
}

/** An exclusion that reaches past the slice it was found in. */
export interface Carry {
  end: number;
  counter: number;
}

export interface ScanResult {
  /** per-class counts (dump-level.ts C_* indices) */
  counts: Float64Array;
  carries: Carry[];
  /** bytes of mem_map read */
  memMapBytes: number;
  /** pfns whose struct page could not be read and were therefore kept */
  unreadablePfns: number;
  /** buddy pages whose order was out of range (kept, as makedumpfile does) */
  badOrderPfns: number[];
}

/** The addon's read-ahead thread (native/readahead.c). */
interface ReadAheadNative {
  readAhead(fd: number, buf: Uint8Array, plan: Float64Array, count: number): number;
  readAheadWait(): number;
}

/** a chunk of a mem_map range's struct pages: pfns [from, to) of range r */
interface Chunk {
  r: MemMapRange;
  from: number;
  to: number;
}

/** pieces of file one chunk's read-ahead may take (readahead.c's MAX_PLAN) */
const READ_AHEAD_PIECES = 64;

/** Whether the struct-page scan runs at all for this level (makedumpfile create_2nd_bitmap). */
export function scanNeeded(layout: PageLayout | undefined, dumpLevel: number): boolean {
  if (!layout) return false;
  return (dumpLevel & (DL_EXCLUDE_CACHE | DL_EXCLUDE_CACHE_PRI | DL_EXCLUDE_USER_DATA)) !== 0
    || layout.pgHwpoison >= 0
    || ((dumpLevel & DL_EXCLUDE_FREE) !== 0 && (layout.buddyValue !== undefined || layout.pgBuddy !== undefined));
}

export class PageScanner {
  private u8: Uint8Array;
  private u32: Uint32Array;
  private readonly valid = new Uint8Array(CHUNK_PFNS);
  private readonly codes = new Uint8Array(CHUNK_PFNS);
  private readonly orders = new Uint8Array(CHUNK_PFNS);
  private readonly rules: Rules;
  /** the rules for the C table, while it is used */
  private nativeRules?: Int32Array;

  constructor(private readonly setup: ScanSetup, private readonly tr: Translator,
    /** the input's 1st bitmap, when setup.inSegs is undefined */
    private readonly present?: Uint8Array,
    /** false: the JavaScript table even where the C one is built (tests compare the two) */
    useNative = true) {
    const buf = new ArrayBuffer(CHUNK_PFNS * setup.layout.sizePage);
    this.u8 = new Uint8Array(buf);
    this.u32 = new Uint32Array(buf);
    this.rules = rulesOf(setup.layout, setup.dumpLevel);
    this.useNative = useNative;
    if (useNative && nativeScan()) this.nativeRules = rulesArray(this.rules);
  }

  private readonly useNative: boolean;

  /**
   * Read-ahead (enableReadAhead): the chunk of struct pages expected next is read into the
   * other buffer on the addon's thread while this one is classified. Only a chunk that
   * lies whole in the input file's data is read ahead; any other, and any chunk not the
   * one expected, is read here as before: the bytes classified are the same either way.
   */
  private ahead?: {
    native: ReadAheadNative;
    fd: number;
    map: FileMap;
    other: Uint8Array;
    plan: Float64Array;
    /** the chunk being read ahead into `other` */
    pending?: Chunk;
  };

  /** chunks taken from the read-ahead so far */
  readAheadChunks = 0;

  /**
   * Reads the next chunk ahead on the addon's thread from now on (the input's file and
   * where its data is); false when the addon has no such thread. For a process with a
   * second CPU: on one, that thread could only take turns with this one.
   */
  enableReadAhead(direct: { fd: number; map: FileMap }): boolean {
    const native = nativeAddon() as Partial<ReadAheadNative> | undefined;
    if (!native?.readAhead || !native.readAheadWait) return false;
    this.ahead = {
      native: native as ReadAheadNative, fd: direct.fd, map: direct.map,
      other: new Uint8Array(this.u8.length), plan: new Float64Array(3 * READ_AHEAD_PIECES),
    };
    return true;
  }

  /** which decision table this scanner runs */
  get table(): 'native' | 'javascript' {
    return this.nativeRules ? 'native' : 'javascript';
  }

  private classify(n: number, firstPfn: number): number {
    if (this.nativeRules) {
      try {
        return nativeScan()!.classifyChunk(this.nativeRules, this.u8, this.valid, n, firstPfn, this.codes, this.orders);
      } catch {
        // a layout whose fields the C table will not read (outside a struct page): the
        // JavaScript table decides from here on
        this.nativeRules = undefined;
      }
    }
    return classifyChunk(this.rules, this.u8, this.u32, this.valid, n, firstPfn, this.codes, this.orders);
  }

  /**
   * Scans the mem_map ranges that start inside [sliceStart, sliceEnd) and clears excluded
   * pfns in `bitmap2` (covering pfns from `sliceStart`, 8 per byte). sliceStart must be
   * a range (section) boundary so that ranges are never split.
   */
  scan(sliceStart: number, sliceEnd: number, bitmap2: Uint8Array,
    /** told of every exclusion: pfns [start, end) and their counter (cyclodump map) */
    onExclude?: (start: number, end: number, counter: number) => void): ScanResult {
    const s = this.setup;
    const result: ScanResult = {
      counts: new Float64Array(NUM_COUNTERS), carries: [], memMapBytes: 0, unreadablePfns: 0, badOrderPfns: [],
    };
    const counts = result.counts;
    const maxMapnr = s.maxMapnr;
    const codes = this.codes;
    const orders = this.orders;
    const sliceBits = bitmap2.length * 8;
    // without PT_LOADs (refiltering), every pfn of the input's 1st bitmap is "in a segment"
    const inSegs: PfnRange[] = s.inSegs ?? [[0, maxMapnr]];
    const present = s.inSegs ? undefined : this.present;
    // the C loop, where nothing but the verdicts decides (no per-pfn callback, no input bitmap)
    const fast = this.useNative && onExclude === undefined && present === undefined ? nativeScan() : undefined;

    // a read ahead still running when the scan ends (or throws) is waited for: its buffer
    // is this scanner's, written by the addon's thread until then
    try {
      for (let ri = 0; ri < s.ranges.length; ri++) {
        const r = s.ranges[ri];
        if (r.pfnEnd <= sliceStart) continue;
        if (r.pfnStart >= sliceEnd) break;
        const rs = r.pfnStart;
        const re = Math.min(r.pfnEnd, maxMapnr);
        let segIdx = firstSegEndingAfter(inSegs, rs);
        let chunkStart = -1;
        let chunkEnd = -1;
        for (let pfn = rs; pfn < re; pfn++) {
          // memory holes (not in any PT_LOAD's file data) are never examined
          while (segIdx < inSegs.length && inSegs[segIdx][1] <= pfn) segIdx++;
          if (segIdx >= inSegs.length) break;
          if (inSegs[segIdx][0] > pfn) {
            pfn = Math.min(inSegs[segIdx][0], re) - 1;
            continue;
          }
          if (pfn >= chunkEnd) {
            chunkStart = pfn - ((pfn - rs) % PGMM_CACHED);
            chunkEnd = Math.min(chunkStart + CHUNK_PFNS, re);
            this.loadChunk(r, chunkStart, chunkEnd, result, ri, sliceEnd);
          }
          if (fast) {
            // kept and single excluded pfns in C, up to the chunk's or segment's end or the
            // next excluded block, which the code below handles
            const stopIdx = Math.min(chunkEnd, inSegs[segIdx][1]) - chunkStart;
            const next = fast.applyChunk(codes, orders, pfn - chunkStart, stopIdx, bitmap2, chunkStart - sliceStart, sliceBits, counts);
            if (next >= stopIdx) {
              pfn = chunkStart + stopIdx - 1;
              continue;
            }
            pfn = chunkStart + next;
          }
          const idx = pfn - chunkStart;
          const code = codes[idx];
          if (code < VERDICT.excludeBase) continue;
          if (present && (present[pfn >> 3] & (1 << (pfn & 7))) === 0) continue;
          const counter = code - VERDICT.excludeBase;
          const order = orders[idx];
          if (order === 0) {
            counts[counter] += 1;
            const i = pfn - sliceStart;
            if (i < sliceBits) bitmap2[i >> 3] &= ~(1 << (i & 7));
            if (onExclude !== undefined) onExclude(pfn, pfn + 1, counter);
            continue;
          }
          // a block: clear it (past the slice if need be) and step over it
          const end = Math.min(pfn + 2 ** order, maxMapnr);
          counts[counter] += end - pfn;
          clearBits(bitmap2, sliceStart, pfn, end);
          if (end > sliceEnd) result.carries.push({ end, counter });
          if (onExclude !== undefined) onExclude(pfn, end, counter);
          pfn = end - 1;
        }
      }
    } finally {
      this.dropReadAhead();
    }
    return result;
  }

  private loadChunk(r: MemMapRange, from: number, to: number, result: ScanResult, ri: number, sliceEnd: number): void {
    if (!this.takeReadAhead(r, from, to)) result.unreadablePfns += this.readChunk(r, from, to);
    result.memMapBytes += (to - from) * this.setup.layout.sizePage;
    if (this.ahead) this.readAhead(this.expectedAfter(r, to, ri, sliceEnd));
    const bad = this.classify(to - from, from);
    if (bad >= 0 && result.badOrderPfns.length < 16) result.badOrderPfns.push(bad);
  }

  /** The chunk the scan loads after [.., to) of range ri, as far as it can be told before classifying. */
  private expectedAfter(r: MemMapRange, to: number, ri: number, sliceEnd: number): Chunk | undefined {
    const s = this.setup;
    const end = Math.min(r.pfnEnd, s.maxMapnr);
    if (to < end) return { r, from: to, to: Math.min(to + CHUNK_PFNS, end) };
    const next = s.ranges[ri + 1];
    if (!next || next.pfnStart >= sliceEnd) return undefined;
    const nextEnd = Math.min(next.pfnEnd, s.maxMapnr);
    return next.pfnStart < nextEnd ? { r: next, from: next.pfnStart, to: Math.min(next.pfnStart + CHUNK_PFNS, nextEnd) } : undefined;
  }

  /**
   * Starts reading chunk c into the other buffer, when it lies whole in the input file's
   * data in at most READ_AHEAD_PIECES pieces (each page-table mapping, then each stretch
   * of the file, a piece).
   */
  private readAhead(c: Chunk | undefined): void {
    const a = this.ahead!;
    if (a.pending) return;
    if (!c) return;
    const sizePage = this.setup.layout.sizePage;
    const len = (c.to - c.from) * sizePage;
    const va = c.r.memMap + BigInt((c.from - c.r.pfnStart) * sizePage);
    const m = a.map;
    let n = 0;
    for (let done = 0; done < len;) {
      const t = this.tr.translate(va + BigInt(done));
      if (!t) return;
      const piece = Math.min(len - done, t.span);
      for (let p = t.pa, left = piece; left > 0;) {
        const i = m.find(p);
        if (i >= m.starts.length || m.starts[i] > p || n === READ_AHEAD_PIECES) return;
        const k = Math.min(left, m.ends[i] - p);
        a.plan[3 * n] = done + (piece - left);
        a.plan[3 * n + 1] = m.offsets[i] + (p - m.starts[i]);
        a.plan[3 * n + 2] = k;
        n++;
        p += k;
        left -= k;
      }
      done += piece;
    }
    if (a.native.readAhead(a.fd, a.other, a.plan, n) === 1) a.pending = c;
  }

  /** Whether chunk [from, to) of r was read ahead whole: its bytes are then this scanner's buffer. */
  private takeReadAhead(r: MemMapRange, from: number, to: number): boolean {
    const a = this.ahead;
    if (!a?.pending) return false;
    const p = a.pending;
    if (p.r !== r || p.from !== from || p.to !== to) {
      this.dropReadAhead();
      return false;
    }
    a.pending = undefined;
    if (a.native.readAheadWait() !== 1) return false;
    this.readAheadChunks++;
    const mine = this.u8;
    this.u8 = a.other;
    this.u32 = new Uint32Array(a.other.buffer);
    a.other = mine;
    this.valid.fill(1, 0, to - from);
    return true;
  }

  /** Waits for a read ahead that will not be used: its buffer is written until it ends. */
  private dropReadAhead(): void {
    const a = this.ahead;
    if (!a?.pending) return;
    a.native.readAheadWait();
    a.pending = undefined;
  }

  /** Reads struct pages of [from, to) of range r; marks which ones could be read. Returns the unreadable count. */
  private readChunk(r: MemMapRange, from: number, to: number): number {
    const sizePage = this.setup.layout.sizePage;
    const n = to - from;
    const len = n * sizePage;
    let va = r.memMap + BigInt((from - r.pfnStart) * sizePage);
    let done = 0;
    let bad = 0;
    this.valid.fill(1, 0, n);
    while (done < len) {
      const got = this.tr.readVirt(va, this.u8, done, len - done);
      done += got;
      va += BigInt(got);
      if (done >= len) break;
      // skip to the next 4 KiB of mem_map: that page of struct pages is not mapped or not dumped
      const skip = Math.min(len - done, 4096 - Number(va & 0xfffn));
      const firstBad = Math.floor(done / sizePage);
      const lastBad = Math.ceil((done + skip) / sizePage);
      for (let i = firstBad; i < lastBad && i < n; i++) {
        if (this.valid[i]) { this.valid[i] = 0; bad++; }
      }
      done += skip;
      va += BigInt(skip);
    }
    return bad;
  }
}

function firstSegEndingAfter(segs: PfnRange[], pfn: number): number {
  let lo = 0;
  let hi = segs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (segs[mid][1] <= pfn) lo = mid + 1; else hi = mid;
  }
  return lo;
}

// The mem_map scan: decides, from each pfn's struct page, whether the page is excluded
// and why. This is makedumpfile 1.7.2's __exclude_unnecessary_pages decision table row
// for row (spec page-filtering.md §3), with its one-cycle semantics: each mem_map range
// (memory section) is scanned from its start, an excluded block is skipped over, and an
// exclusion that runs past the end of the slice being scanned is handed back as a carry
// for the next slice.
//
// Hot loop: typed-array views over one reused buffer, no allocation per page.
import type { PageLayout } from '../kernel/page-layout';
import type { MemMapRange } from '../kernel/memmap';
import type { X86_64Translator } from '../translate/x86_64';
import {
  C_CACHE, C_CACHE_PRIVATE, C_FREE, C_HWPOISON, C_OFFLINE, C_USER,
  DL_EXCLUDE_CACHE, DL_EXCLUDE_CACHE_PRI, DL_EXCLUDE_FREE, DL_EXCLUDE_USER_DATA,
} from './dump-level';
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
  /** pfns whose first byte lies in PT_LOAD file data; others are memory holes, never examined */
  inSegs: PfnRange[];
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

/** Whether the struct-page scan runs at all for this level (makedumpfile create_2nd_bitmap). */
export function scanNeeded(layout: PageLayout | undefined, dumpLevel: number): boolean {
  if (!layout) return false;
  return (dumpLevel & (DL_EXCLUDE_CACHE | DL_EXCLUDE_CACHE_PRI | DL_EXCLUDE_USER_DATA)) !== 0
    || layout.pgHwpoison >= 0
    || ((dumpLevel & DL_EXCLUDE_FREE) !== 0 && (layout.buddyMapcount !== undefined || layout.pgBuddy !== undefined));
}

/** makedumpfile's test_bit: bit numbers mod 32 on the low word; bit 31 is sign-extended. */
function testBit(lo: number, hi: number, nr: number): boolean {
  const n = nr & 31;
  if (n === 31) return (lo & 0x80000000) !== 0 || hi !== 0;
  return ((lo >>> n) & 1) !== 0;
}

/** full 64-bit flag test (1UL << nr) */
function testBit64(lo: number, hi: number, nr: number): boolean {
  return nr < 32 ? ((lo >>> nr) & 1) !== 0 : ((hi >>> (nr - 32)) & 1) !== 0;
}

export class PageScanner {
  private readonly buf: ArrayBuffer;
  private readonly u8: Uint8Array;
  private readonly u32: Uint32Array;
  private readonly i32: Int32Array;
  private readonly valid = new Uint8Array(CHUNK_PFNS);

  constructor(private readonly setup: ScanSetup, private readonly tr: X86_64Translator) {
    this.buf = new ArrayBuffer(CHUNK_PFNS * setup.layout.sizePage);
    this.u8 = new Uint8Array(this.buf);
    this.u32 = new Uint32Array(this.buf);
    this.i32 = new Int32Array(this.buf);
  }

  /**
   * Scans the mem_map ranges that start inside [sliceStart, sliceEnd) and clears excluded
   * pfns in `bitmap2` (covering pfns from `sliceStart`, 8 per byte). sliceStart must be
   * the start of a mem_map range boundary (a section) so that ranges are never split.
   */
  scan(sliceStart: number, sliceEnd: number, bitmap2: Uint8Array): ScanResult {
    const s = this.setup;
    const L = s.layout;
    const level = s.dumpLevel;
    const result: ScanResult = {
      counts: new Float64Array(7), carries: [], memMapBytes: 0, unreadablePfns: 0, badOrderPfns: [],
    };
    const counts = result.counts;
    const maxMapnr = s.maxMapnr;
    const sizePage = L.sizePage;
    const u8 = this.u8;
    const u32 = this.u32;
    const i32 = this.i32;
    const valid = this.valid;
    const wFlags = L.offFlags >> 2;
    const wMapping = L.offMapping >> 2;
    const wMapcount = L.offMapcount >= 0 ? L.offMapcount >> 2 : -1;
    const wPrivate = L.offPrivate >= 0 ? L.offPrivate >> 2 : -1;
    const wHead = L.offCompoundHead >= 0 ? L.offCompoundHead >> 2 : -1;
    const wordsPerPage = sizePage >> 2;
    const exclFree = (level & DL_EXCLUDE_FREE) !== 0 && (L.buddyMapcount !== undefined || L.pgBuddy !== undefined);
    const exclCache = (level & DL_EXCLUDE_CACHE) !== 0;
    const exclCachePri = (level & DL_EXCLUDE_CACHE_PRI) !== 0;
    const exclUser = (level & DL_EXCLUDE_USER_DATA) !== 0;
    const buddyV3 = L.buddyMapcount !== undefined;
    const buddyValue = L.buddyMapcount ?? 0;
    const pgBuddy = L.pgBuddy ?? 0;
    const hasOffline = L.offlineMapcount !== undefined;
    const offlineValue = L.offlineMapcount ?? 0;
    const hasHw = L.pgHwpoison >= 0;
    const hugeDtor = L.hugetlbDtor;
    const freeHuge = L.freeHugePage;
    const freeAreaLength = L.freeAreaLength;
    const headLo = L.headMaskLo;
    const headHi = L.headMaskHi;
    const sliceBits = bitmap2.length * 8;
    const inSegs = s.inSegs;
    let segIdx = 0;

    const exclude = (pfn: number, nr: number, counter: number): void => {
      const end = Math.min(pfn + nr, maxMapnr);
      if (end <= pfn) return;
      counts[counter] += end - pfn;
      const a = pfn - sliceStart;
      const b = Math.min(end - sliceStart, sliceBits);
      for (let i = a; i < b; i++) bitmap2[i >> 3] &= ~(1 << (i & 7));
      if (end > sliceEnd) result.carries.push({ end, counter });
    };

    for (const r of s.ranges) {
      if (r.pfnEnd <= sliceStart) continue;
      if (r.pfnStart >= sliceEnd) break;
      const rs = r.pfnStart;
      const re = Math.min(r.pfnEnd, maxMapnr);
      // a jump past the previous range's end may have moved segIdx too far: search again
      let lo = 0;
      let hi = inSegs.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (inSegs[mid][1] <= rs) lo = mid + 1; else hi = mid;
      }
      segIdx = lo;
      let chunkStart = -1;
      let chunkEnd = -1;
      for (let pfn = rs; pfn < re; pfn++) {
        // memory holes: not in any PT_LOAD's file data
        while (segIdx < inSegs.length && inSegs[segIdx][1] <= pfn) segIdx++;
        if (segIdx >= inSegs.length) break;
        if (inSegs[segIdx][0] > pfn) {
          pfn = Math.min(inSegs[segIdx][0], re) - 1;
          continue;
        }
        if (pfn >= chunkEnd) {
          chunkStart = pfn - ((pfn - rs) % PGMM_CACHED);
          chunkEnd = Math.min(chunkStart + CHUNK_PFNS, re);
          result.unreadablePfns += this.readChunk(r, chunkStart, chunkEnd);
          result.memMapBytes += (chunkEnd - chunkStart) * sizePage;
        }
        const idx = pfn - chunkStart;
        if (!valid[idx]) continue;
        const w = idx * wordsPerPage;
        const flagsLo = u32[w + wFlags];
        const flagsHi = u32[w + wFlags + 1];
        // compound tail pages are decided by their head's range
        if (wHead >= 0 && (u32[w + wHead] & 1) !== 0) continue;
        const mapcount = wMapcount >= 0 ? i32[w + wMapcount] : 0;

        let order = 0;
        let dtor = 0;
        let dtorBig = 0n;
        if ((pfn & (PGMM_CACHED - 1)) !== PGMM_CACHED - 1 && ((flagsLo & headLo) !== 0 || (flagsHi & headHi) !== 0)
            && idx + 1 < chunkEnd - chunkStart && valid[idx + 1]) {
          const next = (idx + 1) * sizePage;
          if (L.orderOffset) {
            order = L.orderWidth === 1 ? u8[next + L.orderOffset] : u8[next + L.orderOffset] | (u8[next + L.orderOffset + 1] << 8);
          }
          if (L.dtorOffset) {
            if (L.dtorWidth === 1) dtor = u8[next + L.dtorOffset];
            else if (L.dtorWidth === 2) dtor = u8[next + L.dtorOffset] | (u8[next + L.dtorOffset + 1] << 8);
            else dtorBig = new DataView(this.buf).getBigUint64(next + L.dtorOffset, true);
          }
          if (order >= 64 || pfn % 2 ** order !== 0) order = 0;
        }
        let nr = 2 ** order;
        let counter: number;

        const slab = testBit64(flagsLo, flagsHi, L.pgSlab);
        const isBuddy = exclFree && (buddyV3 ? (!slab && mapcount === buddyValue) : testBit64(flagsLo, flagsHi, pgBuddy));
        if (isBuddy) {
          const privLo = u32[w + wPrivate];
          const privHi = u32[w + wPrivate + 1];
          if (freeAreaLength !== undefined && (privHi !== 0 || privLo >= freeAreaLength)) {
            if (result.badOrderPfns.length < 16) result.badOrderPfns.push(pfn);
            continue;
          }
          if (privHi !== 0 || privLo >= 64) {
            if (result.badOrderPfns.length < 16) result.badOrderPfns.push(pfn);
            continue;
          }
          nr = 2 ** privLo;
          counter = C_FREE;
        } else {
          const mappingAnon = (u32[w + wMapping] & 1) !== 0;
          const lru = testBit(flagsLo, flagsHi, L.pgLru);
          const cache = lru || ((L.pgSwapbacked < 0 || testBit(flagsLo, flagsHi, L.pgSwapbacked)) && testBit(flagsLo, flagsHi, L.pgSwapcache));
          const priv = testBit(flagsLo, flagsHi, L.pgPrivate);
          if (exclCache && cache && !priv && !mappingAnon) {
            counter = C_CACHE;
          } else if (exclCachePri && cache && !mappingAnon) {
            counter = priv ? C_CACHE_PRIVATE : C_CACHE;
          } else if (exclUser && (mappingAnon
              || (hugeDtor !== undefined && dtor === hugeDtor && L.dtorWidth !== 8)
              || (freeHuge !== undefined && (L.dtorWidth === 8 ? dtorBig === freeHuge : BigInt(dtor) === freeHuge)))) {
            counter = C_USER;
          } else if (hasHw && testBit(flagsLo, flagsHi, L.pgHwpoison)) {
            counter = C_HWPOISON;
          } else if (hasOffline && !slab && mapcount === offlineValue) {
            counter = C_OFFLINE;
          } else {
            continue;
          }
        }
        if (nr === 1) {
          counts[counter] += 1;
          const i = pfn - sliceStart;
          if (i < sliceBits) bitmap2[i >> 3] &= ~(1 << (i & 7));
        } else {
          exclude(pfn, nr, counter);
          pfn += nr - 1;
        }
      }
    }
    return result;
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

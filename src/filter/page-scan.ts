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
import type { Translator } from '../translate';
import {
  C_CACHE, C_CACHE_PRIVATE, C_FREE, C_HWPOISON, C_OFFLINE, C_USER,
  DL_EXCLUDE_CACHE, DL_EXCLUDE_CACHE_PRI, DL_EXCLUDE_FREE, DL_EXCLUDE_USER_DATA,
} from './dump-level';
import { clearBits } from './bitmap';
import { nativeScan } from './native-scan';
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

/** Whether the struct-page scan runs at all for this level (makedumpfile create_2nd_bitmap). */
export function scanNeeded(layout: PageLayout | undefined, dumpLevel: number): boolean {
  if (!layout) return false;
  return (dumpLevel & (DL_EXCLUDE_CACHE | DL_EXCLUDE_CACHE_PRI | DL_EXCLUDE_USER_DATA)) !== 0
    || layout.pgHwpoison >= 0
    || ((dumpLevel & DL_EXCLUDE_FREE) !== 0 && (layout.buddyValue !== undefined || layout.pgBuddy !== undefined));
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

/** per-pfn verdicts of one chunk: KEEP, TAIL (decided by its head), or EXCLUDE_BASE + counter */
const KEEP = 0;
const TAIL = 1;
const EXCLUDE_BASE = 2;

/** The layout's constants, flattened for the classification loop. */
interface Rules {
  wordsPerPage: number;
  sizePage: number;
  wFlags: number;
  wMapping: number;
  wMapcount: number;
  wPrivate: number;
  wHead: number;
  /** 0 none, 1 byte/u16 of the next struct page, 2 low byte of the next page's flags */
  orderKind: number;
  orderOffset: number;
  orderWidth: number;
  headLo: number;
  headHi: number;
  pgLru: number;
  pgPrivate: number;
  pgSwapcache: number;
  pgSwapbacked: number;
  pgHwpoison: number;
  exclFree: boolean;
  exclCache: boolean;
  exclCachePri: boolean;
  exclUser: boolean;
  /** page types compared by their top byte (6.12+) instead of the whole word */
  topByte: boolean;
  hasBuddyType: boolean;
  buddyValue: number;
  pgBuddy: number;
  hasOffline: boolean;
  offlineValue: number;
  hasUnaccepted: boolean;
  unacceptedValue: number;
  /** 0 none, 1 page type, 2 first-tail flag, 3 dtor byte/u16, 4 dtor pointer */
  hugeKind: number;
  hugeValue: number;
  hugeBit: number;
  hugeOffset: number;
  hugeWidth: number;
  hugePtrLo: number;
  hugePtrHi: number;
  /** 0 none, 1 page type, 2 flag */
  slabKind: number;
  slabValue: number;
  slabBit: number;
  /** LENGTH(zone.free_area), or 64 when unknown */
  freeAreaLength: number;
}

/**
 * The rules' fields in the order native/pagescan.c reads them (its R_* enum): the C table
 * gets them as one Int32Array, booleans as 0/1, u32 values wrapped to int32.
 */
const RULE_FIELDS = [
  'wordsPerPage', 'sizePage', 'wFlags', 'wMapping', 'wMapcount', 'wPrivate', 'wHead',
  'orderKind', 'orderOffset', 'orderWidth', 'headLo', 'headHi',
  'pgLru', 'pgPrivate', 'pgSwapcache', 'pgSwapbacked', 'pgHwpoison',
  'exclFree', 'exclCache', 'exclCachePri', 'exclUser', 'topByte',
  'hasBuddyType', 'buddyValue', 'pgBuddy', 'hasOffline', 'offlineValue',
  'hasUnaccepted', 'unacceptedValue',
  'hugeKind', 'hugeValue', 'hugeBit', 'hugeOffset', 'hugeWidth', 'hugePtrLo', 'hugePtrHi',
  'slabKind', 'slabValue', 'slabBit', 'freeAreaLength',
] as const satisfies readonly (keyof Rules)[];
// every field of Rules is in the list (a compile error otherwise)
const allRuleFields: Exclude<keyof Rules, typeof RULE_FIELDS[number]> extends never ? true : never = true;
void allRuleFields;

function rulesArray(R: Rules): Int32Array {
  const a = new Int32Array(RULE_FIELDS.length);
  RULE_FIELDS.forEach((k, i) => { a[i] = Number(R[k]) | 0; });
  return a;
}

function rulesOf(L: PageLayout, level: number): Rules {
  const h = L.hugetlb;
  return {
    wordsPerPage: L.sizePage >> 2,
    sizePage: L.sizePage,
    wFlags: L.offFlags >> 2,
    wMapping: L.offMapping >> 2,
    wMapcount: L.offMapcount >= 0 ? L.offMapcount >> 2 : -1,
    wPrivate: L.offPrivate >= 0 ? L.offPrivate >> 2 : -1,
    wHead: L.offCompoundHead >= 0 ? L.offCompoundHead >> 2 : -1,
    orderKind: L.order.kind === 'offset' ? 1 : L.order.kind === 'tail-flags' ? 2 : 0,
    orderOffset: L.order.kind === 'offset' ? L.order.offset : 0,
    orderWidth: L.order.kind === 'offset' ? L.order.width : 1,
    headLo: L.headMaskLo,
    headHi: L.headMaskHi,
    pgLru: L.pgLru,
    pgPrivate: L.pgPrivate,
    pgSwapcache: L.pgSwapcache,
    pgSwapbacked: L.pgSwapbacked,
    pgHwpoison: L.pgHwpoison,
    exclFree: (level & DL_EXCLUDE_FREE) !== 0 && (L.buddyValue !== undefined || L.pgBuddy !== undefined),
    exclCache: (level & DL_EXCLUDE_CACHE) !== 0,
    exclCachePri: (level & DL_EXCLUDE_CACHE_PRI) !== 0,
    exclUser: (level & DL_EXCLUDE_USER_DATA) !== 0,
    topByte: L.typeScheme === 'top-byte',
    hasBuddyType: L.buddyValue !== undefined,
    buddyValue: L.buddyValue ?? 0,
    pgBuddy: L.pgBuddy ?? 0,
    hasOffline: L.offlineValue !== undefined,
    offlineValue: L.offlineValue ?? 0,
    hasUnaccepted: L.unacceptedValue !== undefined,
    unacceptedValue: L.unacceptedValue ?? 0,
    hugeKind: h.kind === 'page-type' ? 1 : h.kind === 'tail-flag' ? 2 : h.kind === 'dtor' ? 3 : h.kind === 'dtor-pointer' ? 4 : 0,
    hugeValue: h.kind === 'page-type' || h.kind === 'dtor' ? h.value : 0,
    hugeBit: h.kind === 'tail-flag' ? h.bit : 0,
    hugeOffset: h.kind === 'dtor' || h.kind === 'dtor-pointer' ? h.offset : 0,
    hugeWidth: h.kind === 'dtor' ? h.width : 8,
    hugePtrLo: h.kind === 'dtor-pointer' ? Number(h.value & 0xffffffffn) : 0,
    hugePtrHi: h.kind === 'dtor-pointer' ? Number(h.value >> 32n) : 0,
    slabKind: L.slab.kind === 'page-type' ? 1 : L.slab.kind === 'flag' ? 2 : 0,
    slabValue: L.slab.kind === 'page-type' ? L.slab.value : 0,
    slabBit: L.slab.kind === 'flag' ? L.slab.bit : 0,
    freeAreaLength: L.freeAreaLength ?? 64,
  };
}

/** Whether a page_type word holds type `value` (exact word before 6.12, top byte from 6.12). */
function isType(topByte: boolean, pt: number, value: number): boolean {
  return topByte ? (pt >>> 24) === (value >>> 24) : (pt >>> 0) === (value >>> 0);
}

/** Whether the page_type word holds any type at all (then the mapping word is not a mapping). */
function hasType(topByte: boolean, pt: number): boolean {
  if (topByte) {
    const t = pt >>> 24;
    return t >= 0xf0 && t <= 0xfe;
  }
  return (pt | 0) < -128;
}

/**
 * The page decision table (page-filtering.md §3, extended per docs/kernel-page-layouts.md
 * §4) for `n` struct pages read for pfns [firstPfn, firstPfn + n): one verdict and block
 * order per pfn. Kept small and free of allocation so that the JIT compiles it quickly and
 * well. Returns the first pfn with an out-of-range buddy order, or -1.
 *
 * On 6.1 this is makedumpfile 1.7.2's table exactly: slab and typed pages are never taken
 * for cache or user data, which on 6.1 they cannot be anyway.
 *
 * native/pagescan.c is this function in C, used where the addon is built; a change here
 * is made there too (test/filter/native-scan compares the two on the real fixtures).
 */
function classifyChunk(R: Rules, u8: Uint8Array, u32: Uint32Array, valid: Uint8Array,
  n: number, firstPfn: number, codes: Uint8Array, orders: Uint8Array): number {
  let badOrder = -1;
  for (let idx = 0; idx < n; idx++) {
    orders[idx] = 0;
    if (valid[idx] === 0) { codes[idx] = KEEP; continue; }
    const w = idx * R.wordsPerPage;
    // compound tail pages are decided by their head's range
    if (R.wHead >= 0 && (u32[w + R.wHead] & 1) !== 0) { codes[idx] = TAIL; continue; }
    const flagsLo = u32[w + R.wFlags];
    const flagsHi = u32[w + R.wFlags + 1];
    const pfn = firstPfn + idx;
    const pt = R.wMapcount >= 0 ? u32[w + R.wMapcount] : 0xffffffff;
    let order = 0;
    let huge = R.hugeKind === 1 && isType(R.topByte, pt, R.hugeValue);
    // compound order and hugetlb markers live in the next struct page, read only inside the
    // same group of 512 (makedumpfile's page cache)
    if ((pfn & 511) !== 511 && ((flagsLo & R.headLo) !== 0 || (flagsHi & R.headHi) !== 0)
        && idx + 1 < n && valid[idx + 1] !== 0) {
      const next = (idx + 1) * R.sizePage;
      const nw = (idx + 1) * R.wordsPerPage;
      if (R.orderKind === 1) {
        order = R.orderWidth === 1 ? u8[next + R.orderOffset] : u8[next + R.orderOffset] | (u8[next + R.orderOffset + 1] << 8);
      } else if (R.orderKind === 2) {
        order = u32[nw + R.wFlags] & 0xff;
      }
      if (order >= 64 || pfn % 2 ** order !== 0) order = 0;
      if (R.hugeKind === 3) {
        const d = R.hugeWidth === 1 ? u8[next + R.hugeOffset] : u8[next + R.hugeOffset] | (u8[next + R.hugeOffset + 1] << 8);
        huge = d === R.hugeValue;
      } else if (R.hugeKind === 4) {
        huge = u32[(next + R.hugeOffset) >> 2] === R.hugePtrLo && u32[((next + R.hugeOffset) >> 2) + 1] === R.hugePtrHi;
      } else if (R.hugeKind === 2) {
        // 6.6-6.8: PG_hugetlb in the first tail page; only x86_64's huge page orders can
        // be hugetlb (the flag was seen set on other compound pages, makedumpfile issue #21)
        huge = testBit64(u32[nw + R.wFlags], u32[nw + R.wFlags + 1], R.hugeBit) && (order === 9 || order === 18);
      }
    } else if (R.hugeKind !== 1) {
      huge = false;
    }
    const slab = R.slabKind === 1 ? isType(R.topByte, pt, R.slabValue) : R.slabKind === 2 ? testBit64(flagsLo, flagsHi, R.slabBit) : false;
    if (R.exclFree && (R.hasBuddyType ? (!slab && isType(R.topByte, pt, R.buddyValue)) : testBit64(flagsLo, flagsHi, R.pgBuddy))) {
      const privLo = u32[w + R.wPrivate];
      const privHi = u32[w + R.wPrivate + 1];
      if (privHi !== 0 || privLo >= R.freeAreaLength) {
        // an order the zone cannot have: keep the page, as makedumpfile does
        if (badOrder < 0) badOrder = pfn;
        codes[idx] = KEEP;
        continue;
      }
      codes[idx] = EXCLUDE_BASE + C_FREE;
      orders[idx] = privLo;
      continue;
    }
    if (R.exclFree && R.hasUnaccepted && isType(R.topByte, pt, R.unacceptedValue)) {
      codes[idx] = EXCLUDE_BASE + C_FREE;
      orders[idx] = R.freeAreaLength - 1;
      continue;
    }
    // Slab pages, page tables, zsmalloc, guard pages...: kernel data whose mapping word is
    // something else (from 6.2 a slab's holds a counter that looks anonymous). They are
    // never cache or user data; hwpoison still applies.
    const kernelTyped = slab || (!huge && hasType(R.topByte, pt) && !(R.hasOffline && isType(R.topByte, pt, R.offlineValue))
        && !(R.hasBuddyType && isType(R.topByte, pt, R.buddyValue))
        && !(R.hasUnaccepted && isType(R.topByte, pt, R.unacceptedValue)));
    const anon = !kernelTyped && (u32[w + R.wMapping] & 1) !== 0;
    const cache = !kernelTyped && (testBit(flagsLo, flagsHi, R.pgLru)
      || ((R.pgSwapbacked < 0 || testBit(flagsLo, flagsHi, R.pgSwapbacked)) && testBit(flagsLo, flagsHi, R.pgSwapcache)));
    const priv = testBit(flagsLo, flagsHi, R.pgPrivate);
    let code = KEEP;
    if (R.exclCache && cache && !priv && !anon) {
      code = EXCLUDE_BASE + C_CACHE;
    } else if (R.exclCachePri && cache && !anon) {
      code = EXCLUDE_BASE + (priv ? C_CACHE_PRIVATE : C_CACHE);
    } else if (R.exclUser && (anon || huge)) {
      code = EXCLUDE_BASE + C_USER;
    } else if (R.pgHwpoison >= 0 && testBit(flagsLo, flagsHi, R.pgHwpoison)) {
      code = EXCLUDE_BASE + C_HWPOISON;
    } else if (R.hasOffline && !slab && isType(R.topByte, pt, R.offlineValue)) {
      code = EXCLUDE_BASE + C_OFFLINE;
    }
    codes[idx] = code;
    orders[idx] = order;
  }
  return badOrder;
}

export class PageScanner {
  private readonly buf: ArrayBuffer;
  private readonly u8: Uint8Array;
  private readonly u32: Uint32Array;
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
    this.buf = new ArrayBuffer(CHUNK_PFNS * setup.layout.sizePage);
    this.u8 = new Uint8Array(this.buf);
    this.u32 = new Uint32Array(this.buf);
    this.rules = rulesOf(setup.layout, setup.dumpLevel);
    this.useNative = useNative;
    if (useNative && nativeScan()) this.nativeRules = rulesArray(this.rules);
  }

  private readonly useNative: boolean;

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
      counts: new Float64Array(7), carries: [], memMapBytes: 0, unreadablePfns: 0, badOrderPfns: [],
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

    for (const r of s.ranges) {
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
          this.loadChunk(r, chunkStart, chunkEnd, result);
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
        if (code < EXCLUDE_BASE) continue;
        if (present && (present[pfn >> 3] & (1 << (pfn & 7))) === 0) continue;
        const counter = code - EXCLUDE_BASE;
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
    return result;
  }

  private loadChunk(r: MemMapRange, from: number, to: number, result: ScanResult): void {
    result.unreadablePfns += this.readChunk(r, from, to);
    result.memMapBytes += (to - from) * this.setup.layout.sizePage;
    const bad = this.classify(to - from, from);
    if (bad >= 0 && result.badOrderPfns.length < 16) result.badOrderPfns.push(bad);
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

// The page decision table: from a struct page (and, for a compound head, the next one),
// whether the page is kept, a compound tail, or excluded and why. This is makedumpfile
// 1.7.2's __exclude_unnecessary_pages table row for row (spec page-filtering.md §3),
// extended per docs/kernel-page-layouts.md §4 for the kernels after 6.1.
//
// The table runs in two languages: classifyChunk below, and `classify` in
// native/pagescan.c where the addon is built. Everything the two share is declared here
// once: the rules' fields (RULE_FIELDS, handed to C as one Int32Array in that order), the
// kinds of order, hugetlb and slab markers, and the verdict codes. The build generates
// native's header from these declarations (src/cli/native-header.ts), and the addon
// reports the declarations it was built from, so that a stale build is never used
// (native-scan.ts). test/filter/page-rules.test.ts runs both tables over synthetic struct
// pages of every kernel generation resolvePageLayout knows.
import type { PageLayout } from '../kernel/page-layout';
import {
  C_CACHE, C_CACHE_PRIVATE, C_FREE, C_HWPOISON, C_OFFLINE, C_USER, C_ZERO, NUM_COUNTERS,
  DL_EXCLUDE_CACHE, DL_EXCLUDE_CACHE_PRI, DL_EXCLUDE_FREE, DL_EXCLUDE_USER_DATA,
} from './dump-level';

/** Where a compound head's order is (PageLayout.order). */
export const ORDER_KIND = { none: 0, offset: 1, tailFlags: 2 } as const;
/** How a hugetlb folio is marked (PageLayout.hugetlb). */
export const HUGE_KIND = { none: 0, pageType: 1, tailFlag: 2, dtor: 3, dtorPointer: 4 } as const;
/** How a slab page is marked (PageLayout.slab). */
export const SLAB_KIND = { none: 0, pageType: 1, flag: 2 } as const;
/** Per-pfn verdicts: kept, a compound tail (decided by its head), or excludeBase + counter. */
export const VERDICT = { keep: 0, tail: 1, excludeBase: 2 } as const;
/** The page counters of dump-level.ts, which the verdicts and the C scan loop's counts index. */
export const COUNTERS = { C_ZERO, C_CACHE, C_CACHE_PRIVATE, C_USER, C_FREE, C_HWPOISON, C_OFFLINE, NUM_COUNTERS } as const;

/**
 * The rules' fields, in the order the C table reads them. Booleans are 0/1 and u32
 * values wrapped to int32.
 */
export const RULE_FIELDS = [
  'wordsPerPage', 'sizePage', 'wFlags', 'wMapping', 'wMapcount', 'wPrivate', 'wHead',
  /** ORDER_KIND; offset and width (1 or 2 bytes) in the next struct page when `offset` */
  'orderKind', 'orderOffset', 'orderWidth', 'headLo', 'headHi',
  'pgLru', 'pgPrivate', 'pgSwapcache', 'pgSwapbacked', 'pgHwpoison',
  'exclFree', 'exclCache', 'exclCachePri', 'exclUser',
  /** page types compared by their top byte (6.12+) instead of the whole word */
  'topByte',
  'hasBuddyType', 'buddyValue', 'pgBuddy', 'hasOffline', 'offlineValue',
  'hasUnaccepted', 'unacceptedValue',
  /** HUGE_KIND and its value, flag bit, or offset and width in the next struct page */
  'hugeKind', 'hugeValue', 'hugeBit', 'hugeOffset', 'hugeWidth', 'hugePtrLo', 'hugePtrHi',
  /** SLAB_KIND */
  'slabKind', 'slabValue', 'slabBit',
  /** LENGTH(zone.free_area), or 64 when unknown */
  'freeAreaLength',
] as const;

export type RuleField = typeof RULE_FIELDS[number];
/** The layout's constants, flattened for the classification loop. */
export type Rules = Record<RuleField, number>;

/**
 * What the C table must have been built from: the declarations above as text. The
 * generated header holds the same text, and the addon reports it (scanDeclarations).
 */
export function scanDeclarations(): string {
  return JSON.stringify({ RULE_FIELDS, ORDER_KIND, HUGE_KIND, SLAB_KIND, VERDICT, COUNTERS });
}

const bit = (b: boolean): number => (b ? 1 : 0);

function orderRules(L: PageLayout): Pick<Rules, 'orderKind' | 'orderOffset' | 'orderWidth'> {
  const o = L.order;
  if (o.kind === 'offset') return { orderKind: ORDER_KIND.offset, orderOffset: o.offset, orderWidth: o.width };
  return { orderKind: o.kind === 'tail-flags' ? ORDER_KIND.tailFlags : ORDER_KIND.none, orderOffset: 0, orderWidth: 1 };
}

type HugeRules = Pick<Rules, 'hugeKind' | 'hugeValue' | 'hugeBit' | 'hugeOffset' | 'hugeWidth' | 'hugePtrLo' | 'hugePtrHi'>;

function hugeRules(L: PageLayout): HugeRules {
  const none: HugeRules = { hugeKind: HUGE_KIND.none, hugeValue: 0, hugeBit: 0, hugeOffset: 0, hugeWidth: 8, hugePtrLo: 0, hugePtrHi: 0 };
  const h = L.hugetlb;
  switch (h.kind) {
    case 'page-type': return { ...none, hugeKind: HUGE_KIND.pageType, hugeValue: h.value };
    case 'tail-flag': return { ...none, hugeKind: HUGE_KIND.tailFlag, hugeBit: h.bit };
    case 'dtor': return { ...none, hugeKind: HUGE_KIND.dtor, hugeValue: h.value, hugeOffset: h.offset, hugeWidth: h.width };
    case 'dtor-pointer':
      return {
        ...none, hugeKind: HUGE_KIND.dtorPointer, hugeOffset: h.offset,
        hugePtrLo: Number(h.value & 0xffffffffn) | 0, hugePtrHi: Number(h.value >> 32n) | 0,
      };
    default: return none;
  }
}

export function rulesOf(L: PageLayout, dumpLevel: number): Rules {
  const level = dumpLevel & ~(L.keepClasses ?? 0);
  return {
    wordsPerPage: L.sizePage >> 2,
    sizePage: L.sizePage,
    wFlags: L.offFlags >> 2,
    wMapping: L.offMapping >> 2,
    wMapcount: L.offMapcount >= 0 ? L.offMapcount >> 2 : -1,
    wPrivate: L.offPrivate >= 0 ? L.offPrivate >> 2 : -1,
    wHead: L.offCompoundHead >= 0 ? L.offCompoundHead >> 2 : -1,
    ...orderRules(L),
    headLo: L.headMaskLo | 0,
    headHi: L.headMaskHi | 0,
    pgLru: L.pgLru,
    pgPrivate: L.pgPrivate,
    pgSwapcache: L.pgSwapcache,
    pgSwapbacked: L.pgSwapbacked,
    pgHwpoison: L.pgHwpoison,
    exclFree: bit((level & DL_EXCLUDE_FREE) !== 0 && (L.buddyValue !== undefined || L.pgBuddy !== undefined)),
    exclCache: bit((level & DL_EXCLUDE_CACHE) !== 0),
    exclCachePri: bit((level & DL_EXCLUDE_CACHE_PRI) !== 0),
    exclUser: bit((level & DL_EXCLUDE_USER_DATA) !== 0),
    topByte: bit(L.typeScheme === 'top-byte'),
    hasBuddyType: bit(L.buddyValue !== undefined),
    buddyValue: L.buddyValue ?? 0,
    pgBuddy: L.pgBuddy ?? 0,
    hasOffline: bit(L.offlineValue !== undefined),
    offlineValue: L.offlineValue ?? 0,
    hasUnaccepted: bit(L.unacceptedValue !== undefined),
    unacceptedValue: L.unacceptedValue ?? 0,
    ...hugeRules(L),
    slabKind: L.slab.kind === 'page-type' ? SLAB_KIND.pageType : L.slab.kind === 'flag' ? SLAB_KIND.flag : SLAB_KIND.none,
    slabValue: L.slab.kind === 'page-type' ? L.slab.value : 0,
    slabBit: L.slab.kind === 'flag' ? L.slab.bit : 0,
    freeAreaLength: L.freeAreaLength ?? 64,
  };
}

/** The rules as the C table takes them. */
export function rulesArray(R: Rules): Int32Array {
  return Int32Array.from(RULE_FIELDS, (k) => R[k] | 0);
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

/** Whether a page_type word holds type `value` (exact word before 6.12, top byte from 6.12). */
function isType(topByte: number, pt: number, value: number): boolean {
  return topByte ? (pt >>> 24) === (value >>> 24) : (pt >>> 0) === (value >>> 0);
}

/** Whether the page_type word holds any type at all (then the mapping word is not a mapping). */
function hasType(topByte: number, pt: number): boolean {
  if (topByte) {
    const t = pt >>> 24;
    return t >= 0xf0 && t <= 0xfe;
  }
  return (pt | 0) < -128;
}

/** A u8 or little-endian u16 at byte `at`. */
function readNarrow(u8: Uint8Array, at: number, width: number): number {
  return width === 1 ? u8[at] : u8[at] | (u8[at + 1] << 8);
}

/**
 * The table for `n` struct pages read for pfns [firstPfn, firstPfn + n): one verdict and
 * block order per pfn (valid[i] === 0: struct page i could not be read, kept). Kept small
 * and free of allocation so that the JIT compiles it quickly and well. Returns the first
 * pfn with an out-of-range buddy order, or -1.
 *
 * On 6.1 this is makedumpfile 1.7.2's table exactly: slab and typed pages are never taken
 * for cache or user data, which on 6.1 they cannot be anyway.
 */
export function classifyChunk(R: Rules, u8: Uint8Array, u32: Uint32Array, valid: Uint8Array,
  n: number, firstPfn: number, codes: Uint8Array, orders: Uint8Array): number {
  let badOrder = -1;
  for (let idx = 0; idx < n; idx++) {
    orders[idx] = 0;
    if (valid[idx] === 0) { codes[idx] = VERDICT.keep; continue; }
    const w = idx * R.wordsPerPage;
    // compound tail pages are decided by their head's range
    if (R.wHead >= 0 && (u32[w + R.wHead] & 1) !== 0) { codes[idx] = VERDICT.tail; continue; }
    const flagsLo = u32[w + R.wFlags];
    const flagsHi = u32[w + R.wFlags + 1];
    const pfn = firstPfn + idx;
    const pt = R.wMapcount >= 0 ? u32[w + R.wMapcount] : 0xffffffff;
    let order = 0;
    let huge = R.hugeKind === HUGE_KIND.pageType && isType(R.topByte, pt, R.hugeValue);
    // compound order and hugetlb markers live in the next struct page, read only inside the
    // same group of 512 (makedumpfile's page cache)
    if ((pfn & 511) !== 511 && ((flagsLo & R.headLo) !== 0 || (flagsHi & R.headHi) !== 0)
        && idx + 1 < n && valid[idx + 1] !== 0) {
      const next = (idx + 1) * R.sizePage;
      const nw = (idx + 1) * R.wordsPerPage;
      if (R.orderKind === ORDER_KIND.offset) order = readNarrow(u8, next + R.orderOffset, R.orderWidth);
      else if (R.orderKind === ORDER_KIND.tailFlags) order = u32[nw + R.wFlags] & 0xff;
      if (order >= 64 || pfn % 2 ** order !== 0) order = 0;
      if (R.hugeKind === HUGE_KIND.dtor) {
        huge = readNarrow(u8, next + R.hugeOffset, R.hugeWidth) === R.hugeValue;
      } else if (R.hugeKind === HUGE_KIND.dtorPointer) {
        // word-aligned, as the C table reads it
        const at = nw + (R.hugeOffset >> 2);
        huge = (u32[at] | 0) === R.hugePtrLo && (u32[at + 1] | 0) === R.hugePtrHi;
      } else if (R.hugeKind === HUGE_KIND.tailFlag) {
        // 6.6-6.8: PG_hugetlb in the first tail page; only x86_64's huge page orders can
        // be hugetlb (the flag was seen set on other compound pages, makedumpfile issue #21)
        huge = testBit64(u32[nw + R.wFlags], u32[nw + R.wFlags + 1], R.hugeBit) && (order === 9 || order === 18);
      }
    } else if (R.hugeKind !== HUGE_KIND.pageType) {
      huge = false;
    }
    const slab = R.slabKind === SLAB_KIND.pageType ? isType(R.topByte, pt, R.slabValue)
      : R.slabKind === SLAB_KIND.flag ? testBit64(flagsLo, flagsHi, R.slabBit) : false;
    if (R.exclFree && (R.hasBuddyType ? (!slab && isType(R.topByte, pt, R.buddyValue)) : testBit64(flagsLo, flagsHi, R.pgBuddy))) {
      const privLo = u32[w + R.wPrivate];
      const privHi = u32[w + R.wPrivate + 1];
      if (privHi !== 0 || privLo >= R.freeAreaLength) {
        // an order the zone cannot have: keep the page, as makedumpfile does
        if (badOrder < 0) badOrder = pfn;
        codes[idx] = VERDICT.keep;
        continue;
      }
      codes[idx] = VERDICT.excludeBase + C_FREE;
      orders[idx] = privLo;
      continue;
    }
    if (R.exclFree && R.hasUnaccepted && isType(R.topByte, pt, R.unacceptedValue)) {
      codes[idx] = VERDICT.excludeBase + C_FREE;
      orders[idx] = R.freeAreaLength - 1;
      continue;
    }
    codes[idx] = pageVerdict(R, flagsLo, flagsHi, pt, u32[w + R.wMapping], slab, huge);
    orders[idx] = order;
  }
  return badOrder;
}

/** The rows after the free-page ones, for a page that is not a compound tail nor free. */
function pageVerdict(R: Rules, flagsLo: number, flagsHi: number, pt: number, mappingLo: number, slab: boolean, huge: boolean): number {
  // Slab pages, page tables, zsmalloc, guard pages...: kernel data whose mapping word is
  // something else (from 6.2 a slab's holds a counter that looks anonymous). They are
  // never cache or user data; hwpoison still applies.
  const kernelTyped = slab || (!huge && hasType(R.topByte, pt) && !(R.hasOffline && isType(R.topByte, pt, R.offlineValue))
      && !(R.hasBuddyType && isType(R.topByte, pt, R.buddyValue))
      && !(R.hasUnaccepted && isType(R.topByte, pt, R.unacceptedValue)));
  const anon = !kernelTyped && (mappingLo & 1) !== 0;
  const cache = !kernelTyped && (testBit(flagsLo, flagsHi, R.pgLru)
    || ((R.pgSwapbacked < 0 || testBit(flagsLo, flagsHi, R.pgSwapbacked)) && testBit(flagsLo, flagsHi, R.pgSwapcache)));
  const priv = testBit(flagsLo, flagsHi, R.pgPrivate);
  if (R.exclCache && cache && !priv && !anon) return VERDICT.excludeBase + C_CACHE;
  if (R.exclCachePri && cache && !anon) return VERDICT.excludeBase + (priv ? C_CACHE_PRIVATE : C_CACHE);
  if (R.exclUser && (anon || huge)) return VERDICT.excludeBase + C_USER;
  if (R.pgHwpoison >= 0 && testBit(flagsLo, flagsHi, R.pgHwpoison)) return VERDICT.excludeBase + C_HWPOISON;
  if (R.hasOffline && !slab && isType(R.topByte, pt, R.offlineValue)) return VERDICT.excludeBase + C_OFFLINE;
  return VERDICT.keep;
}

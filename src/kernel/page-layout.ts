// What the page filter needs to know about `struct page`, resolved once from VMCOREINFO.
// Kernel knowledge lives here as data: which word holds what, which flag bit means what,
// which magic _mapcount value marks a free buddy page. The filter reads this record and
// never looks at VMCOREINFO or kernel versions itself.
//
// The rules reproduce makedumpfile 1.7.2 (spec page-filtering.md §2-§3), including its
// fallbacks for keys an old kernel does not export (get_value_for_old_linux).
import { DumpError } from '../util/errors';
import { VmcoreInfo } from './vmcoreinfo';

/** Fallback page-flag numbers makedumpfile uses when a kernel does not export them. */
const PG_LRU_ORIGINAL = 5;
const PG_SLAB_ORIGINAL = 7;
const PG_PRIVATE_ORIGINAL = 11;
const PG_COMPOUND_ORIGINAL = 14;
const PG_SWAPCACHE_ORIGINAL = 15;

export interface PageLayout {
  /** SIZE(page) */
  sizePage: number;
  offFlags: number;
  offMapping: number;
  offRefcount: number;
  /** -1 when the kernel does not export it */
  offMapcount: number;
  offPrivate: number;
  offCompoundHead: number;
  /** byte offset, inside the *next* struct page, of compound_order (0: unknown) */
  orderOffset: number;
  /** 1 (u8, 4.16+) or 2 (u16) */
  orderWidth: number;
  dtorOffset: number;
  /** 1 (u8, 4.16+), 2 (u16, 4.4-4.15) or 8 (function pointer, older) */
  dtorWidth: number;
  /** flag bit numbers (bit tests use the low 32 bits of flags, bit numbers mod 32) */
  pgLru: number;
  pgPrivate: number;
  pgSwapcache: number;
  /** -1: PG_swapbacked unknown, so PG_swapcache alone marks swap cache */
  pgSwapbacked: number;
  /** full 64-bit test, as makedumpfile does with 1UL << PG_slab */
  pgSlab: number;
  /** -1: no CONFIG_MEMORY_FAILURE, so no hwpoison test and no forced scan */
  pgHwpoison: number;
  /** PG_head_mask split in two 32-bit halves */
  headMaskLo: number;
  headMaskHi: number;
  /** PageBuddy: v3 compares _mapcount with this value; undefined when not available */
  buddyMapcount?: number;
  /** PageBuddy v2 (2.6.17-2.6.37): a flag bit */
  pgBuddy?: number;
  /** PageOffline _mapcount value */
  offlineMapcount?: number;
  /** compound_dtor value of hugetlb pages */
  hugetlbDtor?: number;
  /** SYMBOL(free_huge_page): the dtor of hugetlb pages on kernels that stored a pointer */
  freeHugePage?: bigint;
  /** LENGTH(zone.free_area): buddy orders at or above it are bogus and kept */
  freeAreaLength?: number;
}

function need(v: number | undefined, what: string): number {
  if (v === undefined) throw new DumpError('no-page-layout', `VMCOREINFO lacks ${what}, needed to read struct page`);
  return v;
}

function bitNumber(v: number | undefined, fallback: number, what: string): number {
  const n = v ?? fallback;
  if (!Number.isInteger(n) || n < 0 || n > 63) {
    throw new DumpError('bad-vmcoreinfo', `VMCOREINFO value out of range: NUMBER(${what})=${n}`);
  }
  return n;
}

/** Numeric kernel version as makedumpfile computes it: major<<16 | minor<<8 | patch. */
export function kernelVersionCode(release: string): number {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release);
  if (!m) return 0;
  return (Number(m[1]) << 16) | (Number(m[2]) << 8) | Math.min(Number(m[3] ?? 0), 255);
}

export function resolvePageLayout(vi: VmcoreInfo, kernelVersion: number): PageLayout {
  const sizePage = need(vi.size('page'), 'SIZE(page)');
  if (sizePage < 16 || sizePage > 1024 || sizePage % 8 !== 0) {
    throw new DumpError('bad-vmcoreinfo', `implausible SIZE(page)=${sizePage}`);
  }
  const off = (name: string, required: boolean): number => {
    const v = vi.offset(name);
    if (v === undefined) {
      if (required) need(v, `OFFSET(${name})`);
      return -1;
    }
    if (v < 0 || v + 4 > sizePage) throw new DumpError('bad-vmcoreinfo', `OFFSET(${name})=${v} lies outside struct page (${sizePage} bytes)`);
    return v;
  };
  const offFlags = off('page.flags', true);
  const offMapping = off('page.mapping', true);
  const offRefcount = off('page._refcount', true);
  const offMapcount = off('page._mapcount', false);
  const offPrivate = off('page.private', false);
  const offCompoundHead = off('page.compound_head', false);
  for (const [name, o] of [['page.flags', offFlags], ['page.mapping', offMapping], ['page.private', offPrivate], ['page.compound_head', offCompoundHead]] as const) {
    if (o >= 0 && (o % 8 !== 0 || o + 8 > sizePage)) {
      throw new DumpError('bad-vmcoreinfo', `OFFSET(${name})=${o} is not an aligned 8-byte field of struct page`);
    }
  }
  if (offMapcount >= 0 && offMapcount % 4 !== 0) {
    throw new DumpError('bad-vmcoreinfo', `OFFSET(page._mapcount)=${offMapcount} is not 4-byte aligned`);
  }

  const v4_4 = 0x040400;
  const v4_16 = 0x041000;
  const lruOff = vi.offset('page.lru');
  const listPrev = vi.offset('list_head.prev');
  const listNext = vi.offset('list_head.next');
  let orderOffset = vi.offset('page.compound_order') ?? -1;
  if (orderOffset < 0) {
    orderOffset = kernelVersion < v4_4 && lruOff !== undefined && listPrev !== undefined ? lruOff + listPrev : 0;
  }
  let dtorOffset = vi.offset('page.compound_dtor') ?? -1;
  if (dtorOffset < 0) {
    dtorOffset = kernelVersion < v4_4 && lruOff !== undefined && listNext !== undefined ? lruOff + listNext : 0;
  }
  const orderWidth = kernelVersion >= v4_16 ? 1 : 2;
  const dtorWidth = kernelVersion >= v4_16 ? 1 : kernelVersion >= v4_4 ? 2 : 8;
  if (orderOffset + orderWidth > sizePage || dtorOffset + dtorWidth > sizePage) {
    throw new DumpError('bad-vmcoreinfo', 'OFFSET(page.compound_order/compound_dtor) lies outside struct page');
  }

  const pgLru = bitNumber(vi.number('PG_lru'), PG_LRU_ORIGINAL, 'PG_lru');
  const pgPrivate = bitNumber(vi.number('PG_private'), PG_PRIVATE_ORIGINAL, 'PG_private');
  const pgSwapcache = bitNumber(vi.number('PG_swapcache'), PG_SWAPCACHE_ORIGINAL, 'PG_swapcache');
  let pgSwapbacked = vi.number('PG_swapbacked') ?? -1;
  if (pgSwapbacked < 0 && pgSwapcache < pgPrivate) pgSwapbacked = pgPrivate + 6;
  if (pgSwapbacked !== -1) bitNumber(pgSwapbacked, 0, 'PG_swapbacked');
  const pgSlab = bitNumber(vi.number('PG_slab'), PG_SLAB_ORIGINAL, 'PG_slab');
  const hw = vi.number('PG_hwpoison');
  const pgHwpoison = hw === undefined ? -1 : bitNumber(hw, 0, 'PG_hwpoison');
  const headMask = BigInt.asUintN(64, BigInt(vi.numberBig('PG_head_mask') ?? (1n << BigInt(vi.number('PG_head') ?? PG_COMPOUND_ORIGINAL))));

  const layout: PageLayout = {
    sizePage, offFlags, offMapping, offRefcount, offMapcount, offPrivate, offCompoundHead,
    orderOffset, orderWidth, dtorOffset, dtorWidth,
    pgLru, pgPrivate, pgSwapcache, pgSwapbacked, pgSlab, pgHwpoison,
    headMaskLo: Number(headMask & 0xffffffffn), headMaskHi: Number(headMask >> 32n),
  };
  // setup_page_is_buddy: v3 needs page.private, PAGE_BUDDY_MAPCOUNT_VALUE and page._mapcount
  if (offPrivate >= 0) {
    const pgBuddy = vi.number('PG_buddy');
    if (pgBuddy === undefined) {
      const bv = vi.number('PAGE_BUDDY_MAPCOUNT_VALUE');
      if (bv !== undefined && offMapcount >= 0) layout.buddyMapcount = bv | 0;
    } else {
      layout.pgBuddy = bitNumber(pgBuddy, 0, 'PG_buddy');
    }
  }
  const ov = vi.number('PAGE_OFFLINE_MAPCOUNT_VALUE');
  if (ov !== undefined) layout.offlineMapcount = ov | 0;
  const hd = vi.number('HUGETLB_PAGE_DTOR');
  if (hd !== undefined) layout.hugetlbDtor = hd;
  const fhp = vi.symbol('free_huge_page');
  if (fhp !== undefined) layout.freeHugePage = fhp;
  const fal = vi.length('zone.free_area');
  if (fal !== undefined) layout.freeAreaLength = fal;
  return layout;
}

/** Whether the free-page test works from mem_map alone (no free-list walk needed). */
export function hasBuddyTest(l: PageLayout): boolean {
  return l.buddyMapcount !== undefined || l.pgBuddy !== undefined;
}

// What the page filter needs to know about `struct page`, resolved once from VMCOREINFO.
// Kernel knowledge lives here as data: which word holds what, which flag bit means what,
// how page types are encoded, where a folio keeps its order and how hugetlb and slab
// folios are marked. Every decision is keyed on what VMCOREINFO exports, not on a version
// string, so one code path serves 6.1 and 6.12 and what lies between
// (docs/kernel-page-layouts.md has the facts and where they were checked). The filter
// reads this record and never looks at VMCOREINFO or kernel versions itself.
//
// On 6.1 the result is makedumpfile 1.7.2's classification exactly (spec
// page-filtering.md §2-§3), including its fallbacks for keys old kernels lack.
import { DumpError } from '../util/errors';
import { checkStructPage } from './plausibility';
import { VmcoreInfo } from './vmcoreinfo';

/** Fallback page-flag numbers makedumpfile uses when a kernel does not export them. */
const PG_LRU_ORIGINAL = 5;
const PG_PRIVATE_ORIGINAL = 11;
const PG_COMPOUND_ORIGINAL = 14;
const PG_SWAPCACHE_ORIGINAL = 15;
const PG_SLAB_ORIGINAL = 7;

/** Newest kernel whose layout was checked on a real dump (docs/kernel-page-layouts.md). */
export const NEWEST_VERIFIED_KERNEL = 0x060c00;
export const NEWEST_VERIFIED_KERNEL_NAME = '6.12';

/**
 * How `page_type` (the `_mapcount` word) encodes a type. 6.1-6.11 clear one bit of
 * 0xffffffff per type and export the exact word; 6.12 stores type << 24 and may keep
 * owner data in the low 24 bits, so only the top byte is compared.
 */
export type TypeScheme = 'inverted' | 'top-byte';

/** Where a compound head's order is: a byte (or u16) of the next struct page, its flags' low byte (6.6+), or nowhere. */
export type OrderSource =
  | { kind: 'offset'; offset: number; width: 1 | 2 }
  | { kind: 'tail-flags' }
  | { kind: 'none' };

/** How a hugetlb folio is told apart. */
export type HugetlbMarker =
  /** 6.9+ (and 6.6.30+, 6.8.9+): the head's page type */
  | { kind: 'page-type'; value: number }
  /** 6.6-6.8: a flag in the first tail page's flags */
  | { kind: 'tail-flag'; bit: number }
  /** 4.4-6.5: the compound destructor id in the first tail page */
  | { kind: 'dtor'; offset: number; width: 1 | 2; value: number }
  /** before 4.4: the destructor was a function pointer */
  | { kind: 'dtor-pointer'; offset: number; value: bigint }
  | { kind: 'none' };

/** How a slab page is told apart (it must never be taken for anything else). */
export type SlabMarker = { kind: 'page-type'; value: number } | { kind: 'flag'; bit: number } | { kind: 'none' };

export interface PageLayout {
  /** short description of the layout found, for messages and the README */
  generation: string;
  /** SIZE(page) */
  sizePage: number;
  offFlags: number;
  offMapping: number;
  offRefcount: number;
  /** -1 when the kernel does not export it */
  offMapcount: number;
  offPrivate: number;
  offCompoundHead: number;
  typeScheme: TypeScheme;
  order: OrderSource;
  hugetlb: HugetlbMarker;
  slab: SlabMarker;
  /** flag bit numbers (bit tests use the low 32 bits of flags, bit numbers mod 32) */
  pgLru: number;
  pgPrivate: number;
  pgSwapcache: number;
  /** -1: PG_swapbacked unknown, so PG_swapcache alone marks swap cache */
  pgSwapbacked: number;
  /** -1: no CONFIG_MEMORY_FAILURE, so no hwpoison test and no forced scan */
  pgHwpoison: number;
  /** PG_head_mask split in two 32-bit halves */
  headMaskLo: number;
  headMaskHi: number;
  /** PageBuddy by page type; undefined when not available */
  buddyValue?: number;
  /** PageBuddy v2 (2.6.17-2.6.37): a flag bit */
  pgBuddy?: number;
  offlineValue?: number;
  /** 6.16+: unaccepted memory, free in blocks of 2^(LENGTH(zone.free_area)-1) pages */
  unacceptedValue?: number;
  /** LENGTH(zone.free_area): buddy orders at or above it are bogus and kept */
  freeAreaLength?: number;
  /** dump-level class bits kept whatever the level says: a value they depend on is implausible (plausibility.ts) */
  keepClasses?: number;
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

const V4_4 = 0x040400;
const V4_16 = 0x041000;
const V6_6 = 0x060600;

/** An offset inside struct page that must leave room for a `width`-byte field. */
function within(sizePage: number, o: number, width: number, what: string): number {
  if (o < 0 || o + width > sizePage) throw new DumpError('bad-vmcoreinfo', `${what}=${o} lies outside struct page`);
  return o;
}

/** struct page's size and the offsets of the fields every rule reads, checked for place and alignment. */
function fieldOffsets(vi: VmcoreInfo): Pick<PageLayout, 'sizePage' | 'offFlags' | 'offMapping' | 'offRefcount' | 'offMapcount' | 'offPrivate' | 'offCompoundHead'> {
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
  // before 4.6 the field was _count
  const offRefcount = vi.offset('page._refcount') === undefined && vi.offset('page._count') !== undefined
    ? off('page._count', true) : off('page._refcount', true);
  const offMapcount = off('page._mapcount', false);
  const offPrivate = off('page.private', false);
  // 7.1 renames compound_head to compound_info; bit 0 still marks tail pages
  const offCompoundHead = vi.offset('page.compound_head') !== undefined ? off('page.compound_head', false) : off('page.compound_info', false);
  for (const [name, o] of [['page.flags', offFlags], ['page.mapping', offMapping], ['page.private', offPrivate], ['page.compound_head', offCompoundHead]] as const) {
    if (o >= 0 && (o % 8 !== 0 || o + 8 > sizePage)) {
      throw new DumpError('bad-vmcoreinfo', `OFFSET(${name})=${o} is not an aligned 8-byte field of struct page`);
    }
  }
  if (offMapcount >= 0 && offMapcount % 4 !== 0) {
    throw new DumpError('bad-vmcoreinfo', `OFFSET(page._mapcount)=${offMapcount} is not 4-byte aligned`);
  }
  const fields = { sizePage, offFlags, offMapping, offRefcount, offMapcount, offPrivate, offCompoundHead };
  checkStructPage(fields);
  return fields;
}

/** Where a compound head keeps its order (first match); its generation goes to `generations`. */
function orderSource(vi: VmcoreInfo, kernelVersion: number, sizePage: number, offCompoundHead: number, generations: string[]): OrderSource {
  const pageOrder = vi.offset('page.compound_order');
  const folioOrder = vi.offset('folio._folio_order');
  const lruOff = vi.offset('page.lru');
  if (pageOrder !== undefined) {
    generations.push('order in page.compound_order (4.16-6.2)');
    return { kind: 'offset', offset: within(sizePage, pageOrder, 2, 'OFFSET(page.compound_order)'), width: kernelVersion >= V4_16 ? 1 : 2 };
  }
  if (folioOrder !== undefined) {
    // exported relative to the folio (the head page): the first tail starts SIZE(page) later
    generations.push('order in folio._folio_order (6.3-6.5)');
    return { kind: 'offset', offset: within(sizePage, folioOrder - sizePage, 1, 'OFFSET(folio._folio_order)'), width: 1 };
  }
  if (kernelVersion !== 0 && kernelVersion < V4_4 && lruOff !== undefined && vi.offset('list_head.prev') !== undefined) {
    generations.push('order in page.lru (before 4.4)');
    return { kind: 'offset', offset: within(sizePage, lruOff + vi.offset('list_head.prev')!, 2, 'order offset'), width: 2 };
  }
  if (offCompoundHead >= 0 && kernelVersion >= V6_6) {
    // 6.6 moved the order into the low byte of the first tail page's flags and exports
    // no offset for it; a kernel that exports neither older key has it there
    generations.push('order in the first tail page\'s flags (6.6+)');
    return { kind: 'tail-flags' };
  }
  generations.push('compound order unknown: compound pages are taken page by page');
  return { kind: 'none' };
}

/** How a hugetlb page is told (first match). */
function hugetlbMarker(vi: VmcoreInfo, kernelVersion: number, sizePage: number): HugetlbMarker {
  const hugeType = vi.number('PAGE_HUGETLB_MAPCOUNT_VALUE');
  const pgHugetlb = vi.number('PG_hugetlb');
  const hugeDtor = vi.number('HUGETLB_PAGE_DTOR');
  const freeHugePage = vi.symbol('free_huge_page');
  const lruOff = vi.offset('page.lru');
  const dtorOffset = vi.offset('page.compound_dtor') ?? (vi.offset('folio._folio_dtor') !== undefined ? vi.offset('folio._folio_dtor')! - sizePage : undefined)
    ?? (kernelVersion !== 0 && kernelVersion < V4_4 && lruOff !== undefined && vi.offset('list_head.next') !== undefined ? lruOff + vi.offset('list_head.next')! : undefined);
  if (hugeType !== undefined) return { kind: 'page-type', value: hugeType | 0 };
  if (pgHugetlb !== undefined) return { kind: 'tail-flag', bit: bitNumber(pgHugetlb, 0, 'PG_hugetlb') };
  if (dtorOffset !== undefined && hugeDtor !== undefined) {
    return { kind: 'dtor', offset: within(sizePage, dtorOffset, 2, 'compound_dtor offset'), width: kernelVersion >= V4_16 || vi.offset('folio._folio_dtor') !== undefined ? 1 : 2, value: hugeDtor };
  }
  if (dtorOffset !== undefined && freeHugePage !== undefined) {
    return { kind: 'dtor-pointer', offset: within(sizePage, dtorOffset, 8, 'compound_dtor offset'), value: freeHugePage };
  }
  return { kind: 'none' };
}

/** How a slab page is told. */
function slabMarker(vi: VmcoreInfo, kernelVersion: number): SlabMarker {
  const slabType = vi.number('PAGE_SLAB_MAPCOUNT_VALUE');
  const pgSlab = vi.number('PG_slab');
  if (slabType !== undefined) return { kind: 'page-type', value: slabType | 0 };
  if (pgSlab !== undefined) return { kind: 'flag', bit: bitNumber(pgSlab, 0, 'PG_slab') };
  // makedumpfile's fallback bit 7 is right for old kernels only: from 6.6 it is PG_waiters
  if (kernelVersion !== 0 && kernelVersion < V6_6) return { kind: 'flag', bit: PG_SLAB_ORIGINAL };
  return { kind: 'none' };
}

export function resolvePageLayout(vi: VmcoreInfo, kernelVersion: number): PageLayout {
  const fields = fieldOffsets(vi);
  const generations: string[] = [];
  const order = orderSource(vi, kernelVersion, fields.sizePage, fields.offCompoundHead, generations);
  // --- how page types are encoded ---
  const buddyRaw = vi.number('PAGE_BUDDY_MAPCOUNT_VALUE');
  const typeScheme: TypeScheme = buddyRaw !== undefined && ((buddyRaw >>> 0) & 0x00ffffff) === 0 ? 'top-byte' : 'inverted';
  generations.push(typeScheme === 'top-byte' ? 'page types in the top byte of page_type (6.12+)' : 'page types as inverted bits of _mapcount (up to 6.11)');
  const hugetlb = hugetlbMarker(vi, kernelVersion, fields.sizePage);
  const slab = slabMarker(vi, kernelVersion);

  const pgLru = bitNumber(vi.number('PG_lru'), PG_LRU_ORIGINAL, 'PG_lru');
  const pgPrivate = bitNumber(vi.number('PG_private'), PG_PRIVATE_ORIGINAL, 'PG_private');
  const pgSwapcache = bitNumber(vi.number('PG_swapcache'), PG_SWAPCACHE_ORIGINAL, 'PG_swapcache');
  let pgSwapbacked = vi.number('PG_swapbacked') ?? -1;
  if (pgSwapbacked < 0 && pgSwapcache < pgPrivate) pgSwapbacked = pgPrivate + 6;
  if (pgSwapbacked !== -1) bitNumber(pgSwapbacked, 0, 'PG_swapbacked');
  const hw = vi.number('PG_hwpoison');
  const pgHwpoison = hw === undefined ? -1 : bitNumber(hw, 0, 'PG_hwpoison');
  const headMask = BigInt.asUintN(64, BigInt(vi.numberBig('PG_head_mask') ?? (1n << BigInt(vi.number('PG_head') ?? PG_COMPOUND_ORIGINAL))));

  const layout: PageLayout = {
    generation: generations.join('; '), ...fields,
    typeScheme, order, hugetlb, slab,
    pgLru, pgPrivate, pgSwapcache, pgSwapbacked, pgHwpoison,
    headMaskLo: Number(headMask & 0xffffffffn), headMaskHi: Number(headMask >> 32n),
  };
  // setup_page_is_buddy: by type needs page.private, the buddy value and page._mapcount;
  // PG_buddy (2.6.17-2.6.37) only when no buddy value is exported
  if (fields.offPrivate >= 0) {
    if (buddyRaw !== undefined && fields.offMapcount >= 0) layout.buddyValue = buddyRaw | 0;
    else if (vi.number('PG_buddy') !== undefined) layout.pgBuddy = bitNumber(vi.number('PG_buddy'), 0, 'PG_buddy');
  }
  const ov = vi.number('PAGE_OFFLINE_MAPCOUNT_VALUE');
  if (ov !== undefined) layout.offlineValue = ov | 0;
  const uv = vi.number('PAGE_UNACCEPTED_MAPCOUNT_VALUE');
  if (uv !== undefined) layout.unacceptedValue = uv | 0;
  const fal = vi.length('zone.free_area');
  if (fal !== undefined) {
    if (fal < 1 || fal > 64) throw new DumpError('bad-vmcoreinfo', `implausible LENGTH(zone.free_area)=${fal}`);
    layout.freeAreaLength = fal;
  }
  return layout;
}

/** Whether the free-page test works from mem_map alone (no free-list walk needed). */
export function hasBuddyTest(l: PageLayout): boolean {
  return l.buddyValue !== undefined || l.pgBuddy !== undefined;
}

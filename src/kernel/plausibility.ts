// The VMCOREINFO values the filter excludes pages on, checked before a page is excluded on
// their word. A value no kernel has exported (a page type of the wrong form, a flag number
// beyond the flags word or shared with another flag, two page types that are the same) is
// not evidence: the classes it would decide are kept, with one warning line, and the run
// goes on ("never exclude what cannot be proved excludable", docs/faults.md). Which
// values each kernel generation exports is in docs/kernel-page-layouts.md §1-§2.
//
// Struct page geometry (SIZE(page), the offsets) is checked where it is read
// (page-layout.ts): without it nothing can be classified, so it is refused instead.
import { DL_EXCLUDE_CACHE, DL_EXCLUDE_CACHE_PRI, DL_EXCLUDE_FREE, DL_EXCLUDE_USER_DATA } from '../filter/dump-level';
import { DumpError } from '../util/errors';
import type { PageLayout, TypeScheme } from './page-layout';

/** NUMBER(PAGE_*_MAPCOUNT_VALUE) of each page type, as each generation of kernels exports it (int32). */
interface TypeEra {
  name: string;
  buddy: number;
  offline?: number;
  hugetlb?: number;
  slab?: number;
  unaccepted?: number;
}

const inverted = (bit: number): number => ~bit | 0;
const topByte = (t: number): number => (t << 24) | 0;

export const TYPE_ERAS: readonly TypeEra[] = [
  // 2.6.38-4.17: PAGE_BUDDY_MAPCOUNT_VALUE (-128), no other type exported
  { name: '2.6.38-4.17', buddy: -128 },
  // 4.18-6.10: page_type with one bit cleared per type (PG_buddy 0x80, PG_offline 0x100,
  // PG_hugetlb 0x800 from 6.9, PG_slab 0x1000 from 6.10)
  { name: '4.18-6.10', buddy: inverted(0x80), offline: inverted(0x100), hugetlb: inverted(0x800), slab: inverted(0x1000) },
  // 6.11: the type bits moved up under PAGE_TYPE_BASE 0x80000000
  { name: '6.11', buddy: inverted(0x40000000), offline: inverted(0x20000000), hugetlb: inverted(0x04000000), slab: inverted(0x02000000) },
  // 6.12+: one type per page, PGTY_* << 24 (buddy 0xf0, offline 0xf1, hugetlb 0xf4, slab 0xf5, unaccepted 0xf7)
  { name: '6.12+', buddy: topByte(0xf0), offline: topByte(0xf1), hugetlb: topByte(0xf4), slab: topByte(0xf5), unaccepted: topByte(0xf7) },
];

function schemeOf(e: TypeEra): TypeScheme {
  return e.buddy === TYPE_ERAS[TYPE_ERAS.length - 1].buddy ? 'top-byte' : 'inverted';
}

/** HUGETLB_PAGE_DTOR: enum compound_dtor_id's third entry on every kernel that exports it (4.4-6.8). */
const HUGETLB_PAGE_DTOR = 2;
/** the first kernel with top-byte page types (6.12) */
const FIRST_TOP_BYTE_KERNEL = 0x060c00;
/**
 * The flag numbers the filter tests (PG_lru ... PG_hwpoison, PG_head, PG_buddy) lie in
 * [4, 28) on every kernel: bits 0-3 are PG_locked, PG_referenced/PG_error, PG_uptodate,
 * PG_dirty since 2.6, and the enum ends below 28 even with every option of 6.1 (PG_young,
 * PG_idle, PG_arch_2 and PG_skip_kasan_poison come after PG_hwpoison). Bit 31 would make
 * makedumpfile's sign-extended test_bit true for most pages.
 */
const FLAG_MIN = 4;
const FLAG_END = 28;

type TypeKey = 'buddy' | 'offline' | 'hugetlb' | 'slab' | 'unaccepted';
const TYPE_KEYS: Record<TypeKey, string> = {
  buddy: 'PAGE_BUDDY_MAPCOUNT_VALUE', offline: 'PAGE_OFFLINE_MAPCOUNT_VALUE', hugetlb: 'PAGE_HUGETLB_MAPCOUNT_VALUE',
  slab: 'PAGE_SLAB_MAPCOUNT_VALUE', unaccepted: 'PAGE_UNACCEPTED_MAPCOUNT_VALUE',
};

/** What a distrusted value decides: the pages that are then kept. */
const KEPT_BY: Record<string, string> = {
  buddy: 'free pages', offline: 'offline pages', hugetlb: 'hugetlb pages are not taken for user data',
  slab: 'slab pages are told by their page type alone', unaccepted: 'unaccepted pages', hwpoison: 'hwpoisoned pages',
  cache: 'page cache pages', cachePrivate: 'page cache pages without private data', user: 'page cache and user pages',
  head: 'compound pages are taken page by page',
};

/** The page types the layout uses, by key. */
function typeValues(L: PageLayout): Partial<Record<TypeKey, number>> {
  return {
    buddy: L.buddyValue, offline: L.offlineValue, unaccepted: L.unacceptedValue,
    hugetlb: L.hugetlb.kind === 'page-type' ? L.hugetlb.value : undefined,
    slab: L.slab.kind === 'page-type' ? L.slab.value : undefined,
  };
}

/**
 * The page types that no kernel exported in this combination: the buddy value names the
 * generation (when there is one), and every other type must be that generation's.
 */
function implausibleTypes(L: PageLayout): TypeKey[] {
  const values = typeValues(L);
  const given = (Object.keys(values) as TypeKey[]).filter((k) => values[k] !== undefined);
  if (given.length === 0) return [];
  if (values.buddy === undefined) {
    // no buddy value to name the generation: each type must be one of a generation of the
    // scheme in use (the inverted one, without a buddy value)
    const eras = TYPE_ERAS.filter((e) => schemeOf(e) === L.typeScheme);
    return given.filter((k) => !eras.some((e) => e[k] === values[k]));
  }
  const era = TYPE_ERAS.find((e) => e.buddy === values.buddy);
  // a buddy value of no generation also leaves the encoding of the others unknown
  if (!era) return given;
  return given.filter((k) => era[k] !== values[k]);
}

interface FlagUse {
  key: string;
  bit: number;
  /** what is kept when the number is implausible (KEPT_BY) */
  kept: string;
}

/** The page flag numbers the layout tests, each with what it decides. */
function flagUses(L: PageLayout): FlagUse[] {
  const flags: FlagUse[] = [
    { key: 'PG_lru', bit: L.pgLru, kept: 'cache' }, { key: 'PG_private', bit: L.pgPrivate, kept: 'cachePrivate' },
    { key: 'PG_swapcache', bit: L.pgSwapcache, kept: 'cache' }, { key: 'PG_head_mask', bit: headBit(L), kept: 'head' },
  ];
  if (L.pgSwapbacked >= 0) flags.push({ key: 'PG_swapbacked', bit: L.pgSwapbacked, kept: 'cache' });
  if (L.pgHwpoison >= 0) flags.push({ key: 'PG_hwpoison', bit: L.pgHwpoison, kept: 'hwpoison' });
  if (L.slab.kind === 'flag') flags.push({ key: 'PG_slab', bit: L.slab.bit, kept: 'user' });
  if (L.pgBuddy !== undefined) flags.push({ key: 'PG_buddy', bit: L.pgBuddy, kept: 'buddy' });
  return flags;
}

/** Flag numbers beyond the flags word, or two flags on one bit (both are then wrong, and nothing tells which). */
function implausibleFlags(L: PageLayout): FlagUse[] {
  const flags = flagUses(L);
  return flags.filter((f) => f.bit < FLAG_MIN || f.bit >= FLAG_END || flags.some((g) => g !== f && g.bit === f.bit));
}

/** PG_head's bit number from its mask, or -1 when the mask is not one bit below 32. */
function headBit(L: PageLayout): number {
  if (L.headMaskHi !== 0 || L.headMaskLo === 0 || (L.headMaskLo & (L.headMaskLo - 1)) !== 0) return -1;
  return 31 - Math.clz32(L.headMaskLo);
}

/** The layout with every implausible value's classes kept, and one warning line per value. */
export function plausibleLayout(L: PageLayout, kernelVersion: number, warn: (m: string) => void): PageLayout {
  const out: PageLayout = { ...L, keepClasses: L.keepClasses ?? 0 };
  const buddyEra = TYPE_ERAS.find((e) => e.buddy === L.buddyValue);
  if (L.buddyValue !== undefined && !buddyEra) {
    // the buddy value chose the encoding of page types (page-layout.ts); without it the
    // kernel's version does, so that typed pages are still told from cache and user pages
    out.typeScheme = kernelVersion >= FIRST_TOP_BYTE_KERNEL ? 'top-byte' : 'inverted';
  }
  const say = (what: string, kept: string): void => warn(`VMCOREINFO ${what} is not a value any kernel has exported; ${KEPT_BY[kept] ?? kept} are kept`);
  const badTypes = implausibleTypes(L);
  if (L.buddyValue !== undefined && !buddyEra) {
    // one line: the other types are not wrong, only unprovable
    const others = badTypes.filter((k) => k !== 'buddy').map((k) => KEPT_BY[k].split(' ')[0]);
    warn(`VMCOREINFO NUMBER(${TYPE_KEYS.buddy})=${L.buddyValue} is not a value any kernel has exported, and the other page types are read by its`
      + ` encoding; free${others.map((o) => `, ${o}`).join('')} pages are kept`);
  }
  for (const k of badTypes) {
    if (!(L.buddyValue !== undefined && !buddyEra)) say(`NUMBER(${TYPE_KEYS[k]})=${typeValues(L)[k]}`, k);
    if (k === 'buddy') out.buddyValue = undefined;
    if (k === 'offline') out.offlineValue = undefined;
    if (k === 'unaccepted') out.unacceptedValue = undefined;
    if (k === 'hugetlb') out.hugetlb = { kind: 'none' };
    if (k === 'slab') out.slab = { kind: 'none' };
  }
  if (L.hugetlb.kind === 'dtor' && L.hugetlb.value !== HUGETLB_PAGE_DTOR) {
    say(`NUMBER(HUGETLB_PAGE_DTOR)=${L.hugetlb.value}`, 'hugetlb');
    out.hugetlb = { kind: 'none' };
  }
  for (const f of implausibleFlags(L)) {
    const value = f.key === 'PG_head_mask' ? String((BigInt(L.headMaskHi >>> 0) << 32n) | BigInt(L.headMaskLo >>> 0)) : String(f.bit);
    say(`NUMBER(${f.key})=${value}`, f.kept);
    if (f.kept === 'cache') out.keepClasses! |= DL_EXCLUDE_CACHE | DL_EXCLUDE_CACHE_PRI;
    if (f.kept === 'cachePrivate') out.keepClasses! |= DL_EXCLUDE_CACHE;
    if (f.kept === 'user') out.keepClasses! |= DL_EXCLUDE_CACHE | DL_EXCLUDE_CACHE_PRI | DL_EXCLUDE_USER_DATA;
    if (f.kept === 'hwpoison') out.pgHwpoison = -1;
    if (f.kept === 'buddy') out.pgBuddy = undefined;
    if (f.kept === 'head') {
      out.headMaskLo = 0;
      out.headMaskHi = 0;
    }
  }
  if (L.hugetlb.kind === 'tail-flag' && (L.hugetlb.bit < FLAG_MIN || L.hugetlb.bit >= FLAG_END)) {
    say(`NUMBER(PG_hugetlb)=${L.hugetlb.bit}`, 'hugetlb');
    out.hugetlb = { kind: 'none' };
  }
  tailBytes(L, out, warn);
  if (out.buddyValue === undefined && out.pgBuddy === undefined && (L.buddyValue !== undefined || L.pgBuddy !== undefined)) {
    out.keepClasses! |= DL_EXCLUDE_FREE;
  }
  return out;
}

/**
 * A compound head's order and hugetlb destructor are bytes of the first tail page in the
 * word after its compound_head (the second word of lru, 4.4-6.2; folio's _folio_order and
 * _folio_dtor, 6.3-6.5), and never the same byte. Elsewhere they would be read from a
 * pointer or a counter: the order is then not used (compound pages taken page by page) and
 * hugetlb pages are not told.
 */
function tailBytes(L: PageLayout, out: PageLayout, warn: (m: string) => void): void {
  if (L.offCompoundHead < 0) return;
  const from = L.offCompoundHead + 8;
  const inWord = (o: number, w: number): boolean => o >= from && o + w <= from + 8;
  const order = L.order.kind === 'offset' ? L.order : undefined;
  const dtor = L.hugetlb.kind === 'dtor' ? L.hugetlb : undefined;
  const overlap = !!order && !!dtor && order.offset < dtor.offset + dtor.width && dtor.offset < order.offset + order.width;
  if (order && (!inWord(order.offset, order.width) || overlap)) {
    warn(`VMCOREINFO puts the compound order at byte ${order.offset} of a tail page, where no kernel keeps it; compound pages are taken page by page`);
    out.order = { kind: 'none' };
  }
  if (dtor && (!inWord(dtor.offset, dtor.width) || overlap)) {
    warn(`VMCOREINFO puts the compound destructor at byte ${dtor.offset} of a tail page, where no kernel keeps it; ${KEPT_BY.hugetlb}`);
    out.hugetlb = { kind: 'none' };
  }
}

/**
 * Where the words of struct page the filter reads have been, by generation of kernels
 * (64-bit): 2.6.x (flags, _count, _mapcount, private, mapping), 3.0-4.17 (flags, mapping,
 * index, the counters _mapcount/_count, lru with compound_head from 4.4, private) and 4.18+
 * (flags, lru/compound_head, mapping, index, private, _mapcount, _refcount). Options add
 * fields only after them (memcg_data, virtual, _last_cpupid, KMSAN's shadow and origin).
 */
const FIELD_ERAS: readonly { name: string; mapping: number; private: number; mapcount: number; refcount: number; head: number[] }[] = [
  { name: '2.6', mapping: 24, private: 16, mapcount: 12, refcount: 8, head: [] },
  { name: '3.0-4.17', mapping: 8, private: 48, mapcount: 24, refcount: 28, head: [32] },
  { name: '4.18+', mapping: 24, private: 40, mapcount: 48, refcount: 52, head: [8] },
];
/** SIZE(page) on 64-bit kernels: 56 (2.6.x), 64, and 72 or 80 with the options above */
const PAGE_SIZES = [56, 64, 72, 80];

/**
 * Throws when SIZE(page) and the offsets of struct page's fields are of no kernel: the
 * struct pages cannot be read then, so nothing can be classified.
 */
export function checkStructPage(f: { sizePage: number; offFlags: number; offMapping: number; offRefcount: number; offMapcount: number;
  offPrivate: number; offCompoundHead: number }): void {
  const offsets = `SIZE(page)=${f.sizePage} OFFSET(page.flags)=${f.offFlags} OFFSET(page.mapping)=${f.offMapping}`
    + ` OFFSET(page.private)=${f.offPrivate} OFFSET(page._mapcount)=${f.offMapcount} OFFSET(page._refcount)=${f.offRefcount}`
    + ` OFFSET(page.compound_head)=${f.offCompoundHead}`;
  const fits = (e: typeof FIELD_ERAS[number]): boolean => f.offFlags === 0 && f.offMapping === e.mapping && f.offRefcount === e.refcount
    && (f.offPrivate < 0 || f.offPrivate === e.private) && (f.offMapcount < 0 || f.offMapcount === e.mapcount)
    && (f.offCompoundHead < 0 || e.head.includes(f.offCompoundHead));
  if (!PAGE_SIZES.includes(f.sizePage) || !FIELD_ERAS.some(fits)) {
    throw new DumpError('bad-vmcoreinfo', `struct page of no kernel's layout: ${offsets}`);
  }
}

/** struct pages read per sampled section, and sections sampled, by the stride check */
const STRIDE_SAMPLE_PAGES = 512;
const STRIDE_SAMPLE_SECTIONS = 8;
/** compound pages span at most 2^18 pages (1 GiB of 4 KiB pages) */
const MAX_COMPOUND_PAGES = 2 ** 18;

/**
 * SIZE(page) against the struct pages themselves: a tail page's compound_head is its head's
 * struct page address + 1, a struct page of the same array a little before it. With the
 * wrong size the words read as compound_head are other fields, whose odd values point
 * nowhere. Returns the tails whose head is a struct page before them and those whose head
 * is not, over a sample of sections; no check before 4.4 (no compound_head) nor from 7.1
 * (compound_info may hold a mask).
 */
export function strideEvidence(L: PageLayout, ranges: readonly { pfnStart: number; pfnEnd: number; memMap: bigint }[],
  readVirt: (va: bigint, buf: Uint8Array, off: number, len: number) => number): { good: number; bad: number } {
  let good = 0;
  let bad = 0;
  if (L.offCompoundHead < 0 || ranges.length === 0) return { good, bad };
  const S = L.sizePage;
  const buf = new Uint8Array(STRIDE_SAMPLE_PAGES * S);
  // 32-bit words: SIZE(page) and the offset are multiples of 8 (checkStructPage refuses any
  // other layout), and an element read costs less than readUInt32LE in code this cold
  const words = new Uint32Array(buf.buffer, 0, buf.length >> 2);
  const at = L.offCompoundHead >> 2;
  const step = Math.max(1, Math.floor(ranges.length / STRIDE_SAMPLE_SECTIONS));
  for (let r = 0; r < ranges.length; r += step) {
    const range = ranges[r];
    const count = Math.min(STRIDE_SAMPLE_PAGES, range.pfnEnd - range.pfnStart);
    const first = range.pfnStart + Math.floor((range.pfnEnd - range.pfnStart - count) / 2);
    const base = range.memMap + BigInt(first - range.pfnStart) * BigInt(S);
    const got = Math.floor(readVirt(base, buf, 0, count * S) / S);
    // addresses as two 32-bit halves, no BigInt per page: the distance back to the head
    // is exact whenever it is small enough to matter
    const baseHi = Number(base >> 32n);
    const baseLo = Number(base & 0xffffffffn);
    const stride = S >> 2;
    for (let i = 0; i < got; i++) {
      const lo = words[i * stride + at];
      if ((lo & 1) === 0) continue;
      const hi = words[i * stride + at + 1];
      const back = (baseHi - hi) * 2 ** 32 + (baseLo + i * S - (lo - 1));
      if (back > 0 && back % S === 0 && back / S < MAX_COMPOUND_PAGES) good++;
      else bad++;
    }
  }
  return { good, bad };
}

/** Whether the stride check's evidence says SIZE(page) is not the struct page's size. */
export function strideImplausible(e: { good: number; bad: number }): boolean {
  return e.bad > 16 && e.bad > e.good;
}

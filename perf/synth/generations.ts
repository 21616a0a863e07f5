// Kernel generations of struct page that the synthetic machine can be written as: one per
// layout src/kernel/page-layout.ts knows (docs/kernel-page-layouts.md §1-§2 has the facts;
// the flag numbers of the old kernels are our best reading of their enum pageflags and
// are marked [unverified] there). The struct page encoder writes a 6.1 page and
// adaptPage() rewrites it for the generation: flag numbers, page-type values, where the
// first tail page keeps the order and the hugetlb mark, how slab and free pages are marked,
// and before 4.4 where each field sits. generationVmcoreinfo() gives the VMCOREINFO keys
// that describe the result, so the filter reads the pages as that kernel's.
//
// The two-language test of the page decision table (test/filter/page-rules.test.ts) runs
// over these pages (struct-pages.ts makes them without writing a vmcore). Whole vmcores
// stay 6.1: their expected counts are makedumpfile 1.7.2's, which only 6.1 pages give.

import { K } from './kinds';

/** the flags the encoder sets, by name */
export interface FlagNumbers {
  referenced: number; uptodate: number; dirty: number; lru: number; active: number; slab: number;
  swapcache: number; reserved: number; private: number; head: number; mappedtodisk: number;
  swapbacked: number; hwpoison: number;
  /** before 4.4: compound tails carry PG_tail instead of compound_head bit 0 */
  tail?: number;
  /** 2.6.17-2.6.37: free blocks carry PG_buddy instead of a page type */
  buddy?: number;
  /** 6.6-6.8: the hugetlb flag in the first tail page */
  hugetlb?: number;
}

/** page_type values (the _mapcount word) of the types the generator places */
export interface PageTypes {
  buddy: number; offline?: number; table?: number; hugetlb?: number; slab?: number;
  zsmalloc?: number; unaccepted?: number;
}

export interface Generation {
  name: string;
  osrelease: string;
  flags: FlagNumbers;
  types: PageTypes;
  /** 6.12+: one type in the top byte, owner data below it */
  topByte: boolean;
  /** 6.11: types in the high bits, owner data in the low 16 */
  typeLowData: boolean;
  /** before 4.4: flags 0, mapping 8, index 16, _mapcount 24, _count 28, lru 32, private 48, first_page 56 */
  oldLayout: boolean;
  /** where the first tail page keeps the order and the compound destructor */
  firstTail: 'lru' | 'u32' | 'u8' | 'folio-u8' | 'flags';
  hugetlb: 'dtor-pointer' | 'dtor' | 'tail-flag' | 'page-type';
  slab: 'flag' | 'flag-unexported' | 'page-type';
  /** 6.2+: struct slab overlays the page; the mapping word holds a count that may be odd */
  slabOverlay: boolean;
  /** which optional NUMBER() keys the kernel exports */
  exportsSwapbacked: boolean;
  exportsHwpoison: boolean;
  exportsHeadMask: boolean;
}

/** 6.1 (the template and the encoder's own numbering) */
export const FLAGS_6_1: FlagNumbers = {
  referenced: 1, uptodate: 2, dirty: 3, lru: 4, active: 5, slab: 9, swapcache: 10, reserved: 12,
  private: 13, head: 16, mappedtodisk: 17, swapbacked: 19, hwpoison: 23,
};
const FLAGS_OLD = { referenced: 2, uptodate: 3, dirty: 4, lru: 5, active: 6, slab: 7, reserved: 10, private: 11, head: 14 };
const FLAGS_6_6: FlagNumbers = {
  referenced: 2, uptodate: 3, dirty: 4, lru: 5, head: 6, active: 8, slab: 11, swapcache: 12, reserved: 14,
  private: 15, mappedtodisk: 17, swapbacked: 19, hwpoison: 23,
};
/** 6.10 dropped PG_slab: the bits above it move down by one */
const FLAGS_6_10: FlagNumbers = {
  referenced: 2, uptodate: 3, dirty: 4, lru: 5, head: 6, active: 8, slab: -1, swapcache: 11, reserved: 13,
  private: 14, mappedtodisk: 16, swapbacked: 18, hwpoison: 22,
};
const FLAGS_6_12: FlagNumbers = {
  referenced: 2, uptodate: 3, dirty: 4, lru: 5, head: 6, active: 8, slab: -1, swapcache: 10, mappedtodisk: 11,
  reserved: 13, private: 14, swapbacked: 17, hwpoison: 20,
};

const INVERTED = { buddy: -129, offline: -257, table: -513 };
const HIGH = (bit: number): number => ~(1 << bit);
const TOP = (t: number): number => (t << 24) | 0;

const BASE = {
  topByte: false, typeLowData: false, oldLayout: false, slabOverlay: false,
  exportsSwapbacked: true, exportsHwpoison: true, exportsHeadMask: true,
};

export const GENERATIONS: readonly Generation[] = [
  {
    ...BASE, name: '2.6.32', osrelease: '2.6.32-synth',
    flags: { ...FLAGS_OLD, tail: 15, swapcache: 16, mappedtodisk: 17, buddy: 19, swapbacked: 20, hwpoison: 24 },
    types: { buddy: -1 }, oldLayout: true, firstTail: 'lru', hugetlb: 'dtor-pointer', slab: 'flag-unexported',
    exportsSwapbacked: false, exportsHwpoison: false, exportsHeadMask: false,
  },
  {
    ...BASE, name: '3.10', osrelease: '3.10.0-synth',
    flags: { ...FLAGS_OLD, tail: 15, swapcache: 16, mappedtodisk: 17, swapbacked: 19, hwpoison: 23 },
    types: { buddy: -128 }, oldLayout: true, firstTail: 'lru', hugetlb: 'dtor-pointer', slab: 'flag',
    exportsSwapbacked: false, exportsHeadMask: false,
  },
  {
    ...BASE, name: '4.9', osrelease: '4.9.0-synth',
    flags: { ...FLAGS_OLD, swapcache: 8, mappedtodisk: 15, swapbacked: 17, hwpoison: 21 },
    types: { buddy: -128 }, firstTail: 'u32', hugetlb: 'dtor', slab: 'flag', exportsSwapbacked: false,
  },
  {
    ...BASE, name: '6.1', osrelease: '6.1.0-synth', flags: FLAGS_6_1, types: INVERTED, firstTail: 'u8', hugetlb: 'dtor', slab: 'flag',
  },
  {
    ...BASE, name: '6.2', osrelease: '6.2.0-synth', flags: FLAGS_6_1, types: INVERTED, firstTail: 'u8', hugetlb: 'dtor', slab: 'flag',
    slabOverlay: true,
  },
  {
    ...BASE, name: '6.4', osrelease: '6.4.0-synth', flags: FLAGS_6_1, types: INVERTED, firstTail: 'folio-u8', hugetlb: 'dtor',
    slab: 'flag', slabOverlay: true,
  },
  {
    ...BASE, name: '6.7', osrelease: '6.7.0-synth', flags: { ...FLAGS_6_6, hugetlb: 8 }, types: INVERTED, firstTail: 'flags',
    hugetlb: 'tail-flag', slab: 'flag', slabOverlay: true,
  },
  {
    ...BASE, name: '6.9', osrelease: '6.9.0-synth', flags: FLAGS_6_6, types: { ...INVERTED, hugetlb: -2049 }, firstTail: 'flags',
    hugetlb: 'page-type', slab: 'flag', slabOverlay: true,
  },
  {
    ...BASE, name: '6.10', osrelease: '6.10.0-synth', flags: FLAGS_6_10, types: { ...INVERTED, hugetlb: -2049, slab: -4097 },
    firstTail: 'flags', hugetlb: 'page-type', slab: 'page-type', slabOverlay: true,
  },
  {
    ...BASE, name: '6.11', osrelease: '6.11.0-synth', flags: FLAGS_6_10,
    types: { buddy: HIGH(30), offline: HIGH(29), table: HIGH(28), hugetlb: HIGH(26), slab: HIGH(25), zsmalloc: HIGH(24) },
    typeLowData: true, firstTail: 'flags', hugetlb: 'page-type', slab: 'page-type', slabOverlay: true,
  },
  {
    ...BASE, name: '6.12', osrelease: '6.12.0-synth', flags: FLAGS_6_12,
    types: { buddy: TOP(0xf0), offline: TOP(0xf1), table: TOP(0xf2), hugetlb: TOP(0xf4), slab: TOP(0xf5), zsmalloc: TOP(0xf6) },
    topByte: true, firstTail: 'flags', hugetlb: 'page-type', slab: 'page-type', slabOverlay: true,
  },
  {
    ...BASE, name: '6.16', osrelease: '6.16.0-synth', flags: { ...FLAGS_6_12, hwpoison: 21 },
    types: {
      buddy: TOP(0xf0), offline: TOP(0xf1), table: TOP(0xf2), hugetlb: TOP(0xf4), slab: TOP(0xf5), zsmalloc: TOP(0xf6),
      unaccepted: TOP(0xf7),
    },
    topByte: true, firstTail: 'flags', hugetlb: 'page-type', slab: 'page-type', slabOverlay: true,
  },
];

export function generationNamed(name: string): Generation {
  const g = GENERATIONS.find((x) => x.name === name);
  if (!g) throw new Error(`unknown kernel generation ${JSON.stringify(name)} (known: ${GENERATIONS.map((x) => x.name).join(', ')})`);
  return g;
}

/** Kernel-text offsets (from _stext) of the compound destructors of kernels before 4.4. */
export const FREE_HUGE_PAGE_OFFSET = 0x234560;
const FREE_COMPOUND_PAGE_OFFSET = 0x111110;
/** 6.1's compound destructor ids in the first tail page */
const HUGETLB_PAGE_DTOR = 2;

/** Which VMCOREINFO keys the page filter reads; generationVmcoreinfo replaces them all. */
const PAGE_KEYS = /^(OSRELEASE|SIZE\(page\)|OFFSET\(page\.|OFFSET\(folio\.|NUMBER\(PG_|NUMBER\(PAGE_\w+_MAPCOUNT_VALUE\)|NUMBER\(HUGETLB_PAGE_DTOR\)|SYMBOL\(free_huge_page\))/;

/**
 * The template's VMCOREINFO lines with the page filter's keys replaced by the
 * generation's. `stext` is the synthetic kernel's _stext (for SYMBOL(free_huge_page)).
 */
export function generationVmcoreinfo(g: Generation, lines: readonly string[], stext: bigint): string[] {
  const out = lines.filter((l) => !PAGE_KEYS.test(l));
  const f = g.flags;
  const add = (k: string, v: number | string): void => { out.push(`${k}=${v}`); };
  add('OSRELEASE', g.osrelease);
  add('SIZE(page)', 64);
  add('OFFSET(page.flags)', 0);
  if (g.oldLayout) {
    add('OFFSET(page._count)', 28);
    add('OFFSET(page.mapping)', 8);
    add('OFFSET(page.lru)', 32);
    add('OFFSET(page._mapcount)', 24);
    add('OFFSET(page.private)', 48);
  } else {
    add('OFFSET(page._refcount)', 52);
    add('OFFSET(page.mapping)', 24);
    add('OFFSET(page.lru)', 8);
    add('OFFSET(page._mapcount)', 48);
    add('OFFSET(page.private)', 40);
    add('OFFSET(page.compound_head)', 8);
  }
  if (g.firstTail === 'u8' || g.firstTail === 'u32') {
    add('OFFSET(page.compound_dtor)', 16);
    add('OFFSET(page.compound_order)', g.firstTail === 'u8' ? 17 : 20);
  } else if (g.firstTail === 'folio-u8') {
    add('OFFSET(folio._folio_dtor)', 64 + 16);
    add('OFFSET(folio._folio_order)', 64 + 17);
  }
  add('NUMBER(PG_lru)', f.lru);
  add('NUMBER(PG_private)', f.private);
  add('NUMBER(PG_swapcache)', f.swapcache);
  if (g.exportsSwapbacked) add('NUMBER(PG_swapbacked)', f.swapbacked);
  if (g.slab === 'flag') add('NUMBER(PG_slab)', f.slab);
  if (g.exportsHwpoison) add('NUMBER(PG_hwpoison)', f.hwpoison);
  if (g.exportsHeadMask) add('NUMBER(PG_head_mask)', 2 ** f.head);
  if (f.buddy !== undefined) add('NUMBER(PG_buddy)', f.buddy);
  else add('NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)', g.types.buddy);
  if (g.types.offline !== undefined) add('NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)', g.types.offline);
  if (g.types.slab !== undefined) add('NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)', g.types.slab);
  if (g.types.unaccepted !== undefined) add('NUMBER(PAGE_UNACCEPTED_MAPCOUNT_VALUE)', g.types.unaccepted);
  if (g.hugetlb === 'dtor') add('NUMBER(HUGETLB_PAGE_DTOR)', HUGETLB_PAGE_DTOR);
  else if (g.hugetlb === 'tail-flag') add('NUMBER(PG_hugetlb)', f.hugetlb!);
  else if (g.hugetlb === 'page-type') add('NUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)', g.types.hugetlb!);
  else add('SYMBOL(free_huge_page)', (stext + BigInt(FREE_HUGE_PAGE_OFFSET)).toString(16));
  return out;
}

/** What adaptPage needs to know about the page besides its 6.1 words. */
export interface PageFacts {
  kind: number;
  /** the kind of the unit's first page (a tail's head) */
  acct: number;
  order: number;
  /** for a tail: its index in the compound page */
  tailIndex: number;
  /** the head's struct page address (tails), as lo/hi words */
  headLo: number;
  headHi: number;
  /** a per-pfn hash for variety */
  h: number;
}

const LIST_POISON2_LO = 0x00000122;
const POISON_HI = 0xdead0000 | 0;

/**
 * Rewrites the 6.1 struct page at w[b, b + 16) (structpage.ts's words) as generation g's.
 * `stext` is the kernel's _stext, for the destructor pointers of kernels before 4.4.
 */
export class PageAdapter {
  private readonly bitMap: [number, number][] = [];
  private readonly hugePtr: [number, number];
  private readonly compoundPtr: [number, number];
  private readonly old = new Int32Array(16);

  constructor(private readonly g: Generation, private readonly from: FlagNumbers, stext: bigint) {
    for (const name of Object.keys(from) as (keyof FlagNumbers)[]) {
      const a = from[name];
      const to = g.flags[name];
      if (a !== undefined && a >= 0) this.bitMap.push([a, to !== undefined && to >= 0 ? to : -1]);
    }
    const words = (v: bigint): [number, number] => [Number(v & 0xffffffffn) | 0, Number(v >> 32n) | 0];
    this.hugePtr = words(stext + BigInt(FREE_HUGE_PAGE_OFFSET));
    this.compoundPtr = words(stext + BigInt(FREE_COMPOUND_PAGE_OFFSET));
  }

  adapt(w: Int32Array, b: number, p: PageFacts, buddyType61: number, offlineType61: number, tableType61: number): void {
    const g = this.g;
    const f = g.flags;
    const from = this.from;
    // flags: the low 24 bits renumbered, the zone/node/cpupid fields above kept
    const lo = w[b];
    let fl = lo & ~0xffffff;
    for (const [a, to] of this.bitMap) if (to >= 0 && (lo >>> a) & 1) fl |= 1 << to;
    const wasSlab = ((lo >>> from.slab) & 1) !== 0;
    // page types
    let pt = w[b + 12];
    if (pt === buddyType61) pt = g.types.buddy;
    else if (pt === offlineType61) pt = g.types.offline ?? -1;
    else if (pt === tableType61) pt = g.types.table ?? -1;
    if (g.typeLowData && (pt === g.types.table || (p.kind === K.KERNEL && (p.h & 7) === 0))) {
      // 6.11: owner data in the low 16 bits (page tables, zsmalloc)
      pt = ((pt === g.types.table ? g.types.table : g.types.zsmalloc!) & ~0xffff) | (p.h & 0xffff);
    } else if (g.topByte && p.kind === K.KERNEL && (p.h & 7) === 0) {
      pt = g.types.zsmalloc! | (p.h & 0xffffff); // zsmalloc keeps an offset below its type
    }
    // 2.6.17-2.6.37: PG_buddy instead of the buddy type
    if (f.buddy !== undefined && w[b + 12] === buddyType61) fl |= 1 << f.buddy;
    if (g.types.unaccepted !== undefined && p.kind === K.FREE_HEAD && p.order === 10) {
      pt = g.types.unaccepted; // unaccepted memory: whole MAX_ORDER blocks, typed first page, no order in private
      w[b + 10] = 0;
    }
    if (g.slab === 'page-type' && wasSlab) pt = g.types.slab!;
    if (g.hugetlb === 'page-type' && (p.kind === K.HUGETLB_HEAD || p.kind === K.HUGETLB_FREE_HEAD)) pt = g.types.hugetlb!;
    w[b] = fl;
    w[b + 12] = pt;
    if (g.slabOverlay && wasSlab) {
      // struct slab: slab_cache at 8, slab_list at 16, the per-cpu partial count in `mapping`
      w[b + 2] = w[b + 6];
      w[b + 3] = w[b + 7];
      w[b + 4] = LIST_POISON2_LO;
      w[b + 5] = POISON_HI;
      w[b + 6] = p.h & 0xff;
      w[b + 7] = 0;
    }
    if (p.kind === K.TAIL && p.tailIndex === 1) this.firstTail(w, b, p);
    if (g.oldLayout) this.relocate(w, b, p);
  }

  /** the order and the destructor or hugetlb mark of a compound page's first tail */
  private firstTail(w: Int32Array, b: number, p: PageFacts): void {
    const g = this.g;
    const dtor = w[b + 4] & 0xff;
    const huge = p.acct === K.HUGETLB_HEAD || p.acct === K.HUGETLB_FREE_HEAD;
    switch (g.firstTail) {
      case 'u8':
      case 'folio-u8':
        break;
      case 'u32':
        w[b + 4] = dtor;
        w[b + 5] = p.order;
        break;
      case 'flags': {
        let fl = (w[b] & ~0xff) | p.order;
        if (g.hugetlb === 'tail-flag' && huge) fl |= 1 << g.flags.hugetlb!;
        // PG_active = PG_hugetlb = PG_has_hwpoisoned also appears on small folios (makedumpfile issue #21)
        if (g.hugetlb === 'tail-flag' && p.acct !== K.SLAB && !huge && p.order < 9 && (p.h & 1)) fl |= 1 << g.flags.hugetlb!;
        w[b] = fl;
        w[b + 4] = -1; // _entire_mapcount, _nr_pages_mapped
        w[b + 5] = 0;
        break;
      }
      case 'lru': {
        const ptr = huge ? this.hugePtr : this.compoundPtr;
        w[b + 2] = ptr[0];
        w[b + 3] = ptr[1];
        w[b + 4] = p.order;
        w[b + 5] = 0;
        break;
      }
    }
  }

  /** before 4.4: the words move to that layout; tails carry PG_tail and first_page */
  private relocate(w: Int32Array, b: number, p: PageFacts): void {
    const o = this.old;
    for (let i = 0; i < 16; i++) o[i] = w[b + i];
    const tail = p.kind === K.TAIL;
    w[b] = tail ? o[0] | (1 << this.g.flags.tail!) : o[0];
    w[b + 1] = o[1];
    w[b + 2] = tail ? 0 : o[6]; // mapping
    w[b + 3] = tail ? 0 : o[7];
    w[b + 4] = o[8]; // index
    w[b + 5] = o[9];
    w[b + 6] = o[12]; // _mapcount
    w[b + 7] = o[13]; // _count
    w[b + 8] = tail && p.tailIndex !== 1 ? LIST_POISON2_LO : o[2]; // lru
    w[b + 9] = tail && p.tailIndex !== 1 ? POISON_HI : o[3];
    w[b + 10] = o[4];
    w[b + 11] = o[5];
    w[b + 12] = o[10]; // private
    w[b + 13] = o[11];
    w[b + 14] = tail ? p.headLo : o[14]; // first_page of a tail, slab_cache of a slab
    w[b + 15] = tail ? p.headHi : o[15];
  }
}

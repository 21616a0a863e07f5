// Page kinds the generator places, what makedumpfile 1.7.2 sees in each
// (the predicates of spec page-filtering.md §2), and the per-level decision of §3.
//
// A "unit" is a set of pages that always share one fate: a single page, a free
// buddy block, or a compound page (head + tails). Each page is accounted under
// the kind of its unit's first page; the decision for that kind then applies to
// all pages of the unit (tails are skipped by the scan, a buddy block or compound
// page is excluded as one range, and a kept buddy block's pages are all plain).

export const enum K {
  HOLE = 0, // inside a present section but not RAM: never scanned
  OVERLAY, // kernel image, memblock pool, vmemmap backing: PG_reserved
  FREE_HEAD, // first page of a buddy block: _mapcount = PAGE_BUDDY_MAPCOUNT_VALUE, private = order
  FREE_TAIL,
  CACHE,
  CACHE_PRIV,
  ANON,
  KSM, // mapping low bits 3: anonymous for makedumpfile
  SWAPCACHE_ANON, // PG_swapcache|PG_swapbacked, off the LRU, anon mapping → user
  SHMEM_SWAPCACHE, // PG_swapcache|PG_swapbacked, off the LRU, shmem mapping → cache
  CHECKED, // PG_owner_priv_1 (PG_checked) without PG_swapbacked: not cache
  MOVABLE, // mapping low bits 2 (movable non-LRU): neither anon nor cache
  SLAB, // order 0 or compound head
  KERNEL,
  PGTABLE,
  RESERVED,
  PCP, // free page on a per-cpu list: refcount 0 but not PageBuddy
  HWPOISON,
  HWPOISON_LRU,
  HWPOISON_ANON,
  OFFLINE,
  BADBUDDY, // PageBuddy with private ≥ LENGTH(zone.free_area)
  SLAB_BUDDYLIKE, // PG_slab with the buddy _mapcount value: not PageBuddy
  THP_HEAD, // anon, order 9, dtor 3
  FOLIO_HEAD, // page cache, order 2..9, dtor 3
  FOLIO_PRIV_HEAD,
  HUGETLB_HEAD, // mapped hugetlb page, dtor 2
  HUGETLB_FREE_HEAD, // free page of the hugetlb pool, dtor 2
  TAIL, // compound tail: compound_head = head | 1
  COUNT,
}

export const KIND_NAMES: readonly string[] = [
  'hole', 'kernel_reserved', 'free', 'free_tail', 'cache', 'cache_private', 'anon', 'ksm',
  'swapcache_anon', 'shmem_swapcache', 'checked', 'movable', 'slab', 'kernel', 'pgtable', 'reserved',
  'pcp', 'hwpoison', 'hwpoison_lru', 'hwpoison_anon', 'offline', 'bad_order_buddy', 'slab_buddylike',
  'thp', 'folio', 'folio_private', 'hugetlb', 'hugetlb_free', 'tail',
];

/** What makedumpfile's predicates say about a unit's first page. */
interface Pred {
  buddy: boolean; // PageBuddy (v3)
  buddyOrderOk: boolean; // private < LENGTH(zone.free_area)
  cache: boolean; // is_cache_page
  priv: boolean; // PG_private
  anon: boolean; // mapping & 1
  hugetlb: boolean; // compound_dtor == HUGETLB_PAGE_DTOR
  hwpoison: boolean;
  offline: boolean;
}

const P0: Pred = {
  buddy: false, buddyOrderOk: false, cache: false, priv: false, anon: false, hugetlb: false,
  hwpoison: false, offline: false,
};

function pred(p: Partial<Pred>): Pred {
  return { ...P0, ...p };
}

const PREDICATES: Record<number, Pred> = {
  [K.OVERLAY]: P0,
  [K.FREE_HEAD]: pred({ buddy: true, buddyOrderOk: true }),
  [K.CACHE]: pred({ cache: true }),
  [K.CACHE_PRIV]: pred({ cache: true, priv: true }),
  [K.ANON]: pred({ cache: true, anon: true }),
  [K.KSM]: pred({ cache: true, anon: true }),
  [K.SWAPCACHE_ANON]: pred({ cache: true, anon: true }),
  [K.SHMEM_SWAPCACHE]: pred({ cache: true }),
  [K.CHECKED]: P0,
  [K.MOVABLE]: P0,
  [K.SLAB]: P0,
  [K.KERNEL]: P0,
  [K.PGTABLE]: P0,
  [K.RESERVED]: P0,
  [K.PCP]: P0,
  [K.HWPOISON]: pred({ hwpoison: true }),
  [K.HWPOISON_LRU]: pred({ cache: true, hwpoison: true }),
  [K.HWPOISON_ANON]: pred({ cache: true, anon: true, hwpoison: true }),
  [K.OFFLINE]: pred({ offline: true }),
  [K.BADBUDDY]: pred({ buddy: true, buddyOrderOk: false }),
  [K.SLAB_BUDDYLIKE]: P0,
  [K.THP_HEAD]: pred({ cache: true, anon: true }),
  [K.FOLIO_HEAD]: pred({ cache: true }),
  [K.FOLIO_PRIV_HEAD]: pred({ cache: true, priv: true }),
  [K.HUGETLB_HEAD]: pred({ hugetlb: true }),
  [K.HUGETLB_FREE_HEAD]: pred({ hugetlb: true }),
};

/** Counter a page ends in. KEPT = still dumpable (then maybe counted as zero). */
export const enum Cat { KEPT = 0, CACHE, CACHE_PRIVATE, USER, FREE, HWPOISON, OFFLINE }

export const DL_ZERO = 1;
export const DL_CACHE = 2;
export const DL_CACHE_PRI = 4;
export const DL_USER = 8;
export const DL_FREE = 16;

/**
 * makedumpfile 1.7.2 __exclude_unnecessary_pages, first matching row wins, for a
 * 6.1 VMCOREINFO that has PG_hwpoison and PAGE_OFFLINE_MAPCOUNT_VALUE (so the scan
 * runs at every level, and hwpoison/offline pages go at every level).
 */
export function decide(p: Pred, level: number): Cat {
  if ((level & DL_FREE) && p.buddy) {
    if (p.buddyOrderOk) return Cat.FREE;
    return Cat.KEPT; // "WARNING: Invalid free page order", page kept
  }
  if ((level & DL_CACHE) && p.cache && !p.priv && !p.anon) return Cat.CACHE;
  if ((level & DL_CACHE_PRI) && p.cache && !p.anon) return p.priv ? Cat.CACHE_PRIVATE : Cat.CACHE;
  if ((level & DL_USER) && (p.anon || p.hugetlb)) return Cat.USER;
  if (p.hwpoison) return Cat.HWPOISON;
  if (p.offline) return Cat.OFFLINE;
  return Cat.KEPT;
}

export interface LevelCounts {
  original: number;
  excluded: number;
  zero: number;
  cache: number;
  cache_private: number;
  user: number;
  free: number;
  hwpoison: number;
  offline: number;
  remaining: number;
  memory_hole: number;
  total: number;
  /** pages with their bit set in a kdump-compressed 2nd bitmap: remaining + zero */
  dumpable: number;
  /** "WARNING: Invalid free page order" lines per mem_map scan */
  invalid_order_warnings: number;
}

/**
 * Expected makedumpfile report for every dump level 0..31.
 * pages[k] / zeros[k]: pages (and zero-filled pages) accounted under unit kind k.
 */
export function expectedByLevel(
  pages: ArrayLike<number>, zeros: ArrayLike<number>, ramPages: number, maxMapnr: number,
): Record<string, LevelCounts> {
  const out: Record<string, LevelCounts> = {};
  for (let level = 0; level < 32; level++) {
    const c = [0, 0, 0, 0, 0, 0, 0];
    let zero = 0;
    let warnings = 0;
    for (let k = 0; k < K.COUNT; k++) {
      const p = PREDICATES[k];
      if (!p || pages[k] === 0) continue;
      const cat = decide(p, level);
      if (cat === Cat.KEPT) {
        if (level & DL_ZERO) zero += zeros[k];
        if ((level & DL_FREE) && p.buddy && !p.buddyOrderOk) warnings += pages[k];
      } else {
        c[cat] += pages[k];
      }
    }
    const excluded = zero + c[Cat.CACHE] + c[Cat.CACHE_PRIVATE] + c[Cat.USER] + c[Cat.FREE]
      + c[Cat.HWPOISON] + c[Cat.OFFLINE];
    out[String(level)] = {
      original: ramPages,
      excluded,
      zero,
      cache: c[Cat.CACHE],
      cache_private: c[Cat.CACHE_PRIVATE],
      user: c[Cat.USER],
      free: c[Cat.FREE],
      hwpoison: c[Cat.HWPOISON],
      offline: c[Cat.OFFLINE],
      remaining: ramPages - excluded,
      memory_hole: maxMapnr - ramPages,
      total: maxMapnr,
      dumpable: ramPages - excluded + zero,
      invalid_order_warnings: warnings,
    };
  }
  return out;
}

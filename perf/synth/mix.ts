// The memory model: what share of RAM holds which kind of page, and what is in it.
// Shares are fractions of RAM pages; they are targets, not exact numbers (the
// expected counts written next to the vmcore are the exact ones, computed from the
// pages actually placed).

export interface Mix {
  /** free buddy memory */
  free: number;
  /** 0 = free memory in whole order-10 blocks, 1 = split down to order 0 */
  frag: number;
  /** share of free blocks whose pages are all zero (the rest hold stale data) */
  freezero: number;
  /** page cache, order 0, without / with PG_private (buffer heads) */
  cache: number;
  cachepriv: number;
  /** page-cache large folios of order 2..4 (PG_lru head, all-or-nothing) */
  folio: number;
  /** page-cache order-9 folios (file THP) */
  filethp: number;
  /** anonymous order-0 pages */
  anon: number;
  /** anonymous THP (order 9) */
  thp: number;
  /** hugetlb 2 MiB pages, mapped / free in the pool */
  hugetlb: number;
  hugetlbfree: number;
  /** share of whole, free-of-anything-else 1 GiB regions that are 1 GiB hugetlb pages */
  gigantic: number;
  /** slab (order 0..3), other kernel allocations, page tables, PG_reserved, per-cpu free lists */
  slab: number;
  kernel: number;
  pgtable: number;
  reserved: number;
  pcp: number;
  /** hwpoisoned pages (a third plain, a third on the LRU, a third anonymous) */
  hwpoison: number;
  /** logically offline pages (balloon) */
  offline: number;
  /** rare cases: KSM, swap cache, PG_checked, movable non-LRU, PG_slab with the buddy mapcount */
  edge: number;
  /** PageBuddy pages whose order is ≥ MAX_ORDER (makedumpfile warns and keeps them) */
  badorder: number;
  /** share of allocated pages that are zero-filled */
  zero: number;
  /** content of non-zero data pages: log-like text, 1 KiB random + 3 KiB repeated word,
   * random, one repeated 4 KiB block, a 16-byte header on zeros */
  text: number;
  mixed: number;
  random: number;
  repeat: number;
  sparse: number;
}

const DEFAULT: Mix = {
  free: 0.3, frag: 0.5, freezero: 0.85,
  cache: 0.18, cachepriv: 0.04, folio: 0.03, filethp: 0.01,
  anon: 0.1, thp: 0.1, hugetlb: 0.02, hugetlbfree: 0.02, gigantic: 0,
  slab: 0.04, kernel: 0.04, pgtable: 0.005, reserved: 0.005, pcp: 0.005,
  hwpoison: 0.0002, offline: 0.001, edge: 0.002, badorder: 0.000002,
  zero: 0.08,
  text: 0.4, mixed: 0.3, random: 0.1, repeat: 0.1, sparse: 0.1,
};

export const PRESETS: Record<string, Partial<Mix>> = {
  /** a busy server: a bit of everything */
  default: {},
  /** mostly free memory, as after boot or after a big job ended */
  idle: { free: 0.8, frag: 0.2, cache: 0.06, cachepriv: 0.01, anon: 0.03, thp: 0.02, hugetlb: 0, hugetlbfree: 0 },
  /** anonymous memory and THP dominate */
  user: { free: 0.1, cache: 0.08, anon: 0.3, thp: 0.35, hugetlb: 0.03, hugetlbfree: 0.01 },
  /** big page cache, e.g. a file server */
  cache: { free: 0.1, cache: 0.45, cachepriv: 0.12, folio: 0.08, filethp: 0.04, anon: 0.05, thp: 0.03 },
  /** hugetlb pools, including 1 GiB pages where a whole aligned GiB is free */
  hugetlb: { free: 0.15, hugetlb: 0.25, hugetlbfree: 0.15, gigantic: 0.5, thp: 0.05, anon: 0.05 },
  /** kernel memory dominates: most pages survive -d 31 */
  kernel: { free: 0.1, cache: 0.05, anon: 0.05, thp: 0.02, slab: 0.3, kernel: 0.3, pgtable: 0.05, reserved: 0.05 },
  /** every makedumpfile corner case at a high rate (small dumps, tests) */
  edge: {
    frag: 0.9, folio: 0.06, filethp: 0.03, gigantic: 0.5, hwpoison: 0.01, offline: 0.01, edge: 0.05,
    badorder: 0.0002, zero: 0.15,
  },
  /** fragmented free memory: every buddy order present in numbers */
  fragmented: { free: 0.5, frag: 0.95 },
  /** every allocated page zero-filled (tests the zero-page path) */
  zero: { zero: 1, freezero: 1 },
};

export const MIX_KEYS = Object.keys(DEFAULT) as (keyof Mix)[];

/**
 * "default", "edge", "user,thp=0.5", "free=0.5,frag=0.9": an optional preset name
 * first, then key=value overrides.
 */
export function parseMix(spec: string | undefined): { name: string; mix: Mix } {
  const parts = (spec ?? 'default').split(',').map((s) => s.trim()).filter((s) => s !== '');
  let name = 'default';
  let base: Partial<Mix> = {};
  if (parts.length > 0 && !parts[0].includes('=')) {
    name = parts.shift() as string;
    const p = PRESETS[name];
    if (!p) throw new Error(`unknown mix preset ${JSON.stringify(name)} (known: ${Object.keys(PRESETS).join(', ')})`);
    base = p;
  }
  const mix: Mix = { ...DEFAULT, ...base };
  for (const kv of parts) {
    const eq = kv.indexOf('=');
    if (eq < 0) throw new Error(`mix item ${JSON.stringify(kv)} is not key=value`);
    const key = kv.slice(0, eq).trim() as keyof Mix;
    const value = Number(kv.slice(eq + 1));
    if (!MIX_KEYS.includes(key)) throw new Error(`unknown mix key ${JSON.stringify(key)} (known: ${MIX_KEYS.join(', ')})`);
    if (!Number.isFinite(value) || value < 0) throw new Error(`mix value for ${key} must be a number ≥ 0`);
    mix[key] = value;
  }
  for (const k of ['frag', 'freezero', 'zero', 'gigantic'] as const) {
    if (mix[k] > 1) throw new Error(`mix ${k} must be ≤ 1`);
  }
  if (parts.length > 0 && name === 'default') name = 'custom';
  else if (parts.length > 0) name = `${name}+custom`;
  return { name, mix };
}

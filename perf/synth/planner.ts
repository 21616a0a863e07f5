// Decides, chunk by chunk, what every page frame holds. A chunk is 1024 pfns
// (4 MiB, one MAX_ORDER block). The plan of a chunk is a pure function of
// (seed, chunk index, layout), so the struct page pass (which needs the kinds of
// a whole section when it reaches that section's vmemmap block) and the page
// data pass (which fills contents and counts) can each rebuild it.

import { K } from './kinds';
import { C } from './content';
import { Layout, PAGE } from './layout';
import { Mix } from './mix';
import { Rng, hashOf } from './prng';

export const CHUNK = 1024;
const CHUNK_ORDER = 10;
const GIGA_PFNS = 262144; // 1 GiB
const GIGA_ORDER = 18;
const AVAIL = 255;

/** Small (per page) kinds and their pseudo-kinds for multi-page units. */
const enum S {
  CACHE = 0, CACHE_PRIV, ANON, FOLIO, SLAB, KERNEL, PGTABLE, RESERVED, PCP, FREE,
  HWPOISON, HWPOISON_LRU, HWPOISON_ANON, OFFLINE, KSM, SWAPCACHE_ANON, SHMEM_SWAPCACHE, CHECKED,
  MOVABLE, SLAB_BUDDYLIKE, BADBUDDY, COUNT,
}

const enum Big { FREE = 0, THP, HUGETLB, HUGETLB_FREE, FILETHP, SMALL }

/** Share of free memory placed as small (order 0..3) blocks among allocated pages. */
const SMALL_FREE_SHARE = 0.15;
/** mean length of a run of zero-filled allocated pages */
const ZERO_RUN = 8;

export class ChunkPlan {
  readonly kind = new Uint8Array(CHUNK);
  readonly order = new Uint8Array(CHUNK);
  /** kind of the unit's first page, under which the page is counted */
  readonly acct = new Uint8Array(CHUNK);
  /** content kind (C.*), only when planned with contents */
  readonly content = new Uint8Array(CHUNK);
  chunk = -1;
  withContent = false;
}

export class Planner {
  private readonly rng = new Rng();
  private readonly crng = new Rng();
  private readonly smallTable = new Uint8Array(4096);
  private readonly bigCum: number[] = [];
  private readonly contentTable = new Uint8Array(1024);
  private readonly rangesPfn: { start: number; end: number }[];
  private readonly resStart: Float64Array;
  private readonly resEnd: Float64Array;
  private readonly gigaCache = new Map<number, number>();
  /** probability that a chunk's kernel-kind / other pages get non-zero data (data budget) */
  pKept = 1;
  pOther = 1;

  constructor(layout: Layout, private readonly mix: Mix, private readonly seed: number) {
    this.rangesPfn = layout.ranges.map((r) => ({ start: r.start / PAGE, end: r.end / PAGE }));
    this.resStart = Float64Array.from(layout.reservations.map((r) => r.startPfn));
    this.resEnd = Float64Array.from(layout.reservations.map((r) => r.endPfn));
    this.buildTables();
  }

  private buildTables(): void {
    const m = this.mix;
    const hw = m.hwpoison / 3;
    const e = m.edge / 6;
    const small: number[] = [];
    small[S.CACHE] = m.cache;
    small[S.CACHE_PRIV] = m.cachepriv;
    small[S.ANON] = m.anon;
    small[S.FOLIO] = m.folio;
    small[S.SLAB] = m.slab;
    small[S.KERNEL] = m.kernel;
    small[S.PGTABLE] = m.pgtable;
    small[S.RESERVED] = m.reserved;
    small[S.PCP] = m.pcp;
    small[S.FREE] = m.free * SMALL_FREE_SHARE;
    small[S.HWPOISON] = hw;
    small[S.HWPOISON_LRU] = hw;
    small[S.HWPOISON_ANON] = hw;
    small[S.OFFLINE] = m.offline;
    small[S.KSM] = e;
    small[S.SWAPCACHE_ANON] = e;
    small[S.SHMEM_SWAPCACHE] = e;
    small[S.CHECKED] = e;
    small[S.MOVABLE] = e;
    small[S.SLAB_BUDDYLIKE] = e;
    small[S.BADBUDDY] = m.badorder;
    let smallSum = 0;
    for (const w of small) smallSum += w;
    // Rare kinds get exact-probability draws (see pickSmall); the table holds the rest.
    const rare = hw * 3 + m.offline + e * 6 + m.badorder;
    const common = smallSum - rare;
    if (common <= 0) {
      this.smallTable.fill(S.KERNEL);
    } else {
      let at = 0;
      let acc = 0;
      for (let k = 0; k < S.COUNT; k++) {
        if (k >= S.HWPOISON) break;
        acc += small[k];
        const end = Math.round((acc / common) * 4096);
        for (; at < end && at < 4096; at++) this.smallTable[at] = k;
      }
      for (; at < 4096; at++) this.smallTable[at] = S.KERNEL;
    }
    this.rareCum = [];
    let racc = 0;
    for (let k = S.HWPOISON; k < S.COUNT; k++) {
      racc += small[k] / Math.max(smallSum, 1e-12);
      this.rareCum.push(racc);
    }
    const big = [m.free * (1 - SMALL_FREE_SHARE), m.thp, m.hugetlb, m.hugetlbfree, m.filethp, smallSum];
    const total = big.reduce((a, b) => a + b, 0) || 1;
    let acc = 0;
    for (const w of big) {
      acc += w / total;
      this.bigCum.push(acc);
    }
    const ct = [m.text, m.mixed, m.random, m.repeat, m.sparse];
    const ctSum = ct.reduce((a, b) => a + b, 0);
    const kinds = [C.TEXT, C.MIXED, C.RANDOM, C.REPEAT, C.SPARSE];
    let cat = 0;
    let cacc = 0;
    for (let i = 0; i < kinds.length; i++) {
      cacc += ctSum > 0 ? ct[i] / ctSum : i === 0 ? 1 : 0;
      const end = Math.round(cacc * 1024);
      for (; cat < end && cat < 1024; cat++) this.contentTable[cat] = kinds[i];
    }
    for (; cat < 1024; cat++) this.contentTable[cat] = C.TEXT;
  }

  private rareCum: number[] = [];

  /** Fills `plan` for chunk `c`. withContent: also decide page contents. */
  plan(c: number, plan: ChunkPlan, withContent: boolean): ChunkPlan {
    if (plan.chunk === c && (plan.withContent || !withContent)) return plan;
    plan.chunk = c;
    plan.withContent = withContent;
    const first = c * CHUNK;
    const { kind, order, acct } = plan;
    const full = this.markAvailability(first, kind);
    order.fill(0);
    this.rng.reseed(hashOf(this.seed, c, 1));
    const g = Math.floor(first / GIGA_PFNS);
    if (this.mix.gigantic > 0 && this.gigantic(g)) {
      const headPfn = g * GIGA_PFNS;
      const mapped = (hashOf(this.seed, g, 7) & 1) === 0;
      const hk = mapped ? K.HUGETLB_HEAD : K.HUGETLB_FREE_HEAD;
      kind.fill(K.TAIL);
      order.fill(GIGA_ORDER);
      acct.fill(hk);
      if (first === headPfn) kind[0] = hk;
    } else if (full) {
      this.planFullChunk(plan);
    } else {
      this.smallFill(plan, 0, CHUNK);
    }
    for (let i = 0; i < CHUNK; i++) {
      if (kind[i] === K.HOLE) acct[i] = K.HOLE;
      else if (kind[i] === K.OVERLAY) acct[i] = K.OVERLAY;
    }
    if (withContent) this.planContent(plan);
    return plan;
  }

  /** kind[] := HOLE / OVERLAY / AVAIL; returns true when all 1024 pfns are available. */
  private markAvailability(first: number, kind: Uint8Array): boolean {
    const last = first + CHUNK;
    kind.fill(K.HOLE);
    let availCount = 0;
    for (const r of this.rangesPfn) {
      if (r.end <= first || r.start >= last) continue;
      const a = Math.max(r.start, first) - first;
      const b = Math.min(r.end, last) - first;
      kind.fill(AVAIL, a, b);
      availCount += b - a;
    }
    // reservations overlapping [first, last): binary search for the first with end > first
    let lo = 0;
    let hi = this.resStart.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.resEnd[mid] <= first) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.resStart.length && this.resStart[i] < last; i++) {
      const a = Math.max(this.resStart[i], first) - first;
      const b = Math.min(this.resEnd[i], last) - first;
      kind.fill(K.OVERLAY, a, b);
      availCount -= b - a;
    }
    return availCount === CHUNK;
  }

  /** A 1 GiB region becomes one gigantic hugetlb page when it is all plain RAM and the dice say so. */
  private gigantic(g: number): boolean {
    let v = this.gigaCache.get(g);
    if (v === undefined) {
      v = 0;
      if (hashOf(this.seed, g, 5) / 4294967296 < this.mix.gigantic) {
        const a = g * GIGA_PFNS;
        const b = a + GIGA_PFNS;
        const inRam = this.rangesPfn.some((r) => r.start <= a && b <= r.end);
        let clear = true;
        for (let i = 0; i < this.resStart.length; i++) {
          if (this.resStart[i] < b && this.resEnd[i] > a) {
            clear = false;
            break;
          }
        }
        v = inRam && clear ? 1 : 0;
      }
      this.gigaCache.set(g, v);
    }
    return v === 1;
  }

  private planFullChunk(plan: ChunkPlan): void {
    const r = this.rng.next();
    let big: number = Big.SMALL;
    for (let i = 0; i < this.bigCum.length; i++) {
      if (r < this.bigCum[i]) {
        big = i;
        break;
      }
    }
    switch (big) {
      case Big.FREE:
        this.freeSplit(plan, 0, CHUNK_ORDER);
        return;
      case Big.THP:
        this.unit(plan, 0, 9, K.THP_HEAD);
        this.unit(plan, 512, 9, K.THP_HEAD);
        return;
      case Big.HUGETLB:
      case Big.HUGETLB_FREE: {
        const hk = big === Big.HUGETLB ? K.HUGETLB_HEAD : K.HUGETLB_FREE_HEAD;
        this.unit(plan, 0, 9, hk);
        this.unit(plan, 512, 9, hk);
        return;
      }
      case Big.FILETHP: {
        const pPriv = this.mix.cachepriv / Math.max(this.mix.cache + this.mix.cachepriv, 1e-12);
        for (const at of [0, 512]) this.unit(plan, at, 9, this.rng.next() < pPriv ? K.FOLIO_PRIV_HEAD : K.FOLIO_HEAD);
        return;
      }
      default:
        this.smallFill(plan, 0, CHUNK);
    }
  }

  /** A free block of `ord` pages at `at`, split further with probability ~frag. */
  private freeSplit(plan: ChunkPlan, at: number, ord: number): void {
    const f = this.mix.frag;
    if (ord === 0 || this.rng.next() >= f * 0.9) {
      this.unit(plan, at, ord, K.FREE_HEAD);
      return;
    }
    const half = 1 << (ord - 1);
    this.freeSplit(plan, at, ord - 1);
    if (this.rng.next() < f * 0.5) this.smallFill(plan, at + half, at + 2 * half, true);
    else this.freeSplit(plan, at + half, ord - 1);
  }

  private unit(plan: ChunkPlan, at: number, ord: number, head: number): void {
    const n = 1 << ord;
    const { kind, order, acct } = plan;
    kind[at] = head;
    order.fill(ord, at, at + n);
    acct.fill(head, at, at + n);
    if (n > 1) kind.fill(head === K.FREE_HEAD ? K.FREE_TAIL : K.TAIL, at + 1, at + n);
  }

  private pickSmall(): number {
    const r = this.rng.next();
    const rc = this.rareCum;
    if (r < rc[rc.length - 1]) {
      for (let i = 0; i < rc.length; i++) if (r < rc[i]) return S.HWPOISON + i;
    }
    return this.smallTable[(this.rng.u32() >>> 20) & 4095];
  }

  /** Per-page kinds over the available pfns of [a, b). noFree: inside a split free block
   * (its buddy half is allocated, so no free page may sit there). */
  private smallFill(plan: ChunkPlan, a: number, b: number, noFree = false): void {
    const kind = plan.kind;
    let i = a;
    while (i < b) {
      if (kind[i] !== AVAIL) {
        i++;
        continue;
      }
      let s = this.pickSmall();
      if (noFree && s === S.FREE) s = S.KERNEL;
      let ord = 0;
      let head: number;
      switch (s) {
        case S.CACHE: head = K.CACHE; break;
        case S.CACHE_PRIV: head = K.CACHE_PRIV; break;
        case S.ANON: head = K.ANON; break;
        case S.FOLIO: {
          ord = 2 + this.rng.below(3);
          const pPriv = this.mix.cachepriv / Math.max(this.mix.cache + this.mix.cachepriv, 1e-12);
          head = this.rng.next() < pPriv ? K.FOLIO_PRIV_HEAD : K.FOLIO_HEAD;
          break;
        }
        case S.SLAB: {
          const r = this.rng.next();
          ord = r < 0.6 ? 0 : r < 0.8 ? 1 : r < 0.9 ? 2 : 3;
          head = K.SLAB;
          break;
        }
        case S.KERNEL: head = K.KERNEL; break;
        case S.PGTABLE: head = K.PGTABLE; break;
        case S.RESERVED: head = K.RESERVED; break;
        case S.PCP: head = K.PCP; break;
        case S.FREE: {
          const r = this.rng.next();
          ord = r < 0.4 ? 0 : r < 0.65 ? 1 : r < 0.85 ? 2 : 3;
          head = K.FREE_HEAD;
          break;
        }
        case S.HWPOISON: head = K.HWPOISON; break;
        case S.HWPOISON_LRU: head = K.HWPOISON_LRU; break;
        case S.HWPOISON_ANON: head = K.HWPOISON_ANON; break;
        case S.OFFLINE: head = K.OFFLINE; break;
        case S.KSM: head = K.KSM; break;
        case S.SWAPCACHE_ANON: head = K.SWAPCACHE_ANON; break;
        case S.SHMEM_SWAPCACHE: head = K.SHMEM_SWAPCACHE; break;
        case S.CHECKED: head = K.CHECKED; break;
        case S.MOVABLE: head = K.MOVABLE; break;
        case S.SLAB_BUDDYLIKE: head = K.SLAB_BUDDYLIKE; break;
        default: head = K.BADBUDDY; break;
      }
      // Shrink the unit until it is naturally aligned and all of it is available.
      while (ord > 0 && !this.fits(kind, i, ord, b)) ord--;
      if (ord === 0 && (head === K.FOLIO_HEAD || head === K.FOLIO_PRIV_HEAD)) {
        head = head === K.FOLIO_HEAD ? K.CACHE : K.CACHE_PRIV;
      }
      this.unit(plan, i, ord, head);
      i += 1 << ord;
    }
  }

  private fits(kind: Uint8Array, i: number, ord: number, b: number): boolean {
    const n = 1 << ord;
    if ((i & (n - 1)) !== 0 || i + n > b) return false;
    for (let j = i; j < i + n; j++) if (kind[j] !== AVAIL) return false;
    return true;
  }

  /**
   * Content of every page; zero pages stay C.ZERO. Zero-filled allocated pages come
   * in runs (a two-state chain with the mix's overall zero share and runs of 8 on
   * average) and each chunk has a dominant content kind: like real memory, and it
   * keeps the writes of the sparse file long.
   */
  private planContent(plan: ChunkPlan): void {
    const { kind, acct, content } = plan;
    const c = plan.chunk;
    const m = this.mix;
    const rng = this.crng.reseed(hashOf(this.seed, c, 2));
    const dataKept = hashOf(this.seed, c, 3) / 4294967296 < this.pKept;
    const dataOther = hashOf(this.seed, c, 4) / 4294967296 < this.pOther;
    const table = this.contentTable;
    const dominant = table[rng.u32() & 1023];
    const stayZero = m.zero >= 1 ? 1 : 1 - 1 / ZERO_RUN;
    const toZero = m.zero >= 1 ? 1 : Math.min(1, (m.zero * (1 - stayZero)) / Math.max(1 - m.zero, 1e-12));
    let inZero = rng.next() < m.zero;
    const pick = (): number => (rng.next() < 0.75 ? dominant : table[rng.u32() & 1023]);
    content.fill(C.ZERO);
    let blockZero = false;
    for (let i = 0; i < CHUNK; i++) {
      const k = kind[i];
      const a = acct[i];
      if (k === K.HOLE || k === K.OVERLAY) continue;
      if (k === K.FREE_HEAD) blockZero = rng.next() < m.freezero;
      if (a !== K.FREE_HEAD) inZero = rng.next() < (inZero ? stayZero : toZero);
      switch (a) {
        case K.FREE_HEAD:
          if (!blockZero && dataOther) content[i] = pick();
          break;
        case K.SLAB: case K.KERNEL: case K.PGTABLE: case K.PCP: case K.CHECKED: case K.MOVABLE:
        case K.SLAB_BUDDYLIKE: case K.HWPOISON: case K.BADBUDDY: {
          if (!dataKept || inZero) break;
          const r = rng.next();
          content[i] = r < 0.7 ? C.KSTRUCT : r < 0.85 ? C.TEXT : r < 0.95 ? C.CODE : C.RANDOM;
          break;
        }
        case K.RESERVED:
          if (dataKept && !inZero && rng.next() >= 0.5) content[i] = C.KSTRUCT;
          break;
        case K.OFFLINE:
          if (dataOther && !inZero && rng.next() >= 0.5) content[i] = pick();
          break;
        default:
          if (dataOther && !inZero) content[i] = pick();
      }
    }
  }
}

// Encodes `struct page` (Linux 6.1, 64 bytes) for every pfn of a present section,
// straight into the write buffer as 16 little-endian 32-bit words; for another kernel
// generation, each page is then rewritten as that kernel's (generations.ts).
//
// Word offsets follow the VMCOREINFO the generator emits (template.ts):
// flags 0, lru / compound_head 8, lru.prev / compound_dtor (u8 16) + compound_order
// (u8 17) in the first tail page, mapping 24, index 32, private 40, _mapcount 48,
// _refcount 52, memcg_data 56. Values were chosen to look like what a 6.1 kernel
// leaves there (zone and last_cpupid bits in the top of flags, list poison values,
// page_type values in _mapcount), checked against the real-1g fixture.

import { Generation, PageAdapter, PageFacts } from './generations';
import { K } from './kinds';
import { Layout, SECTION_PFNS, PAGE, MiB, zoneOf } from './layout';
import { ChunkPlan, Planner, CHUNK } from './planner';
import { mix32 } from './prng';
import { KernelFacts } from './vmcoreinfo';

const LIST_POISON1_LO = 0x00000100;
const LIST_POISON2_LO = 0x00000122;
const POISON_HI = 0xdead0000 | 0;
const TAIL_MAPPING_LO = 0x00000400;
const PAGE_TABLE_MAPCOUNT = -513; // page_type PG_table (0x200) cleared from -1
const COMPOUND_PAGE_DTOR = 1;
const TRANSHUGE_PAGE_DTOR = 3;
/** 6.1 enum pageflags numbers that VMCOREINFO does not export */
const PG_REFERENCED = 1;
const PG_UPTODATE = 2;
const PG_DIRTY = 3;
const PG_ACTIVE = 5;
const PG_RESERVED = 12;
const PG_MAPPEDTODISK = 17;
/** bits 30..50 of flags hold LAST_CPUPID (all ones = none), then the zone, then the node */
const FLAGS_LO_BASE = 0xc0000000 | 0;
const FLAGS_HI_CPUPID = 0x7ffff;

const TWO32 = 4294967296;

/** Kernel pointers in the direct map, as (lo, hi) word pairs. */
class Pointers {
  readonly lo: Int32Array;
  readonly hi: Int32Array;
  constructor(layout: Layout, count: number, align: number, tag: number, salt: number) {
    this.lo = new Int32Array(count);
    this.hi = new Int32Array(count);
    const pobLo = Number(layout.pageOffsetBase & 0xffffffffn);
    const pobHi = Number(layout.pageOffsetBase >> 32n);
    // Objects live in node 0's low memory (slab pages), well inside RAM.
    const span = 256 * MiB;
    for (let i = 0; i < count; i++) {
      const phys = 16 * MiB + Math.floor((mix32(salt + i) / TWO32) * span / align) * align;
      const v = pobLo + phys;
      this.lo[i] = ((v >>> 0) | tag) | 0;
      this.hi[i] = (pobHi + Math.floor(v / TWO32)) | 0;
    }
  }
}

export class StructPageEncoder {
  private readonly plan = new ChunkPlan();
  private readonly vmLo: number;
  private readonly vmHi: number;
  private readonly files: Pointers;
  private readonly anonVmas: Pointers;
  private readonly ksm: Pointers;
  private readonly movable: Pointers;
  private readonly caches: Pointers;
  private readonly memcgs: Pointers;
  private readonly heads: Pointers;
  private readonly fPRIVATE: number;
  private readonly fLRU: number;
  private readonly fSWAPCACHE: number;
  private readonly fSWAPBACKED: number;
  private readonly fSLAB: number;
  private readonly fHWPOISON: number;
  private readonly fHEAD: number;
  private readonly buddyMapcount: number;
  private readonly offlineMapcount: number;
  private readonly hugetlbDtor: number;
  private readonly maxOrder: number;
  /** rewrites each 6.1 page as another kernel generation's (generations.ts) */
  private readonly adapter?: PageAdapter;
  private readonly facts: PageFacts = { kind: 0, acct: 0, order: 0, tailIndex: 0, headLo: 0, headHi: 0, h: 0 };

  constructor(private readonly layout: Layout, private readonly planner: Planner, facts: KernelFacts,
    generation?: Generation, stext = 0n) {
    this.vmLo = Number(layout.vmemmapBase & 0xffffffffn);
    this.vmHi = Number(layout.vmemmapBase >> 32n);
    this.files = new Pointers(layout, 256, 64, 0, 0x1000);
    this.anonVmas = new Pointers(layout, 256, 8, 1, 0x2000);
    this.ksm = new Pointers(layout, 16, 8, 3, 0x3000);
    this.movable = new Pointers(layout, 16, 8, 2, 0x4000);
    this.caches = new Pointers(layout, 32, 256, 0, 0x5000);
    this.memcgs = new Pointers(layout, 8, 4096, 0, 0x6000);
    this.heads = new Pointers(layout, 16, 8, 0, 0x7000);
    this.fPRIVATE = 1 << facts.pgPrivate;
    this.fLRU = 1 << facts.pgLru;
    this.fSWAPCACHE = 1 << facts.pgSwapcache;
    this.fSWAPBACKED = 1 << facts.pgSwapbacked;
    this.fSLAB = 1 << facts.pgSlab;
    this.fHWPOISON = 1 << facts.pgHwpoison;
    this.fHEAD = facts.pgHeadMask;
    this.buddyMapcount = facts.buddyMapcount;
    this.offlineMapcount = facts.offlineMapcount;
    this.hugetlbDtor = facts.hugetlbDtor;
    this.maxOrder = facts.maxOrder;
    if (generation && generation.name !== '6.1') {
      this.adapter = new PageAdapter(generation, {
        referenced: PG_REFERENCED, uptodate: PG_UPTODATE, dirty: PG_DIRTY, lru: facts.pgLru, active: PG_ACTIVE,
        slab: facts.pgSlab, swapcache: facts.pgSwapcache, reserved: PG_RESERVED, private: facts.pgPrivate,
        head: Math.log2(facts.pgHeadMask), mappedtodisk: PG_MAPPEDTODISK, swapbacked: facts.pgSwapbacked,
        hwpoison: facts.pgHwpoison,
      }, stext);
    }
  }

  /**
   * Struct pages of section `s` held by memmap pages [p0, p1) of its 2 MiB vmemmap
   * block (64 struct pages per 4 KiB page), written at w[at..].
   */
  encode(s: number, p0: number, p1: number, w: Int32Array, at: number): void {
    const node = this.layout.sectionNode.get(s) ?? 0;
    const pfn0 = s * SECTION_PFNS + p0 * (PAGE / 64);
    const pfn1 = s * SECTION_PFNS + p1 * (PAGE / 64);
    const plan = this.plan;
    let b = at;
    for (let pfn = pfn0; pfn < pfn1; pfn++, b += 16) {
      const i = pfn & (CHUNK - 1);
      if (i === 0 || pfn === pfn0) this.planner.plan(Math.floor(pfn / CHUNK), plan, false);
      const k = plan.kind[i];
      const ord = plan.order[i];
      const selfV = this.vmLo + pfn * 64;
      const selfLo = selfV >>> 0;
      const selfHi = (this.vmHi + Math.floor(selfV / TWO32)) | 0;
      const h = mix32((pfn >>> 0) ^ 0x9e3779b9);
      let fl = FLAGS_LO_BASE;
      const fh = FLAGS_HI_CPUPID | (zoneOf(pfn) << 19) | (node << 21);
      // defaults: a plain allocated page
      let w8lo = 0, w8hi = 0, w16lo = 0, w16hi = 0, mLo = 0, mHi = 0, iLo = 0, iHi = 0, pLo = 0, pHi = 0;
      let mapcount = -1;
      let refcount = 1;
      let cgLo = 0, cgHi = 0;
      let tailIndex = 0, headLo = 0, headHi = 0;
      switch (k) {
        case K.HOLE:
        case K.OVERLAY:
        case K.RESERVED:
          fl |= 1 << PG_RESERVED;
          w8lo = w16lo = (selfLo + 8) | 0;
          w8hi = w16hi = selfHi;
          break;
        case K.FREE_HEAD: {
          // lru links the block into free_area[order].free_list[migratetype]
          const hp = (ord * 5 + (h & 3)) & 15;
          w8lo = w16lo = this.heads.lo[hp];
          w8hi = w16hi = this.heads.hi[hp];
          pLo = ord;
          mapcount = this.buddyMapcount;
          refcount = 0;
          break;
        }
        case K.FREE_TAIL:
          w16lo = LIST_POISON2_LO;
          w16hi = POISON_HI;
          refcount = 0;
          break;
        case K.PCP:
          w8lo = (selfLo + 72) | 0;
          w8hi = selfHi;
          w16lo = (selfLo - 56) | 0;
          w16hi = selfHi;
          refcount = 0;
          break;
        case K.CACHE:
        case K.CACHE_PRIV:
        case K.HWPOISON_LRU:
        case K.SHMEM_SWAPCACHE:
        case K.CHECKED: {
          const f = this.files;
          const fi = h & 255;
          mLo = f.lo[fi];
          mHi = f.hi[fi];
          iLo = (h >>> 8) & 0xfffff;
          cgLo = this.memcgs.lo[h & 7];
          cgHi = this.memcgs.hi[h & 7];
          if (k === K.SHMEM_SWAPCACHE) {
            fl |= (1 << PG_UPTODATE) | this.fSWAPCACHE | this.fSWAPBACKED;
            pLo = h & 0x3fffffff; // swap entry
            refcount = 2;
          } else if (k === K.CHECKED) {
            fl |= (1 << PG_UPTODATE) | this.fSWAPCACHE; // PG_owner_priv_1 used as PG_checked
          } else {
            fl |= (1 << PG_REFERENCED) | (1 << PG_UPTODATE) | this.fLRU | (1 << PG_MAPPEDTODISK);
            if (h & 0x100000) fl |= 1 << PG_ACTIVE;
            w8lo = (selfLo + 72) | 0;
            w8hi = selfHi;
            w16lo = (selfLo - 56) | 0;
            w16hi = selfHi;
            if (k === K.CACHE_PRIV) {
              fl |= this.fPRIVATE | (1 << PG_DIRTY);
              const bh = this.heads;
              pLo = (bh.lo[h & 15] + ((h >>> 4) & 0xff) * 104) | 0;
              pHi = bh.hi[h & 15];
              refcount = 2;
            }
            if (k === K.HWPOISON_LRU) fl |= this.fHWPOISON;
            if (h & 0x200000) mapcount = 0;
          }
          break;
        }
        case K.ANON:
        case K.KSM:
        case K.SWAPCACHE_ANON:
        case K.HWPOISON_ANON: {
          const p = k === K.KSM ? this.ksm : this.anonVmas;
          const ai = k === K.KSM ? h & 15 : h & 255;
          mLo = p.lo[ai];
          mHi = p.hi[ai];
          iLo = 0x7f000000 + ((h >>> 8) & 0xffffff);
          iHi = 0; // user virtual page number
          cgLo = this.memcgs.lo[h & 7];
          cgHi = this.memcgs.hi[h & 7];
          mapcount = 0;
          if (k === K.SWAPCACHE_ANON) {
            fl |= (1 << PG_UPTODATE) | this.fSWAPCACHE | this.fSWAPBACKED;
            pLo = h & 0x3fffffff;
            refcount = 2;
          } else {
            fl |= (1 << PG_UPTODATE) | this.fLRU | this.fSWAPBACKED | (1 << PG_MAPPEDTODISK);
            w8lo = (selfLo + 72) | 0;
            w8hi = selfHi;
            w16lo = (selfLo - 56) | 0;
            w16hi = selfHi;
            if (k === K.HWPOISON_ANON) fl |= this.fHWPOISON;
          }
          break;
        }
        case K.MOVABLE:
          mLo = this.movable.lo[h & 15];
          mHi = this.movable.hi[h & 15];
          break;
        case K.SLAB:
        case K.SLAB_BUDDYLIKE:
          fl |= this.fSLAB;
          if (ord > 0) fl |= this.fHEAD;
          w8lo = LIST_POISON1_LO;
          w8hi = POISON_HI;
          w16lo = LIST_POISON2_LO;
          w16hi = POISON_HI;
          mLo = this.caches.lo[h & 31];
          mHi = this.caches.hi[h & 31];
          iLo = (selfLo & 0x0fffffc0) | 0; // freelist
          iHi = this.files.hi[0];
          pLo = ((h & 0x3f) << 16) | (h & 0x3f); // objects / inuse counters
          if (k === K.SLAB_BUDDYLIKE) mapcount = this.buddyMapcount;
          break;
        case K.KERNEL:
          if (h & 1) {
            pLo = h >>> 8;
          }
          break;
        case K.PGTABLE:
          mapcount = PAGE_TABLE_MAPCOUNT;
          break;
        case K.HWPOISON:
          fl |= this.fHWPOISON;
          break;
        case K.OFFLINE:
          mapcount = this.offlineMapcount;
          break;
        case K.BADBUDDY:
          pLo = this.maxOrder + (h % 21);
          mapcount = this.buddyMapcount;
          refcount = 0;
          break;
        case K.THP_HEAD: {
          fl |= (1 << PG_UPTODATE) | this.fLRU | this.fHEAD | this.fSWAPBACKED | (1 << PG_ACTIVE);
          mLo = this.anonVmas.lo[h & 255];
          mHi = this.anonVmas.hi[h & 255];
          iLo = 0x7f000000 + ((h >>> 8) & 0xfffe00);
          w8lo = (selfLo + 72) | 0;
          w8hi = selfHi;
          w16lo = (selfLo - 56) | 0;
          w16hi = selfHi;
          cgLo = this.memcgs.lo[h & 7];
          cgHi = this.memcgs.hi[h & 7];
          break;
        }
        case K.FOLIO_HEAD:
        case K.FOLIO_PRIV_HEAD: {
          fl |= (1 << PG_REFERENCED) | (1 << PG_UPTODATE) | this.fLRU | this.fHEAD | (1 << PG_MAPPEDTODISK);
          mLo = this.files.lo[h & 255];
          mHi = this.files.hi[h & 255];
          iLo = ((h >>> 8) & 0xfffff) & ~((1 << ord) - 1);
          w8lo = (selfLo + 72) | 0;
          w8hi = selfHi;
          w16lo = (selfLo - 56) | 0;
          w16hi = selfHi;
          if (k === K.FOLIO_PRIV_HEAD) {
            fl |= this.fPRIVATE;
            pLo = (this.heads.lo[h & 15] + ((h >>> 4) & 0xff) * 104) | 0;
            pHi = this.heads.hi[h & 15];
            refcount = 2;
          }
          cgLo = this.memcgs.lo[h & 7];
          cgHi = this.memcgs.hi[h & 7];
          break;
        }
        case K.HUGETLB_HEAD:
          fl |= this.fHEAD | (1 << PG_UPTODATE) | (1 << PG_DIRTY);
          // MAP_SHARED hugetlbfs file or MAP_PRIVATE anonymous: user data either way
          if (h & 1) {
            mLo = this.anonVmas.lo[h & 255];
            mHi = this.anonVmas.hi[h & 255];
          } else {
            mLo = this.files.lo[h & 255];
            mHi = this.files.hi[h & 255];
          }
          iLo = (h >>> 8) & 0xffe00;
          pLo = 2; // hugetlb page flags live in page->private (HPG_migratable)
          break;
        case K.HUGETLB_FREE_HEAD:
          fl |= this.fHEAD;
          w8lo = w16lo = this.heads.lo[15];
          w8hi = w16hi = this.heads.hi[15];
          refcount = 0;
          break;
        case K.TAIL: {
          const headPfn = pfn - (pfn % (2 ** ord));
          const hv = this.vmLo + headPfn * 64;
          w8lo = (hv >>> 0) | 1;
          w8hi = (this.vmHi + Math.floor(hv / TWO32)) | 0;
          refcount = 0;
          const j = pfn - headPfn;
          tailIndex = j;
          headLo = hv | 0;
          headHi = w8hi;
          if (j === 1) {
            const hk = plan.acct[i];
            const dtor = hk === K.HUGETLB_HEAD || hk === K.HUGETLB_FREE_HEAD
              ? this.hugetlbDtor : hk === K.SLAB ? COMPOUND_PAGE_DTOR : TRANSHUGE_PAGE_DTOR;
            w16lo = dtor | (ord << 8);
            w16hi = -1; // compound_mapcount
            mLo = 0; // compound_pincount
            mHi = 2 ** ord; // compound_nr
          } else {
            if (j === 2) {
              w16lo = (selfLo + 16) | 0;
              w16hi = selfHi;
            }
            mLo = TAIL_MAPPING_LO;
            mHi = POISON_HI;
          }
          break;
        }
        default:
          // FREE_TAIL handled above; anything else is a plain page
          break;
      }
      w[b] = fl;
      w[b + 1] = fh;
      w[b + 2] = w8lo;
      w[b + 3] = w8hi;
      w[b + 4] = w16lo;
      w[b + 5] = w16hi;
      w[b + 6] = mLo;
      w[b + 7] = mHi;
      w[b + 8] = iLo;
      w[b + 9] = iHi;
      w[b + 10] = pLo;
      w[b + 11] = pHi;
      w[b + 12] = mapcount;
      w[b + 13] = refcount;
      w[b + 14] = cgLo;
      w[b + 15] = cgHi;
      if (this.adapter) {
        const f = this.facts;
        f.kind = k;
        f.acct = plan.acct[i];
        f.order = ord;
        f.tailIndex = tailIndex;
        f.headLo = headLo;
        f.headHi = headHi;
        f.h = h;
        this.adapter.adapt(w, b, f, this.buddyMapcount, this.offlineMapcount, PAGE_TABLE_MAPCOUNT);
      }
    }
  }
}

// The default write order's bookkeeping (src/pipeline/write-order.ts): whatever order the
// pages are written in, each dumped page's descriptor goes to the slot of its rank in the
// 2nd bitmap, exactly once; the priority pages come first, group after group, only those
// the dump keeps, and the struct pages only of kept pfns.
import { expect } from 'chai';
import { MemMapRuns, PriorityGroup, forEachGroupPage } from '../../src/kernel/priority-pages';
import { batchesOf } from '../../src/pipeline/kdump-output';
import { WriteOrder, nextBit, wordsOf } from '../../src/pipeline/write-order';

const CYCLE = 64;
const PFNS = 200;

function bitmapOf(dumpable: (pfn: number) => boolean, pfns = PFNS): Uint8Array {
  const bm = new Uint8Array(Math.ceil(pfns / 8));
  for (let p = 0; p < pfns; p++) if (dumpable(p)) bm[p >> 3] |= 1 << (p & 7);
  return bm;
}

/** Runs the order over a bitmap cut into cycles: every page written, with its slot, in write order. */
function writeAll(bm: Uint8Array, groups: PriorityGroup[], ranges: { start: number; end: number }[], maxPages: number,
  pfnCount = PFNS, cycle = CYCLE, orderOut?: (o: WriteOrder) => void): { pfn: number; slot: number; first: boolean }[] {
  const order = new WriteOrder(groups);
  orderOut?.(order);
  const cycles: { start: number; end: number; view: Uint8Array; base: number }[] = [];
  let base = 0;
  for (let start = 0; start < pfnCount; start += cycle) {
    const end = Math.min(start + cycle, pfnCount);
    const view = bm.slice(start / 8, Math.ceil(end / 8));
    cycles.push({ start, end, view, base });
    order.markCycle(start, end, view, base);
    for (let p = start; p < end; p++) if (bm[p >> 3] & (1 << (p & 7))) base++;
  }
  const written: { pfn: number; slot: number; first: boolean }[] = [];
  const take = (b: { batch: { pfnStart: number; pfnEnd: number; bitmap: Uint8Array; count: number }; index: number; runs?: readonly { slot: number; count: number }[] }, first: boolean): void => {
    const pfns: number[] = [];
    for (let p = b.batch.pfnStart; p < b.batch.pfnEnd; p++) {
      const i = p - b.batch.pfnStart;
      if (b.batch.bitmap[i >> 3] & (1 << (i & 7))) pfns.push(p);
    }
    expect(pfns.length).to.equal(b.batch.count);
    const slots: number[] = [];
    for (const r of b.runs ?? [{ slot: b.index, count: b.batch.count }]) for (let k = 0; k < r.count; k++) slots.push(r.slot + k);
    expect(slots.length, 'a slot per page').to.equal(pfns.length);
    expect(slots[0]).to.equal(b.index);
    pfns.forEach((pfn, i) => written.push({ pfn, slot: slots[i], first }));
  };
  for (const b of order.priorityBatches(maxPages, ranges)) {
    const r = ranges.find((x) => b.batch.pfnEnd - 1 >= x.start && b.batch.pfnEnd - 1 < x.end)!;
    expect(b.batch.pfnStart + 8, 'a priority batch stays within one page range').to.be.greaterThan(r.start);
    take(b, true);
  }
  for (const cy of cycles) {
    const rest = order.restOf(cy.start, cy.end, cy.view);
    const ranker = WriteOrder.ranker(cy.view, cy.start, cy.base);
    for (const range of ranges) {
      const from = Math.max(range.start, cy.start);
      const to = Math.min(range.end, cy.end);
      if (from >= to) continue;
      for (const batch of batchesOf(rest, cy.start, cy.end, maxPages, from, to)) take(order.slotsOf(batch, ranker, cy.view, cy.start, rest), false);
    }
  }
  return written;
}

function rankOf(bm: Uint8Array, pfns = PFNS): Map<number, number> {
  const m = new Map<number, number>();
  for (let p = 0; p < pfns; p++) if (bm[p >> 3] & (1 << (p & 7))) m.set(p, m.size);
  return m;
}

/** Every dumped page once at its rank's slot; the rest after the pages written first, in pfn order. */
function expectComplete(written: { pfn: number; slot: number; first: boolean }[], bm: Uint8Array, pfns: number, first: number[]): void {
  const rank = rankOf(bm, pfns);
  expect(written.length).to.equal(rank.size);
  for (const w of written) expect(w.slot, `slot of pfn ${w.pfn}`).to.equal(rank.get(w.pfn));
  expect(written.filter((w) => w.first).map((w) => w.pfn)).to.deep.equal(first);
  expect(written.filter((w) => !w.first).map((w) => w.pfn)).to.deep.equal([...rank.keys()].filter((p) => !first.includes(p)));
}

describe('write order: priority pages first, descriptors in pfn order', function () {
  const dumpable = (p: number): boolean => p % 7 !== 3 && !(p >= 120 && p < 150);
  const bm = bitmapOf(dumpable);
  // struct pages: pfn 160 describes only excluded pfns, 161 some kept ones (30 struct
  // pages of 128 bytes in each page)
  const memMap = new MemMapRuns(4096, 128);
  memMap.add(161 * 4096, 0, 30 * 128, 100, 130);
  memMap.add(160 * 4096, 0, 30 * 128, 120, 150);
  const groups: PriorityGroup[] = [
    { name: 'page-tables', pfns: Float64Array.of(9, 70, 71, 72, 150, 199) },
    { name: 'printk', pfns: Float64Array.of(3, 10, 11, 12, 13, 70) },
    { name: 'mem-map', pfns: new Float64Array(0), memMap },
  ];

  for (const maxPages of [1024, 3]) {
    for (const ranges of [[{ start: 0, end: PFNS }], [{ start: 0, end: 90 }, { start: 90, end: 155 }, { start: 155, end: PFNS }]]) {
      it(`${ranges.length} page range(s), batches of at most ${maxPages}: every dumped page once, at its rank's slot`, function () {
        const written = writeAll(bm, groups, ranges, maxPages);
        const rank = rankOf(bm);
        expect(written.length).to.equal(rank.size);
        const seen = new Set<number>();
        for (const w of written) {
          expect(seen.has(w.pfn), `pfn ${w.pfn} written twice`).to.equal(false);
          seen.add(w.pfn);
          expect(w.slot, `slot of pfn ${w.pfn}`).to.equal(rank.get(w.pfn));
        }
        // written first: the page tables, then the log's pages not already written, then struct
        // pages of kept pfns; 150, 199, 3 and 10 are not dumped (p % 7 === 3), 160 describes none
        const first = [9, 70, 71, 72, 11, 12, 13, 161];
        expect(written.filter((w) => w.first).map((w) => w.pfn)).to.deep.equal(first);
        expect(written.filter((w) => !w.first).map((w) => w.pfn)).to.deep.equal([...rank.keys()].filter((p) => !first.includes(p)));
      });
    }
  }

  it('no priority page: the rest is the whole bitmap, in single runs', function () {
    const written = writeAll(bm, [], [{ start: 0, end: PFNS }], 1024);
    expect(written.map((w) => w.slot)).to.deep.equal([...rankOf(bm).values()]);
  });
});

describe('write order: the mem-map group as runs', function () {
  // 64-byte pages holding 24-byte struct pages: a struct page straddles pages, and no
  // page holds a whole number of them
  const PS = 64;
  const SP = 24;

  /**
   * Range [8, 28): its 480 bytes of mem_map from pa 680 (pfn 10, 40 bytes in), mapped by
   * two translations that are physically contiguous: one run, pfns 10 to 18. Range [40, 48)
   * at pa 192: pfns 3 to 5. Range [48, 56): its first 64 bytes on pfn 4 again (a page
   * mapped twice, as HugeTLB's vmemmap optimisation does), the rest unmapped.
   */
  function runs(): MemMapRuns {
    const m = new MemMapRuns(PS, SP);
    m.add(680, 0, 100, 8, 28);
    m.add(780, 100, 380, 8, 28);
    m.add(192, 0, 192, 40, 48);
    m.add(256, 0, 64, 48, 56);
    return m;
  }

  it('pages and the pfns they describe, by hand', function () {
    const m = runs();
    expect(m.count, 'the two contiguous translations are one run').to.equal(3);
    expect(m.pages).to.equal(13);
    const pages: number[][] = [];
    forEachGroupPage({ name: 'mem-map', pfns: new Float64Array(0), memMap: m }, (pfn, s, e) => pages.push([pfn, s!, e!]));
    expect(pages).to.deep.equal([
      // bytes [0,24) [24,88) [88,152) ... [472,480) of range [8, 28)'s mem_map
      [10, 8, 9], [11, 9, 12], [12, 11, 15], [13, 14, 17], [14, 17, 20], [15, 19, 23], [16, 22, 25], [17, 25, 28], [18, 27, 28],
      [3, 40, 43], [4, 42, 46], [5, 45, 48],
      [4, 48, 51],
    ]);
  });

  it('writes first the struct pages that describe kept pfns, at their ranks, by hand', function () {
    const kept = new Set([3, 4, 9, 10, 12, 13, 16, 17, 18, 26, 41, 50, 60]);
    const bm = bitmapOf((p) => kept.has(p), 64);
    const groups: PriorityGroup[] = [
      { name: 'page-tables', pfns: Float64Array.of(13, 60, 61) },
      { name: 'mem-map', pfns: new Float64Array(0), memMap: runs() },
    ];
    // page tables: 13 and 60 (61 is not kept); struct pages: 3 (describes 41), 4 (its
    // second mapping describes 50), 12 (12, 13), 17 (26); 13 went with the page tables;
    // 10, 16 and 18 describe no kept pfn; 11, 14, 15 and 5 are not kept
    for (const cycle of [16, 24, 64]) {
      for (const maxPages of [1024, 2]) {
        let order: WriteOrder | undefined;
        const written = writeAll(bm, groups, [{ start: 0, end: 64 }], maxPages, 64, cycle, (o) => { order = o; });
        const first = written.filter((w) => w.first).map((w) => [w.pfn, w.slot]);
        expect(first, `cycles of ${cycle}, batches of ${maxPages}`).to.deep.equal([[13, 5], [60, 12], [3, 0], [4, 1], [12, 4], [17, 7]]);
        expectComplete(written, bm, 64, [13, 60, 3, 4, 12, 17]);
        expect([...order!.written]).to.deep.equal([['page-tables', 2], ['mem-map', 4]]);
      }
    }
  });

  it('matches the rule page by page on random runs, bitmaps and struct-page sizes', function () {
    let seed = 7;
    const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return Math.floor((seed / 2147483648) * n); };
    for (let round = 0; round < 120; round++) {
      // long ranges too: a struct page's pfns then lie after long runs of clear bits
      const PF = [300, 3000][rnd(2)];
      const ps = [64, 128, 4096][rnd(3)];
      const sp = [24, 40, 56, 64, 80][rnd(5)];
      const m = new MemMapRuns(ps, sp);
      let pfnStart = rnd(20);
      for (let r = 0; r < 1 + rnd(6); r++) {
        const pfnEnd = pfnStart + 1 + rnd(PF / 5);
        const len = (pfnEnd - pfnStart) * sp;
        // the range's mem_map in a few pieces, some physically contiguous, some not
        for (let done = 0; done < len;) {
          const n = Math.min(len - done, 1 + rnd(3 * ps));
          const pa = rnd(3) === 0 && m.count > 0 ? m.runPfn[m.count - 1] * ps + (m.end[m.count - 1] - m.base[m.count - 1]) : rnd(PF - 10) * ps + rnd(ps);
          if (pa + n <= (PF - 1) * ps) m.add(pa, done, n, pfnStart, pfnEnd);
          done += n;
        }
        pfnStart = pfnEnd + rnd(30);
      }
      // dense, and sparse enough for runs of 32 clear bits (nextBit's word steps)
      const keep = new Set<number>();
      const sparse = [4, 48, 160][rnd(3)];
      for (let p = 0; p < PF; p++) if (rnd(sparse) === 0) keep.add(p);
      const bm = bitmapOf((p) => keep.has(p), PF);
      const small = [...new Set(Array.from({ length: rnd(8) }, () => rnd(PF)))].sort((a, b) => a - b);
      const groups: PriorityGroup[] = [
        { name: 'page-tables', pfns: Float64Array.from(small) },
        { name: 'mem-map', pfns: new Float64Array(0), memMap: m },
      ];
      // the rule: the small group's kept pages, then every kept pfn of a mem-map page (any
      // copy of it) describing a kept pfn, not in the small group, ascending
      const mmFirst = new Set<number>();
      forEachGroupPage(groups[1], (pfn, s, e) => {
        if (!keep.has(pfn) || small.includes(pfn)) return;
        for (let p = s!; p < e!; p++) if (keep.has(p)) mmFirst.add(pfn);
      });
      const first = [...small.filter((p) => keep.has(p)), ...[...mmFirst].sort((a, b) => a - b)];
      const cycle = [8, 40, 64, 512, 4096][rnd(5)];
      const ranges = rnd(2) ? [{ start: 0, end: PF }] : [{ start: 0, end: 101 }, { start: 101, end: 205 }, { start: 205, end: PF }];
      expectComplete(writeAll(bm, groups, ranges, [3, 1024][rnd(2)], PF, cycle), bm, PF, first);
    }
  });
});

describe('write order: the next set bit', function () {
  it('is the first set bit at or after from, below to, with and without the word steps', function () {
    let seed = 11;
    const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return Math.floor((seed / 2147483648) * n); };
    for (let round = 0; round < 400; round++) {
      const bits = 1 + rnd(2000);
      const bm = new Uint8Array(Math.ceil(bits / 8));
      // from every bit set to runs of hundreds of clear bits
      const sparse = [2, 30, 300, 3000][rnd(4)];
      for (let i = 0; i < bits; i++) if (rnd(sparse) === 0) bm[i >> 3] |= 1 << (i & 7);
      const from = rnd(bits);
      const to = from + rnd(bits - from + 1);
      let want = -1;
      for (let i = from; i < to; i++) if (bm[i >> 3] & (1 << (i & 7))) { want = i; break; }
      expect(nextBit(bm, from, to), `bytes, [${from}, ${to}) of ${bits}`).to.equal(want);
      expect(nextBit(bm, from, to, wordsOf(bm)), `words, [${from}, ${to}) of ${bits}`).to.equal(want);
    }
  });
});

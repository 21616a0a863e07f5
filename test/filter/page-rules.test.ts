// The page decision table in its two languages (classifyChunk of src/filter/page-rules.ts
// and `classify` of native/pagescan.c) over synthetic struct pages of every kernel
// generation the layout table knows (perf/synth/generations.ts writes them): the same
// verdict, block order and bad-order pfn for every page at every dump level, so that a
// rule cannot differ between the languages. Each generation's own rules must be reached
// (hugetlb pages found by that generation's marker, slab pages kept, free blocks, ...), so
// that a rule changed in one language only shows up here.
import { expect } from 'chai';
import { C_CACHE, C_CACHE_PRIVATE, C_FREE, C_HWPOISON, C_OFFLINE, C_USER, NUM_COUNTERS } from '../../src/filter/dump-level';
import { nativeScan } from '../../src/filter/native-scan';
import { VERDICT, classifyChunk, rulesArray, rulesOf } from '../../src/filter/page-rules';
import { PageLayout, kernelVersionCode, resolvePageLayout } from '../../src/kernel/page-layout';
import { VmcoreInfo } from '../../src/kernel/vmcoreinfo';
import { GENERATIONS } from '../../perf/synth/generations';
import { K } from '../../perf/synth/kinds';
import { StructPageSample, sampleStructPages } from '../../perf/synth/struct-pages';

const SIZE_PAGE = 64;
/** chunks of uneven lengths, so that the "next page" of a head falls outside a chunk now and then */
const CHUNK_LENGTHS = [8192, 4097, 511, 1, 6000, 513];

interface Verdicts {
  codes: Uint8Array;
  orders: Uint8Array;
  badOrders: number[];
}

/** Both languages' verdicts over a sample, fed in chunks of uneven lengths. */
function verdicts(layout: PageLayout, sample: StructPageSample, valid: Uint8Array, level: number, inC: boolean): Verdicts {
  const native = nativeScan()!;
  const n = sample.kind.length;
  const u32 = new Uint32Array(sample.pages.buffer);
  const rules = rulesOf(layout, level);
  const packed = rulesArray(rules);
  const codes = new Uint8Array(n);
  const orders = new Uint8Array(n);
  const badOrders: number[] = [];
  for (let at = 0, c = 0; at < n; c++) {
    const len = Math.min(CHUNK_LENGTHS[c % CHUNK_LENGTHS.length], n - at);
    const pages = sample.pages.subarray(at * SIZE_PAGE, (at + len) * SIZE_PAGE);
    const v = valid.subarray(at, at + len);
    const co = codes.subarray(at, at + len);
    const or = orders.subarray(at, at + len);
    const bad = inC
      ? native.classifyChunk(packed, pages, v, len, sample.firstPfn + at, co, or)
      : classifyChunk(rules, pages, u32.subarray(at * 16, (at + len) * 16), v, len, sample.firstPfn + at, co, or);
    if (bad >= 0) badOrders.push(bad);
    at += len;
  }
  return { codes, orders, badOrders };
}

/** The first verdict that differs between the languages, or undefined. */
function firstDifference(sample: StructPageSample, js: Verdicts, c: Verdicts): string | undefined {
  for (let i = 0; i < sample.kind.length; i++) {
    if (js.codes[i] !== c.codes[i] || js.orders[i] !== c.orders[i]) {
      return `pfn ${sample.firstPfn + i} (kind ${sample.kind[i]}): JavaScript ${js.codes[i]}/${js.orders[i]}, C ${c.codes[i]}/${c.orders[i]}`;
    }
  }
  return undefined;
}

describe('the page decision table: C and JavaScript agree on every kernel generation', function () {
  this.timeout(120_000);

  for (const gen of GENERATIONS) {
    it(`${gen.name}: the same verdicts at every dump level, and the generation's own rules reached`, function () {
      const native = nativeScan();
      if (process.env.CYCLODUMP_NO_NATIVE) this.skip();
      expect(native, 'the native addon is not built, or was built from other declarations (npx node-gyp rebuild)').to.not.equal(undefined);
      const sample = sampleStructPages({ generation: gen, sections: 2, seed: 7, mix: 'edge,frag=0.5,hugetlb=0.08,hugetlbfree=0.04,thp=0.06' });
      const layout = resolvePageLayout(new VmcoreInfo(sample.vmcoreinfo), kernelVersionCode(gen.osrelease));
      const n = sample.kind.length;
      // some struct pages unreadable, as where mem_map is not in the dump
      const valid = new Uint8Array(n).fill(1);
      for (let i = 0; i < n; i += 997) valid[i] = 0;
      const u32 = new Uint32Array(sample.pages.buffer);

      const run = (level: number, inC: boolean): Verdicts => verdicts(layout, sample, valid, level, inC);

      const counted = (v: Verdicts, counter: number, of?: (k: number) => boolean): number => {
        let c = 0;
        for (let i = 0; i < n; i++) if (v.codes[i] === VERDICT.excludeBase + counter && (!of || of(sample.acct[i]))) c++;
        return c;
      };
      // dump levels 0..31 less the zero-page bit, which the table does not read
      for (let level = 0; level < 32; level += 2) {
        const js = run(level, false);
        const c = run(level, true);
        const differs = firstDifference(sample, js, c);
        if (differs) expect.fail(`-d ${level}, ${differs}`);
        expect(c.badOrders, `-d ${level}: first bad buddy order per chunk`).to.deep.equal(js.badOrders);
        if (level === 30) {
          const per = Array.from({ length: NUM_COUNTERS }, (_, k) => counted(js, k));
          for (const k of [C_FREE, C_CACHE, C_CACHE_PRIVATE, C_USER]) expect(per[k], `${gen.name} -d 30 counter ${k}`).to.be.greaterThan(0);
          if (layout.pgHwpoison >= 0) expect(per[C_HWPOISON], 'hwpoison pages').to.be.greaterThan(0);
          if (layout.offlineValue !== undefined) expect(per[C_OFFLINE], 'offline pages').to.be.greaterThan(0);
          expect(js.badOrders.length, 'buddy pages with a bad order').to.be.greaterThan(0);
          // slab pages are kernel data whatever their mapping word holds (6.2+: a count)
          for (let i = 0; i < n; i++) {
            if (sample.kind[i] === K.SLAB && js.codes[i] !== VERDICT.keep && js.codes[i] !== VERDICT.excludeBase + C_HWPOISON) {
              expect.fail(`slab page at pfn ${sample.firstPfn + i} excluded (${js.codes[i]})`);
            }
          }
        }
        if (level === 8) {
          // hugetlb heads are user data by this generation's marker; nothing else is
          const isHuge = (k: number): boolean => k === K.HUGETLB_HEAD || k === K.HUGETLB_FREE_HEAD;
          let heads = 0;
          let found = 0;
          for (let i = 0; i < n; i++) {
            if (!isHuge(sample.kind[i]) || !valid[i] || !valid[i + 1] || ((sample.firstPfn + i) & 511) === 511) continue;
            heads++;
            if (js.codes[i] === VERDICT.excludeBase + C_USER) found++;
          }
          expect(heads, 'hugetlb heads in the sample').to.be.greaterThan(3);
          expect(found, `${gen.name}: hugetlb heads found by ${layout.hugetlb.kind}`).to.equal(heads);
          const folios = counted(js, C_USER, (k) => k === K.FOLIO_HEAD || k === K.FOLIO_PRIV_HEAD);
          expect(folios, 'page-cache folios taken for user data').to.equal(0);
        }
        if (level === 16 && layout.unacceptedValue !== undefined) {
          let unaccepted = 0;
          const typed = layout.unacceptedValue >>> 0;
          for (let i = 0; i < n; i++) {
            if (!valid[i] || u32[i * 16 + layout.offMapcount / 4] !== typed) continue;
            expect(js.codes[i], `unaccepted block at pfn ${sample.firstPfn + i}`).to.equal(VERDICT.excludeBase + C_FREE);
            expect(js.orders[i]).to.equal(layout.freeAreaLength! - 1);
            unaccepted++;
          }
          expect(unaccepted, 'unaccepted blocks').to.be.greaterThan(0);
        }
      }
    });
  }

  for (const gen of GENERATIONS) {
    it(`${gen.name}: 1 GiB hugetlb pages (order 18) get the same verdicts and are user data`, function () {
      if (process.env.CYCLODUMP_NO_NATIVE) this.skip();
      expect(nativeScan(), 'the native addon is not built').to.not.equal(undefined);
      // the second GiB of a 4 GiB machine is plain RAM, which the planner makes one gigantic page
      const sample = sampleStructPages({ generation: gen, sections: 8, firstSection: 8, ramBytes: 4 * 2 ** 30, seed: 7, mix: 'gigantic=1' });
      expect(sample.firstPfn % 262144, 'the sample starts on a GiB').to.equal(0);
      const layout = resolvePageLayout(new VmcoreInfo(sample.vmcoreinfo), kernelVersionCode(gen.osrelease));
      const valid = new Uint8Array(sample.kind.length).fill(1);
      for (let level = 0; level < 32; level += 2) {
        const js = verdicts(layout, sample, valid, level, false);
        const differs = firstDifference(sample, js, verdicts(layout, sample, valid, level, true));
        if (differs) expect.fail(`-d ${level}, ${differs}`);
        if (level === 8) {
          expect(js.codes[0], `${gen.name}: the gigantic head is user data by ${layout.hugetlb.kind}`).to.equal(VERDICT.excludeBase + C_USER);
          // where struct page has compound_head, a tail says so itself; before, the head's order covers it
          if (layout.offCompoundHead >= 0) expect(js.codes[1], 'its tails follow the head').to.equal(VERDICT.tail);
        }
      }
    });
  }

  it('each generation resolves to the layout it stands for', function () {
    const seen = GENERATIONS.map((gen) => {
      const sample = sampleStructPages({ generation: gen, sections: 1 });
      const l = resolvePageLayout(new VmcoreInfo(sample.vmcoreinfo), kernelVersionCode(gen.osrelease));
      const order = l.order.kind === 'offset' ? `offset ${l.order.offset}/${l.order.width}` : l.order.kind;
      const huge = l.hugetlb.kind === 'dtor' ? `dtor ${l.hugetlb.offset}/${l.hugetlb.width}` : l.hugetlb.kind;
      const buddy = l.buddyValue !== undefined ? 'type' : l.pgBuddy !== undefined ? 'PG_buddy' : 'none';
      return `${gen.name}: order ${order}, hugetlb ${huge}, slab ${l.slab.kind}, buddy ${buddy}, types ${l.typeScheme}, head ${l.offCompoundHead}`;
    });
    expect(seen).to.deep.equal([
      '2.6.32: order offset 40/2, hugetlb dtor-pointer, slab flag, buddy PG_buddy, types inverted, head -1',
      '3.10: order offset 40/2, hugetlb dtor-pointer, slab flag, buddy type, types inverted, head -1',
      '4.9: order offset 20/2, hugetlb dtor 16/2, slab flag, buddy type, types inverted, head 8',
      '6.1: order offset 17/1, hugetlb dtor 16/1, slab flag, buddy type, types inverted, head 8',
      '6.2: order offset 17/1, hugetlb dtor 16/1, slab flag, buddy type, types inverted, head 8',
      '6.4: order offset 17/1, hugetlb dtor 16/1, slab flag, buddy type, types inverted, head 8',
      '6.7: order tail-flags, hugetlb tail-flag, slab flag, buddy type, types inverted, head 8',
      '6.9: order tail-flags, hugetlb page-type, slab flag, buddy type, types inverted, head 8',
      '6.10: order tail-flags, hugetlb page-type, slab page-type, buddy type, types inverted, head 8',
      '6.11: order tail-flags, hugetlb page-type, slab page-type, buddy type, types inverted, head 8',
      '6.12: order tail-flags, hugetlb page-type, slab page-type, buddy type, types top-byte, head 8',
      '6.16: order tail-flags, hugetlb page-type, slab page-type, buddy type, types top-byte, head 8',
    ]);
  });
});

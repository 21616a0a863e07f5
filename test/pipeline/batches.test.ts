// Pass 2 cuts each cycle's 2nd bitmap into batches (kdump-output.ts batchesOf; the walk
// over the bytes is native/pagecodec.c's cutBatch when the addon is built). What a batch
// must be, checked on random bitmaps and --split ranges that start and end mid-byte:
// together the batches hold exactly the set bits of the range, in order; each starts on
// a byte; each holds at most maxPages pages unless it is one byte; and each is as long
// as it may be (the next byte with a set bit would take it over maxPages).
import { expect } from 'chai';
import { Rng } from '../../perf/synth/prng';
import { batchesOf } from '../../src/pipeline/kdump-output';
import { BATCH_PAGES, dataBufferFor } from '../../src/pipeline/page-batch';

function popcount(b: number): number {
  let n = 0;
  for (; b; b &= b - 1) n++;
  return n;
}

describe('pass 2 batches', function () {
  it('hold exactly the range\'s set bits, in order, at most maxPages each, each as long as it may be', function () {
    const rng = new Rng(20261122);
    const rnd = (): number => rng.next();
    let batchesSeen = 0;
    for (let trial = 0; trial < 300; trial++) {
      const nbytes = 1 + Math.floor(rnd() * 3000);
      const bm = new Uint8Array(nbytes);
      // runs of dense, sparse and empty bytes, as real bitmaps have
      for (let i = 0; i < nbytes;) {
        const run = 1 + Math.floor(rnd() * 200);
        const kind = rnd();
        for (let j = 0; j < run && i < nbytes; j++, i++) bm[i] = kind < 0.3 ? 0 : kind < 0.6 ? 0xff : Math.floor(rnd() * 256) & Math.floor(rnd() * 256);
      }
      const start = 8 * Math.floor(rnd() * 1000);
      const end = start + nbytes * 8 - Math.floor(rnd() * 8);
      const from = start + Math.floor(rnd() * (end - start));
      const to = from + Math.floor(rnd() * (end - from + 1));
      const maxPages = [1, 5, 64, 1024][trial % 4];

      const want: number[] = [];
      for (let pfn = from; pfn < to; pfn++) if (bm[(pfn - start) >> 3] & (1 << ((pfn - start) & 7))) want.push(pfn);
      const got: number[] = [];
      let prevEnd = -1;
      const batches = [...batchesOf(bm, start, end, maxPages, from, to)];
      batches.forEach((b, k) => {
        expect((b.pfnStart - start) % 8).to.equal(0);
        expect(b.pfnStart).to.be.at.least(prevEnd);
        prevEnd = b.pfnEnd;
        let n = 0;
        for (let i = 0; i < b.pfnEnd - b.pfnStart; i++) {
          if (b.bitmap[i >> 3] & (1 << (i & 7))) {
            got.push(b.pfnStart + i);
            n++;
          }
        }
        expect(n, 'count').to.equal(b.count);
        expect(n).to.be.greaterThan(0);
        if (b.bitmap.length > 1) expect(n).to.be.at.most(maxPages);
        // as long as it may be: the next byte holding a page of the range would not fit
        const next = batches[k + 1];
        if (next) {
          const nextFirstByte = next.bitmap.findIndex((x) => x !== 0);
          expect(b.count + popcount(next.bitmap[nextFirstByte]), `batch ${k} could have taken more`).to.be.greaterThan(maxPages);
          // and nothing of the range lies between them
          expect(want.filter((p) => p >= b.pfnEnd && p < next.pfnStart + 8 * nextFirstByte)).to.deep.equal([]);
        }
      });
      expect(got).to.deep.equal(want);
      batchesSeen += batches.length;
    }
    expect(batchesSeen).to.be.greaterThan(1000);
  });

  it('take data buffers that every later batch can reuse', function () {
    // the queue hands each written batch's buffer to the next batch (batch-queue.ts); a
    // buffer sized to a small batch would not fit a full one after it, and every misfit
    // is one more buffer held until GC: 31 MiB of them at once on real-1g with one thread
    const pageSize = 4096;
    const rng = new Rng(20261206);
    const spare: ArrayBuffer[] = [];
    const made = new Set<ArrayBuffer>();
    for (let i = 0; i < 200; i++) {
      const count = i % 3 === 1 ? BATCH_PAGES : 1 + Math.floor(rng.next() * BATCH_PAGES);
      const data = dataBufferFor({ seq: i, pfnStart: 0, pfnEnd: 0, bitmap: new Uint8Array(0), count, out: spare.pop() }, pageSize);
      expect(data.byteLength).to.be.at.least(count * pageSize);
      made.add(data);
      spare.push(data);
    }
    expect(made.size).to.equal(1);
  });
});

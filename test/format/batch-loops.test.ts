// cutBatch and encodeDescriptors exist in C (native/pagecodec.c) and in JavaScript
// (src/format/batch-loops.ts): where the addon is built the JavaScript ones never run in
// a dump, so here both run over the same random bitmaps and batch results and must give
// the same batches and the same page_desc bytes; the descriptors are also read back with
// PageDesc (format/diskdump.ts), the declaration the readers use.
import { expect } from 'chai';
import { Rng } from '../../perf/synth/prng';
import { nativePages, PAGE_MARK } from '../../src/codec/native-pages';
import { PageDesc } from '../../src/format/diskdump';
import { BatchLoops, DESC_LAYOUT, javascriptLoops } from '../../src/format/batch-loops';

function allBatches(loops: BatchLoops, bm: Uint8Array, maxPages: number, firstByte: number, nbytes: number, head: number, tail: number): number[] {
  const out = new Int32Array(3);
  const seen: number[] = [];
  for (let byte = firstByte; loops.cutBatch(bm, byte, nbytes, maxPages, firstByte, head, tail, out);) {
    seen.push(out[0], out[1], out[2]);
    byte = out[1];
  }
  return seen;
}

describe('pass 2\'s loops in C and JavaScript', function () {
  let native: BatchLoops;
  before(function () {
    if (process.env.CYCLODUMP_NO_NATIVE) this.skip();
    const n = nativePages();
    expect(n, 'the native addon is not built').to.not.equal(undefined);
    native = n!;
  });

  it('cutBatch: the same batches of random bitmaps, masks and limits', function () {
    const rng = new Rng(20261205);
    let batches = 0;
    for (let trial = 0; trial < 400; trial++) {
      const nbytes = 1 + Math.floor(rng.next() * 2000);
      const bm = new Uint8Array(nbytes);
      for (let i = 0; i < nbytes;) {
        const run = 1 + Math.floor(rng.next() * 100);
        const kind = rng.next();
        for (let j = 0; j < run && i < nbytes; j++, i++) bm[i] = kind < 0.3 ? 0 : kind < 0.6 ? 0xff : Math.floor(rng.next() * 256);
      }
      const firstByte = Math.floor(rng.next() * nbytes);
      const head = 0xff & (0xff << Math.floor(rng.next() * 8));
      const tail = (1 << (1 + Math.floor(rng.next() * 8))) - 1;
      const maxPages = [1, 7, 64, 1024][trial % 4];
      const js = allBatches(javascriptLoops, bm, maxPages, firstByte, nbytes, head, tail);
      expect(allBatches(native, bm, maxPages, firstByte, nbytes, head, tail), `trial ${trial}`).to.deep.equal(js);
      batches += js.length / 3;
    }
    expect(batches).to.be.greaterThan(1000);
  });

  it('encodeDescriptors: the same page_desc bytes, which read back as stored, zero and lost pages', function () {
    const rng = new Rng(7);
    for (const dataPos of [4096, 2 ** 32 - 4096 * 3, 2 ** 45 + 8192]) {
      const count = 777;
      const sizes = new Int32Array(count);
      const flags = new Uint8Array(count);
      for (let k = 0; k < count; k++) {
        const r = rng.next();
        sizes[k] = r < 0.2 ? PAGE_MARK.zero : r < 0.25 ? PAGE_MARK.unreadable : 1 + Math.floor(rng.next() * 4096);
        flags[k] = sizes[k] > 0 && sizes[k] < 4096 ? 0x20 : 0;
      }
      const zeroOffset = 2 ** 33 + 512;
      const c = new Uint8Array(count * PageDesc.size).fill(0xaa);
      const js = new Uint8Array(count * PageDesc.size).fill(0x55);
      const endC = native.encodeDescriptors(sizes, flags, count, dataPos, zeroOffset, 4096, DESC_LAYOUT, c);
      const endJs = javascriptLoops.encodeDescriptors(sizes, flags, count, dataPos, zeroOffset, 4096, DESC_LAYOUT, js);
      expect(endJs).to.equal(endC);
      expect(Buffer.from(js).equals(Buffer.from(c)), `descriptors from ${dataPos}`).to.equal(true);
      let pos = dataPos;
      for (let k = 0; k < count; k++) {
        const d = PageDesc.decode(Buffer.from(js.buffer), k * PageDesc.size);
        if (sizes[k] === PAGE_MARK.zero) expect([Number(d.offset), d.size, d.flags]).to.deep.equal([zeroOffset, 4096, 0]);
        else if (sizes[k] < 0) expect([Number(d.offset), d.size, d.flags]).to.deep.equal([0, 0, 0]);
        else {
          expect([Number(d.offset), d.size, d.flags]).to.deep.equal([pos, sizes[k], flags[k]]);
          pos += sizes[k];
        }
      }
      expect(endJs).to.equal(pos);
    }
  });
});

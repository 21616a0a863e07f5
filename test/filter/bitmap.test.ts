// Bit counts over bitmap slices: the addon's (native/pagescan.c), which long ranges take,
// against the JavaScript loop and a bit-by-bit count, on random bytes at every alignment of
// both ends. On real bitmaps they decide every descriptor's slot and page count, which the
// dumps compared with makedumpfile's (real-1g-kdump, tuning) check.
import { expect } from 'chai';
import { popcountBytes, popcountBytesHere } from '../../src/filter/bitmap';
import { nativeAddon } from '../../src/util/native-addon';

/** bits of bytes[from, to), one by one */
function countBitByBit(bm: Uint8Array, from: number, to: number): number {
  let n = 0;
  for (let i = from * 8; i < to * 8; i++) if (bm[i >> 3] & (1 << (i & 7))) n++;
  return n;
}

describe('popcountBytes: the addon and the JavaScript loop count the same bits', function () {
  it('random bytes, every start and end alignment, in a subarray at an odd offset', function () {
    if (!(nativeAddon() as { popcountBytes?: unknown } | undefined)?.popcountBytes) this.skip();
    let seed = 12345;
    const whole = new Uint8Array(4099);
    for (let i = 0; i < whole.length; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      // runs of 0x00 and 0xff as real bitmaps have, and mixed bytes
      whole[i] = (seed >>> 24) < 64 ? 0 : (seed >>> 24) < 128 ? 0xff : seed >>> 16;
    }
    const bm = whole.subarray(3);
    for (const from of [0, 1, 2, 3, 5, 7, 8, 9, 100]) {
      for (const to of [bm.length, bm.length - 1, bm.length - 3, bm.length - 7, 300 + from, 256 + from]) {
        const expected = countBitByBit(bm, from, to);
        expect(popcountBytes(bm, from, to), `native [${from}, ${to})`).to.equal(expected);
        expect(popcountBytesHere(bm, from, to), `JavaScript [${from}, ${to})`).to.equal(expected);
      }
    }
  });

  it('refuses a range outside the bytes', function () {
    const native = (nativeAddon() as { popcountBytes?: (b: Uint8Array, f: number, t: number) => number } | undefined)?.popcountBytes;
    if (!native) this.skip();
    expect(() => native(new Uint8Array(8), 0, 9)).to.throw(RangeError);
    expect(() => native(new Uint8Array(8), 5, 4)).to.throw(RangeError);
  });
});

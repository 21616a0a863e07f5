// Our LZ4 block decoder (bitmap cache) against lz4-napi's own encoder and decoder: bitmaps
// of every shape a cycle can have, and malformed input refused with an error, never an
// out-of-bounds write.
import { expect } from 'chai';
import { lz4DecodeInto } from '../../src/codec/lz4-block';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const lz4 = require('lz4-napi') as typeof import('lz4-napi');

/** deterministic bytes (xorshift), so that a failure can be reproduced */
function noise(n: number, seed: number, density = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    if ((x & 0xff) / 256 < density) b[i] = x >>> 24;
  }
  return b;
}

function bitmaps(): [string, Buffer][] {
  const out: [string, Buffer][] = [];
  out.push(['all zero, 128 KiB', Buffer.alloc(128 << 10)]);
  out.push(['all ones, 4 MiB', Buffer.alloc(4 << 20, 0xff)]);
  // long runs with ragged edges: what real memory's 2nd bitmap looks like
  const runs = Buffer.alloc(1 << 20);
  let v = 0xff;
  for (let i = 0, next = 0; i < runs.length; i++) {
    if (i === next) { v ^= 0xff; next += 1 + ((i * 2654435761) % 9000); runs[i] = 0x0f; continue; }
    runs[i] = v;
  }
  out.push(['runs, 1 MiB', runs]);
  out.push(['sparse bits, 64 KiB', noise(64 << 10, 7, 0.05)]);
  out.push(['random, 32 KiB (incompressible)', noise(32 << 10, 9)]);
  out.push(['period 3, 200 KiB (overlapping matches)', Buffer.from(Array.from({ length: 200 << 10 }, (_, i) => [1, 2, 3][i % 3]))]);
  out.push(['one byte then zeros, 4097 bytes', Buffer.concat([Buffer.from([0x5a]), Buffer.alloc(4096)])]);
  out.push(['long literal run then a long match', Buffer.concat([noise(70000, 11), Buffer.alloc(70000, 0x33)])]);
  return out;
}

describe('lz4 block decoder (bitmap cache)', function () {
  for (const [name, src] of bitmaps()) {
    it(`${name}: decodes lz4-napi's block to the same bytes as lz4-napi`, function () {
      const packed = lz4.compressSync(src);
      const dst = Buffer.alloc(src.length + 16, 0xee);
      expect(lz4DecodeInto(packed, dst)).to.equal(src.length);
      expect(dst.subarray(0, src.length).equals(src)).to.equal(true);
      // nothing written past the recorded size
      expect(dst.subarray(src.length).every((b) => b === 0xee)).to.equal(true);
      expect(Buffer.from(lz4.uncompressSync(packed)).equals(src)).to.equal(true);
    });
  }

  it('malformed input: an error, never a write outside the buffer', function () {
    const src = bitmaps()[2][1];
    const packed = lz4.compressSync(src);
    expect(() => lz4DecodeInto(packed, Buffer.alloc(src.length - 1))).to.throw(/do not fit/);
    expect(() => lz4DecodeInto(packed.subarray(0, 3), Buffer.alloc(src.length))).to.throw(/size prefix/);
    for (let cut = 5; cut < packed.length; cut += Math.max(1, packed.length >> 6)) {
      const dst = Buffer.alloc(src.length);
      expect(() => lz4DecodeInto(packed.subarray(0, cut), dst), `cut at ${cut}`).to.throw(/lz4 block/);
    }
    // an offset reaching before the start of the output
    const bad = Buffer.from([16, 0, 0, 0, 0x10, 0x41, 0x09, 0x00, 0x10, 0x41]);
    expect(() => lz4DecodeInto(bad, Buffer.alloc(16))).to.throw(/offset/);
  });
});

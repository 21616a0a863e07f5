// The run-length code of the bitmap cache (src/codec/bitmap-runs.ts): bitmaps of every
// shape a cycle can have come back as they were, real-looking ones shrink by orders of
// magnitude, and malformed input is refused with an error, never a write outside the
// caller's buffer.
import { expect } from 'chai';
import { decodeRunsInto, encodeRuns } from '../../src/codec/bitmap-runs';

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

describe('bitmap runs (bitmap cache)', function () {
  for (const [name, src] of bitmaps()) {
    it(`${name}: decodes to the same bytes, nothing written past them`, function () {
      const code = encodeRuns(src);
      expect(code.length).to.be.at.most(src.length + src.length / 64 + 16);
      const dst = Buffer.alloc(src.length + 16, 0xee);
      expect(decodeRunsInto(code, dst)).to.equal(src.length);
      expect(dst.subarray(0, src.length).equals(src)).to.equal(true);
      expect(dst.subarray(src.length).every((b) => b === 0xee)).to.equal(true);
    });
  }

  it('runs of 0x00 and 0xff take a few bytes each', function () {
    expect(encodeRuns(Buffer.alloc(4 << 20, 0xff)).length).to.be.at.most(8);
    const runs = bitmaps()[2][1];
    // ~230 runs, each a token of up to 3 bytes and a literal byte between
    expect(encodeRuns(runs).length).to.be.lessThan(1500);
  });

  it('malformed input: an error, never a write outside the buffer', function () {
    const src = bitmaps()[2][1];
    const code = encodeRuns(src);
    expect(() => decodeRunsInto(code, Buffer.alloc(src.length - 1))).to.throw(/do not fit/);
    expect(() => decodeRunsInto(new Uint8Array(0), Buffer.alloc(16))).to.throw(/truncated/);
    for (let cut = 1; cut < code.length; cut += Math.max(1, code.length >> 6)) {
      const dst = Buffer.alloc(src.length);
      expect(() => decodeRunsInto(code.subarray(0, cut), dst), `cut at ${cut}`).to.throw(/bitmap runs/);
    }
    // a run longer than the recorded size, a literal past the end, an unknown kind
    expect(() => decodeRunsInto(Uint8Array.of(4, 5 * 4), Buffer.alloc(16))).to.throw(/past the recorded size/);
    expect(() => decodeRunsInto(Uint8Array.of(4, 4 * 4 + 2, 1), Buffer.alloc(16))).to.throw(/literal past the end/);
    expect(() => decodeRunsInto(Uint8Array.of(4, 4 + 3), Buffer.alloc(16))).to.throw(/bitmap runs/);
  });
});

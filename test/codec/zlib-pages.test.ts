// -c pages come from libdeflate (native/pagecodec.c), not from zlib. Every reader
// decompresses them with zlib's inflate, so here Node's zlib (a real zlib) inflates every
// page of a real vmcore and some made-up worst cases; the kdump tests then check the dumps
// against makedumpfile's and libkdumpfile.
import { expect } from 'chai';
import * as fs from 'fs';
import * as zlib from 'zlib';
import { NATIVE_METHOD, nativePages } from '../../src/codec/native-pages';
import { ZlibCodec } from '../../src/codec/zlib-codec';
import { DUMP_DH_COMPRESSED_ZLIB } from '../../src/format/diskdump';
import { fixtureVmcore } from '../helpers/fixtures';

const PAGE = 4096;
const ZERO_PAGE = Buffer.alloc(PAGE);

interface Packed {
  sizes: Int32Array;
  flags: Uint8Array;
  data: Buffer;
}

function deflatePages(src: Buffer, count: number, excludeZero: boolean): Packed {
  const native = nativePages();
  if (!native) throw new Error('the native page loop is not built (npm install builds it; CYCLODUMP_NO_NATIVE unset)');
  const offsets = new Uint32Array(count);
  for (let i = 0; i < count; i++) offsets[i] = i * PAGE;
  const sizes = new Int32Array(count);
  const flags = new Uint8Array(count);
  const data = Buffer.alloc(count * PAGE);
  native.compressPages(NATIVE_METHOD.zlib, src, offsets, 0, count, PAGE, excludeZero, data, 0, sizes, flags, DUMP_DH_COMPRESSED_ZLIB);
  return { sizes, flags, data };
}

/** Inflates each stored page and compares it with its source; returns the bytes stored. */
function checkPages(src: Buffer, count: number, p: Packed, what: string): number {
  let pos = 0;
  for (let i = 0; i < count; i++) {
    const page = src.subarray(i * PAGE, (i + 1) * PAGE);
    const n = p.sizes[i];
    if (n === 0) {
      if (!page.equals(ZERO_PAGE)) expect.fail(`${what}: page ${i} called zero`);
      continue;
    }
    const stored = p.data.subarray(pos, pos + n);
    pos += n;
    if (p.flags[i] === DUMP_DH_COMPRESSED_ZLIB) {
      if (n >= PAGE) expect.fail(`${what}: page ${i} compressed to ${n} bytes`);
      const back = zlib.inflateSync(stored);
      if (!back.equals(page)) expect.fail(`${what}: page ${i} does not inflate to itself`);
    } else {
      if (n !== PAGE) expect.fail(`${what}: raw page ${i} stored in ${n} bytes`);
      if (!stored.equals(page)) expect.fail(`${what}: raw page ${i} differs`);
    }
  }
  return pos;
}

describe('-c pages: libdeflate\'s zlib streams, inflated by zlib', function () {
  before(function () {
    if (process.env.CYCLODUMP_NO_NATIVE) this.skip();
  });

  it('every page of real-1g inflates to itself, in sum no bigger than zlib level 1', function () {
    // the whole vmcore file, page by page (its memory and its headers alike)
    const file = fixtureVmcore('real-1g');
    const fd = fs.openSync(file, 'r');
    const chunkPages = 2048;
    const src = Buffer.alloc(chunkPages * PAGE);
    const zlibCodec = new ZlibCodec(1);
    const scratch = Buffer.alloc(PAGE);
    let ours = 0;
    let theirs = 0;
    let pages = 0;
    try {
      for (let pos = 0; ; pos += src.length) {
        const got = fs.readSync(fd, src, 0, src.length, pos);
        const count = Math.floor(got / PAGE);
        if (count === 0) break;
        const packed = deflatePages(src, count, true);
        const stored = checkPages(src, count, packed, `real-1g at ${pos}`);
        // sizes against zlib on one chunk in four (zlib is the slow part of this test)
        if ((pos / src.length) % 4 === 0) {
          ours += stored;
          for (let i = 0; i < count; i++) {
            if (packed.sizes[i] === 0) continue;
            const n = zlibCodec.compress(src, i * PAGE, PAGE, scratch, 0);
            theirs += n > 0 ? n : PAGE;
          }
        }
        pages += count;
      }
    } finally {
      fs.closeSync(fd);
    }
    // 262,145 pages. libdeflate level 1 is smaller in sum than zlib level 1 (makedumpfile's
    // level) on this fixture (perf/RESULTS.md, perf/floor/page-codecs.sh): 1% larger would
    // mean that something other than libdeflate's level 1 wrote the pages.
    expect(pages).to.be.greaterThan(262_000);
    expect(ours, `ours ${ours} bytes, zlib level 1 ${theirs}`).to.be.lessThan(theirs * 1.01);
  });

  it('made-up pages: runs, short periods, skewed and random bytes, nearly empty pages', function () {
    let seed = 12345;
    const rand = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed >>> 8;
    };
    const pages: Buffer[] = [];
    const add = (fill: (b: Buffer) => void): void => {
      const b = Buffer.alloc(PAGE);
      fill(b);
      pages.push(b);
    };
    add((b) => b.fill(0xaa)); // one run: a literal and 258-byte matches at distance 1
    add((b) => b.fill('ab')); // period 2
    add((b) => { for (let i = 0; i < PAGE; i++) b[i] = i & 255; }); // period 256
    add((b) => { for (let i = 0; i < PAGE; i++) b[i] = rand() & 255; }); // incompressible: kept raw
    add((b) => { b[PAGE - 1] = 1; }); // one byte at the very end (fixed Huffman is smaller)
    add((b) => { b[0] = 7; }); // one byte at the start
    add((b) => { for (let i = 0; i < 3; i++) b[PAGE - 3 + i] = 0x41 + i; }); // the 3 bytes never hashed
    // Fibonacci-like byte frequencies: an unlimited Huffman code would be 17 bits deep,
    // which DEFLATE forbids; the encoder must flatten and rebuild
    add((b) => {
      const counts: number[] = [1, 1];
      while (counts.length < 17) counts.push(counts[counts.length - 1] + counts[counts.length - 2]);
      let i = 0;
      for (let s = 0; s < counts.length && i < PAGE; s++) for (let k = 0; k < counts[s] && i < PAGE; k++) b[i++] = s * 13 + 1;
      // shuffle so that LZ77 finds few matches and the literals keep those frequencies
      for (let j = PAGE - 1; j > 0; j--) { const r = rand() % (j + 1); const t = b[j]; b[j] = b[r]; b[r] = t; }
    });
    add((b) => { for (let i = 0; i < PAGE; i++) b[i] = (rand() & 3) === 0 ? rand() & 255 : 0; }); // sparse noise
    add((b) => { for (let i = 0; i < PAGE; i += 8) b.writeBigUInt64LE(0xffff_8880_0000_0000n + BigInt(i * 64), i); }); // pointers
    const src = Buffer.concat(pages);
    const packed = deflatePages(src, pages.length, false);
    checkPages(src, pages.length, packed, 'made-up');
    expect(packed.flags[3], 'random page kept raw').to.equal(0);
    // no page much bigger than zlib level 1 makes it
    for (let i = 0; i < pages.length; i++) {
      const z = zlib.deflateSync(pages[i], { level: 1 }).length;
      expect(packed.sizes[i], `made-up page ${i}`).to.be.at.most(Math.min(PAGE, Math.ceil(z * 1.02)));
    }
  });
});

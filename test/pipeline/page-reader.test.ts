// Pass 2's walk over a batch's bitmap for the mapped input (PageReader.collectMapped, whose
// loop is native/pagecodec.c's mapOffsets): every set bit gets its page's file offset, a
// page not wholly in the file is read and staged instead, and the pages the native loop
// then stores are the vmcore's. Checked on a hand-made vmcore whose segments sit at
// offsets that are not page aligned, one ending mid-page.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { NATIVE_METHOD, nativePages } from '../../src/codec/native-pages';
import { PageReader } from '../../src/pipeline/page-reader';
import { ElfVmcore } from '../../src/vmcore/elf-vmcore';
import { writeElfVmcore } from '../helpers/elf-builder';
import { scratchDir } from '../helpers/fixtures';

const PAGE = 4096;

/** Pages numbered through their bytes, so that a page read from the wrong place shows. */
function pages(first: number, bytes: number): Buffer {
  const b = Buffer.alloc(bytes);
  for (let o = 0; o < bytes; o += 4) b.writeUInt32LE((first * PAGE + o) >>> 0, o);
  return b;
}

describe('page reader over the mapped input', function () {
  let dir: string;
  let mem: ElfVmcore;

  before(function () {
    // CI builds the addon (.ci/run); without it there is no mapping to read through
    if (!nativePages()) this.skip();
    dir = scratchDir('page-reader');
    const file = path.join(dir, 'layout.vmcore');
    // an odd-sized note puts every segment at an offset that is not page aligned
    writeElfVmcore(file, {
      notes: Buffer.alloc(100),
      loads: [
        // pfns 0-3: the file holds 3.5 pages; the rest of pfn 3 reads as zero
        { paddr: 0, data: pages(0, 3.5 * PAGE), memsz: 4 * PAGE },
        // pfns 16-23, and 40-47 after a hole
        { paddr: 16 * PAGE, data: pages(16, 8 * PAGE) },
        { paddr: 40 * PAGE, data: pages(40, 8 * PAGE) },
      ],
    });
    mem = ElfVmcore.open(file);
  });

  after(function () {
    mem?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('gives file offsets for whole pages, stages the page cut short, and the stored pages are the vmcore\'s', function () {
    const reader = new PageReader(mem, PAGE, { map: true });
    expect(reader.mapped).to.not.equal(undefined);
    // pfns 0-5 (4 and 5 are beyond the first segment's memory), 16-23 but 19, 40-47
    const bm = new Uint8Array(6);
    bm[0] = 0x3f;
    bm[2] = 0xf7;
    bm[5] = 0xff;
    const pfns = [0, 1, 2, 3, 4, 5, 16, 17, 18, 20, 21, 22, 23, 40, 41, 42, 43, 44, 45, 46, 47];
    const fileOffsets = new Float64Array(pfns.length);
    const chunks: [number, number][] = [];
    const n = reader.collectMapped(bm, 48, 0, pfns.length, fileOffsets, (first, count) => { chunks.push([first, count]); });
    expect(n).to.equal(pfns.length);
    expect(chunks).to.deep.equal([[0, pfns.length]]);
    const map = mem.direct.map;
    // expected: whole pages at FileMap's offset; pfn 3 staged at reader.buf[0]; pfns 4 and 5
    // are not in the file: read as physical memory says (no data: unreadable)
    const expected = pfns.map((pfn) => {
      if (pfn === 3) return -2;
      const off = map.fileOffset(pfn * PAGE);
      return off >= 0 && map.fileOffset(pfn * PAGE + PAGE - 1) === off + PAGE - 1 ? off : -1;
    });
    expect(Array.from(fileOffsets)).to.deep.equal(expected);
    expect(expected.filter((o) => o >= 0 && o % PAGE !== 0).length, 'offsets not page aligned are exercised').to.be.greaterThan(0);

    // the native loop stores exactly the pages the vmcore reads as
    const dst = new ArrayBuffer(pfns.length * PAGE);
    const sizes = new Int32Array(pfns.length);
    const flags = new Uint8Array(pfns.length);
    const end = nativePages()!.compressMapped(NATIVE_METHOD.raw, reader.mapped!, reader.buf, fileOffsets, 0, pfns.length, PAGE, false, dst, 0, sizes, flags, 0);
    const want: Buffer[] = [];
    pfns.forEach((pfn, k) => {
      if (expected[k] === -1) {
        expect(sizes[k], `pfn ${pfn}`).to.equal(-1);
        return;
      }
      const b = Buffer.alloc(PAGE);
      expect(mem.read(pfn * PAGE, b, 0, PAGE)).to.equal(true);
      want.push(b);
      expect(sizes[k], `pfn ${pfn}`).to.equal(PAGE);
    });
    expect(Buffer.from(dst, 0, end).equals(Buffer.concat(want))).to.equal(true);
    // pfn 3's tail reads as zero
    expect(Buffer.from(dst, 3 * PAGE + PAGE / 2, PAGE / 2).equals(Buffer.alloc(PAGE / 2))).to.equal(true);
  });

  it('the native loop\'s threads, each through its own window, store what one thread stores, from the right file', function () {
    // two vmcores of 6 MiB (windows are 4 MiB), numbered differently; every third page
    // of each, unaligned in the file, shared between 1, 2 and 3 threads
    const files = ['a', 'b'].map((name, k) => {
      const file = path.join(dir, `threads-${name}.vmcore`);
      writeElfVmcore(file, {
        notes: Buffer.alloc(100 + k * 40),
        loads: [0, 1, 2].map((s) => ({ paddr: s * 1024 * PAGE, data: pages(s * 1024 + k * 100000, 512 * PAGE) })),
      });
      return ElfVmcore.open(file);
    });
    const native = nativePages()!;
    try {
      const results = new Map<string, Buffer>();
      for (const threads of [1, 2, 3]) {
        for (const [k, m] of files.entries()) {
          // a new handle each time: a helper's window of the other file must not be read
          const reader = new PageReader(m, PAGE, { map: true });
          const pfns: number[] = [];
          for (let s = 0; s < 3; s++) for (let p = 0; p < 512; p += 3) pfns.push(s * 1024 + p);
          const offs = Float64Array.from(pfns, (pfn) => m.direct.map.fileOffset(pfn * PAGE));
          expect(offs.every((o) => o > 0 && o % PAGE !== 0)).to.equal(true);
          for (const method of [NATIVE_METHOD.raw, NATIVE_METHOD.lzo]) {
            const dst = new ArrayBuffer(pfns.length * PAGE);
            const sizes = new Int32Array(pfns.length);
            const flags = new Uint8Array(pfns.length);
            const tally = new Int32Array(2);
            const end = native.compressMapped(method, reader.mapped!, reader.buf, offs, 0, pfns.length, PAGE, true, dst, 0, sizes, flags, 1, tally, threads);
            const got = Buffer.concat([Buffer.from(dst, 0, end), Buffer.from(sizes.buffer), Buffer.from(flags), Buffer.from(tally.buffer)]);
            const key = `${k} ${method}`;
            if (threads === 1) results.set(key, got);
            else expect(got.equals(results.get(key)!), `${threads} threads, file ${k}, method ${method}`).to.equal(true);
            if (method !== NATIVE_METHOD.raw) continue;
            // and the raw pages are that file's
            const want = Buffer.concat(pfns.map((pfn) => { const b = Buffer.alloc(PAGE); m.read(pfn * PAGE, b, 0, PAGE); return b; }));
            expect(Buffer.from(dst, 0, end).equals(want), `raw pages of file ${k}, ${threads} threads`).to.equal(true);
          }
        }
      }
    } finally {
      for (const m of files) m.close();
    }
  });

  it('stops after `limit` pages', function () {
    const reader = new PageReader(mem, PAGE, { map: true });
    const bm = new Uint8Array(6);
    bm[2] = 0xff;
    bm[5] = 0xff;
    const fileOffsets = new Float64Array(16);
    const n = reader.collectMapped(bm, 48, 0, 5, fileOffsets, () => undefined);
    expect(n).to.equal(5);
    expect(Array.from(fileOffsets.subarray(0, 5))).to.deep.equal([16, 17, 18, 19, 20].map((p) => mem.direct.map.fileOffset(p * PAGE)));
    expect(Array.from(fileOffsets.subarray(5))).to.deep.equal(new Array(11).fill(0));
  });
});

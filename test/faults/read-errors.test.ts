// Input that cannot be read: a vmcore that shrinks while it is dumped (its tail vanishes
// in the middle of pass 2, as a failing disk or a cut network file system would make it),
// physical memory whose reads throw, page tables whose reads throw. makedumpfile stops at
// the first read error; cyclodump keeps every page it could read, says which could not be
// and flags the dump incomplete (exit 1).
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { runDump } from '../../src/pipeline/dump';
import { KdumpWriter } from '../../src/pipeline/kdump-output';
import { PageReader } from '../../src/pipeline/page-reader';
import { X86_64Translator } from '../../src/translate/x86_64';
import { DumpError } from '../../src/util/errors';
import { Messages } from '../../src/util/messages';
import type { PhysicalMemory } from '../../src/vmcore/physical';
import { verifyPagesAgainstVmcore } from '../helpers/compare';
import { libkdumpfileSample, sparseCopy, synthVmcore } from '../helpers/faults';
import { scratchDir } from '../helpers/fixtures';
import { KdumpVmcore } from '../../src/vmcore/kdump-vmcore';
import { ElfVmcore } from '../../src/vmcore/elf-vmcore';
import { NATIVE_METHOD, nativePages } from '../../src/codec/native-pages';

/** Physical memory whose reads throw in [badFrom, badTo) and read 0x5a elsewhere. */
function throwingMemory(badFrom: number, badTo: number): PhysicalMemory {
  return {
    pageSize: 4096,
    loads: [{ paddr: 0, memsz: 1 << 24, filesz: 1 << 24, fileOffset: 0, vaddr: 0n }],
    fileOffset: (pa) => pa,
    read(pa, buf, off, len) {
      if (pa < badTo && pa + len > badFrom) throw new DumpError('read-error', `read error at physical 0x${pa.toString(16)}: EIO`);
      buf.fill(0x5a, off, off + len);
      return true;
    },
  };
}

describe('read errors: unreadable input is kept out, the rest is dumped, the dump flagged', function () {
  let dir: string;
  let clean: string;

  before(async function () {
    dir = scratchDir('read-errors');
    clean = await synthVmcore();
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  // one thread: the coordinator reads each batch; two: batches read and compressed on
  // libuv's pool by the native loop (compressFileAsync), several at once. Without a codec
  // the native loop reads each run straight into the batch, and a short read there falls
  // back to page by page.
  for (const [codec, threads] of [['lzo', 1], ['lzo', 2], ['none', 1]] as const) it(`a vmcore that loses its second half during pass 2 (${codec}, ${threads} thread${threads > 1 ? 's' : ''}): the pages before are kept, those after are "lost", exit 1`, async function () {
    const input = path.join(dir, `shrinking-${threads}.vmcore`);
    sparseCopy(clean, input);
    const out = path.join(dir, `dump-${codec}-${threads}`);
    const cut = Math.floor(fs.statSync(input).size / 2);
    // the file shrinks when the third batch is written: later batches find no data
    const real = KdumpWriter.prototype.writeBatch;
    let batches = 0;
    KdumpWriter.prototype.writeBatch = function (this: KdumpWriter, ...args: Parameters<typeof real>) {
      if (++batches === 3) fs.truncateSync(input, cut);
      return real.apply(this, args);
    };
    const lines: string[] = [];
    const text = { write: (s: string): boolean => { lines.push(...s.split('\n').filter(Boolean)); return true; } };
    let r;
    try {
      r = await runDump({ input, output: out, dumpLevel: 31, codec, force: true, numThreads: threads, freeMemory: 1 << 30 }, new Messages(6, text, text));
    } finally {
      KdumpWriter.prototype.writeBatch = real;
    }
    expect(batches).to.be.greaterThan(3);
    expect(r.error?.code).to.equal('read-error');
    expect(r.error?.exitCode).to.equal(1);
    expect(r.error?.message).to.match(/^\d+ dumpable pages could not be read from .*shrinking-\d\.vmcore; their descriptors say the data was lost$/);
    const unread = Number(/^(\d+)/.exec(r.error!.message)![1]);
    expect(lines).to.include(`the dump file ${out} is incomplete (marked so in its header) but readable`);
    const d = KdumpVmcore.open(out);
    expect(d.incomplete).to.equal(true);
    d.close();
    // against the vmcore as it was: every page kept is right, the unread ones are marked lost
    const c = verifyPagesAgainstVmcore(out, clean);
    expect(c.lost).to.equal(unread);
    expect(c.pages).to.be.greaterThan(unread / 4);
    libkdumpfileSample(out, clean);
  });

  it('the mapped page loop: a page the file no longer holds (SIGBUS) is "not read", the rest are stored, the process goes on', function () {
    const native = nativePages();
    // CI builds the addon (.ci/run); without it there is no mapping to test
    if (!native) this.skip();
    const input = path.join(dir, 'mapped.vmcore');
    sparseCopy(clean, input);
    const mem = ElfVmcore.open(input);
    try {
      const reader = new PageReader(mem, 4096, { map: true });
      expect(reader.mapped, 'an ELF vmcore on disk is read through a mapping').to.not.equal(undefined);
      // four pages from the file's first quarter, four from its second half
      const size = fs.statSync(input).size;
      const cut = Math.floor(size / 2 / 4096) * 4096;
      const early = Math.floor(size / 4 / 4096) * 4096;
      const offs = Float64Array.of(early, early + 4096, early + 8192, early + 12288, cut, cut + 4096, size - 8192, size - 4096);
      const before = Buffer.alloc(4 * 4096);
      fs.readSync(mem.direct.fd, before, 0, before.length, early);
      fs.truncateSync(input, cut);
      const dst = new ArrayBuffer(offs.length * 4096);
      const sizes = new Int32Array(offs.length);
      const flags = new Uint8Array(offs.length);
      const n = native!.compressMapped(NATIVE_METHOD.raw, reader.mapped!, reader.buf, offs, 0, offs.length, 4096, false, dst, 0, sizes, flags, 0);
      expect(Array.from(sizes)).to.deep.equal([4096, 4096, 4096, 4096, -1, -1, -1, -1]);
      expect(n).to.equal(4 * 4096);
      expect(Buffer.from(dst, 0, n).equals(before)).to.equal(true);
      // the guard is left in order: the next call maps and reads as before
      const again = native!.compressMapped(NATIVE_METHOD.raw, reader.mapped!, reader.buf, offs, 0, 2, 4096, false, dst, 0, sizes, flags, 0);
      expect(again).to.equal(2 * 4096);
      expect(Buffer.from(dst, 0, again).equals(before.subarray(0, 2 * 4096))).to.equal(true);
    } finally {
      mem.close();
    }
  });

  it('the mapped page loop with 2 threads: the SIGBUS of either thread\'s part is "not read" there, the rest are stored', function () {
    const native = nativePages();
    if (!native) this.skip();
    const input = path.join(dir, 'mapped-threads.vmcore');
    sparseCopy(clean, input);
    const mem = ElfVmcore.open(input);
    try {
      const reader = new PageReader(mem, 4096, { map: true });
      const size = fs.statSync(input).size;
      const cut = Math.floor(size / 2 / 4096) * 4096;
      const early = Math.floor(size / 4 / 4096) * 4096;
      // 64 pages before the cut, 64 after: with 2 threads the helper takes the second half
      const pages = (from: number): number[] => Array.from({ length: 64 }, (_, k) => from + k * 4096);
      const before = Buffer.alloc(64 * 4096);
      fs.readSync(mem.direct.fd, before, 0, before.length, early);
      fs.truncateSync(input, cut);
      for (const [what, order] of [['the helper\'s', [...pages(early), ...pages(cut)]], ['this thread\'s', [...pages(cut), ...pages(early)]]] as const) {
        const offs = Float64Array.from(order);
        const dst = new ArrayBuffer(offs.length * 4096);
        const sizes = new Int32Array(offs.length);
        const flags = new Uint8Array(offs.length);
        const tally = new Int32Array(2);
        const n = native!.compressMapped(NATIVE_METHOD.raw, reader.mapped!, reader.buf, offs, 0, offs.length, 4096, false, dst, 0, sizes, flags, 0, tally, 2);
        expect(Array.from(sizes), `SIGBUS in ${what} part`).to.deep.equal(order.map((o) => (o >= cut ? -1 : 4096)));
        expect(tally[1]).to.equal(64);
        expect(n).to.equal(64 * 4096);
        expect(Buffer.from(dst, 0, n).equals(before)).to.equal(true);
      }
    } finally {
      mem.close();
    }
  });

  it('the page reader: a run whose read throws is read again page by page, only the bad page is "not read" (issue 20 row 7)', function () {
    const reader = new PageReader(throwingMemory(40 * 4096, 41 * 4096), 4096);
    // pfns 0-7 and 40-47: two runs (the gap is longer than the reader reads through)
    const bm = new Uint8Array(8);
    bm[0] = 0xff;
    bm[5] = 0xff;
    const seen: [number, boolean][] = [];
    reader.forEachDumpable(bm, 64, 0, Infinity, (bit, _off, ok) => { seen.push([bit, ok]); });
    expect(seen).to.deep.equal([
      ...[0, 1, 2, 3, 4, 5, 6, 7].map((b): [number, boolean] => [b, true]),
      [40, false],
      ...[41, 42, 43, 44, 45, 46, 47].map((b): [number, boolean] => [b, true]),
    ]);
  });

  it('the page-table walk: a table whose read throws is "not mapped", and the error is kept for messages', function () {
    const tr = new X86_64Translator(throwingMemory(0x1000, 0x2000), 0x1000, false, 0n);
    const buf = new Uint8Array(8);
    expect(tr.readVirt(0xffffffff80000000n, buf, 0, 8)).to.equal(0);
    expect(tr.vtop(0xffffffff80000000n)).to.equal(-1);
    expect(tr.lastReadError).to.match(/read error at physical 0x1000: EIO/);
  });
});

// The format writers alone, on small synthetic dumps (no vmcore, no pipeline): what pass 2
// hands them (format/dump-writer.ts), and what a reader then finds in the file. The kdump
// writer places batches given out of pfn order where their pfns say; split parts give the
// unsplit file back through --reassemble; the ELF writer cuts PT_LOADs by makedumpfile's
// rule whatever the cycle size.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { DL_EXCLUDE_ZERO, DiskDumpHeader, DUMP_DH_COMPRESSED_INCOMPLETE } from '../../src/format/diskdump';
import type { CycleBitmap, DumpGeometry, DumpWriter, PageBatchWrite } from '../../src/format/dump-writer';
import { Elf64Ehdr, Elf64Phdr, PT_LOAD } from '../../src/format/elf';
import { ElfWriter } from '../../src/format/elf-writer';
import { KdumpFileValues, KdumpWriter } from '../../src/format/kdump-writer';
import { reassemble } from '../../src/format/reassemble';
import { FileSink } from '../../src/format/sink';
import { SplitWriter } from '../../src/format/split-writer';
import { writeElfVmcore } from '../../src/format/elf-vmcore-writer';
import { ElfVmcore } from '../../src/vmcore/elf-vmcore';
import { KdumpVmcore } from '../../src/vmcore/kdump-vmcore';
import { scratchDir } from '../helpers/fixtures';

const PS = 4096;
const MAX_MAPNR = 4096;
const CYCLE = 1024;

/** The synthetic dump: which pfns are in memory and kept, which pages are zero or unreadable, each page's bytes. */
const inMemory = (pfn: number): boolean => pfn < 3500 || pfn >= 3600;
const kept = (pfn: number): boolean => inMemory(pfn) && pfn % 5 !== 0 && (pfn < 2000 || pfn >= 2600);
const isZero = (pfn: number): boolean => pfn % 7 === 0;
const LOST = 3001;

function pageOf(pfn: number): Buffer {
  const b = Buffer.alloc(PS);
  if (isZero(pfn)) return b;
  for (let o = 0; o < PS; o += 4) b.writeUInt32LE((pfn * PS + o) >>> 0, o);
  return b;
}

function fillBits(view: Uint8Array, start: number, test: (pfn: number) => boolean): void {
  for (let i = 0; i < view.length * 8 && start + i < MAX_MAPNR; i++) if (test(start + i)) view[i >> 3] |= 1 << (i & 7);
}

function geometry(): DumpGeometry {
  let n = 0;
  for (let p = 0; p < MAX_MAPNR; p++) if (kept(p)) n++;
  return {
    numDumpable: n, cyclePfns: CYCLE, fillMemory: (view, start) => fillBits(view, start, inMemory),
    progress: { total: () => undefined, written: () => undefined },
  };
}

function cycles(): CycleBitmap[] {
  const out: CycleBitmap[] = [];
  for (let start = 0; start < MAX_MAPNR; start += CYCLE) {
    const bits = new Uint8Array(CYCLE / 8);
    fillBits(bits, start, kept);
    out.push({ index: start / CYCLE, start, end: start + CYCLE, bits });
  }
  return out;
}

/** The kept pages of [from, to) as a worker stores them: raw, zero (size 0) or lost (-1). */
function batch(from: number, to: number, index: number): PageBatchWrite {
  const pfns: number[] = [];
  for (let p = from; p < to; p++) if (kept(p)) pfns.push(p);
  const sizes = new Int32Array(pfns.length);
  const data = new Uint8Array(pfns.length * PS);
  let len = 0;
  pfns.forEach((p, k) => {
    if (p === LOST) sizes[k] = -1;
    else if (isZero(p)) sizes[k] = 0;
    else {
      data.set(pageOf(p), len);
      sizes[k] = PS;
      len += PS;
    }
  });
  return { pfnStart: from, pfnEnd: to, index, pages: { count: pfns.length, sizes, flags: new Uint8Array(pfns.length), data: data.buffer, dataLen: len } };
}

/** Batches of at most `step` pfns inside each range, with the dump's page number of their first page. */
function batches(ranges: readonly { start: number; end: number }[], step: number): PageBatchWrite[] {
  const out: PageBatchWrite[] = [];
  let index = 0;
  for (const r of ranges) {
    for (let s = r.start; s < r.end; s += step) {
      const b = batch(s, Math.min(s + step, r.end), index);
      index += b.pages.count;
      out.push(b);
    }
  }
  return out;
}

function values(split?: KdumpFileValues['split']): KdumpFileValues {
  const utsname = Buffer.alloc(390);
  utsname.write('Linux', 0, 'latin1');
  return {
    pageSize: PS, maxMapnr: MAX_MAPNR, utsname, crashTime: 1700000000, nrCpus: 2, status: 0, physBase: 0x1000000n,
    dumpLevel: DL_EXCLUDE_ZERO, noteBytes: Buffer.alloc(40, 0x11), split,
  };
}

/** begin, the bitmaps, the batches in the order given, finish. */
async function writeAll(w: DumpWriter, order: PageBatchWrite[]): Promise<void> {
  w.begin(geometry());
  for (const c of cycles()) w.bitmap(c);
  await Promise.all(order.map((b) => w.pages(b)));
  await w.finish();
}

describe('format writers on synthetic dumps', function () {
  let dir: string;

  before(function () {
    dir = scratchDir('writers');
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function kdumpFile(name: string, order: (b: PageBatchWrite[]) => PageBatchWrite[]): Promise<string> {
    const file = path.join(dir, name);
    const sink = new FileSink(file, { force: true });
    const w = new KdumpWriter(sink, values());
    await writeAll(w, order(batches(w.pageRanges, 300)));
    sink.close();
    return file;
  }

  it('kdump: every pfn reads back as kept, zero, lost or excluded, from batches given in pfn order', async function () {
    const d = KdumpVmcore.open(await kdumpFile('in-order', (b) => b));
    try {
      const buf = Buffer.alloc(PS);
      const seen = { ok: 0, lost: 0, excluded: 0 };
      for (let p = 0; p < MAX_MAPNR; p++) {
        const st = d.readPage(p, buf);
        seen[st]++;
        expect(st, `pfn ${p}`).to.equal(!kept(p) ? 'excluded' : p === LOST ? 'lost' : 'ok');
        if (st === 'ok') expect(buf.equals(pageOf(p)), `page of pfn ${p}`).to.equal(true);
        expect(d.inMemory(p), `1st bitmap, pfn ${p}`).to.equal(inMemory(p));
      }
      expect(seen.ok).to.be.greaterThan(2000);
      const pages = d.describe().pages;
      let zeros = 0;
      for (let p = 0; p < MAX_MAPNR; p++) if (kept(p) && isZero(p) && p !== LOST) zeros++;
      expect(pages.zeroDescriptors, 'zero pages share the one stored page').to.equal(zeros);
      expect(pages.lost).to.equal(1);
      expect(d.incomplete).to.equal(false);
    } finally {
      d.close();
    }
  });

  it('kdump: batches given out of pfn order land where their pfns say (descriptors in pfn order, data in write order)', async function () {
    const inOrder = await kdumpFile('in-order-2', (b) => b);
    // the last cycle first, as pages a reader needs first would be (issue 18), then the rest backwards
    const shuffled = await kdumpFile('shuffled', (b) => [...b.slice(-3), ...b.slice(0, -3).reverse()]);
    const a = KdumpVmcore.open(inOrder);
    const b = KdumpVmcore.open(shuffled);
    try {
      const pa = Buffer.alloc(PS);
      const pb = Buffer.alloc(PS);
      let differentPlace = 0;
      for (let p = 0; p < MAX_MAPNR; p++) {
        expect(b.readPage(p, pb), `pfn ${p}`).to.equal(a.readPage(p, pa));
        expect(pb.equals(pa), `page of pfn ${p}`).to.equal(true);
        if (kept(p) && a.readDesc(a.descIndex(p)).offset !== b.readDesc(b.descIndex(p)).offset) differentPlace++;
      }
      expect(differentPlace, 'the data really was placed in another order').to.be.greaterThan(1000);
      expect(fs.statSync(shuffled).size).to.equal(fs.statSync(inOrder).size);
    } finally {
      a.close();
      b.close();
    }
  });

  it('split: three parts, batches routed by pfn, reassemble into the unsplit file byte for byte', async function () {
    const whole = await kdumpFile('whole', (b) => b);
    const ranges = [{ start: 0, end: 1024 }, { start: 1024, end: 3072 }, { start: 3072, end: MAX_MAPNR }];
    let first = 0;
    const sinks: FileSink[] = [];
    const parts = ranges.map((r, i) => {
      const sink = new FileSink(path.join(dir, `part${i}`), { force: true });
      sinks.push(sink);
      const w = new KdumpWriter(sink, values({ startPfn: r.start, endPfn: r.end, firstIndex: first }));
      for (let p = r.start; p < r.end; p++) if (kept(p)) first++;
      return w;
    });
    const split = new SplitWriter(parts);
    expect(split.pageRanges).to.deep.equal(ranges);
    await writeAll(split, batches(split.pageRanges, 500));
    for (const s of sinks) s.close();
    expect(parts.every((p) => p.stored)).to.equal(true);
    const out = path.join(dir, 'reassembled');
    reassemble(ranges.map((_r, i) => path.join(dir, `part${i}`)), out, { force: true });
    expect(fs.readFileSync(out).equals(fs.readFileSync(whole))).to.equal(true);
  });

  it('kdump: markIncomplete flags the header of a file cut short and keeps what it holds readable', async function () {
    const file = path.join(dir, 'cut');
    const sink = new FileSink(file, { force: true });
    const w = new KdumpWriter(sink, values());
    const all = batches(w.pageRanges, 300);
    w.begin(geometry());
    for (const c of cycles()) w.bitmap(c);
    await w.pages(all[0]);
    await w.settle();
    expect(w.stored).to.equal(true);
    expect(w.markIncomplete()).to.equal(1);
    sink.close();
    const status = Buffer.alloc(4);
    const fd = fs.openSync(file, 'r');
    fs.readSync(fd, status, 0, 4, DiskDumpHeader.offsets.status);
    fs.closeSync(fd);
    expect(status.readUInt32LE(0) & DUMP_DH_COMPRESSED_INCOMPLETE).to.equal(DUMP_DH_COMPRESSED_INCOMPLETE);
    const d = KdumpVmcore.open(file);
    try {
      const buf = Buffer.alloc(PS);
      expect(d.incomplete).to.equal(true);
      expect(d.readPage(1, buf)).to.equal('ok');
      expect(buf.equals(pageOf(1))).to.equal(true);
      expect(d.readPage(2999, buf), 'a page of a batch never written').to.equal('lost');
    } finally {
      d.close();
    }
  });

  it('kdump: no descriptor is written before the data it points at is on the device, and then it goes at once (a power cut leaves pages missing, not wrong)', async function () {
    /** FileSink that records which written byte ranges a completed fdatasync covered, and checks every descriptor write against them */
    class RecordingSink extends FileSink {
      tableStart = 0;
      tableEnd = 0;
      private written: [number, number][] = [];
      private durable: [number, number][] = [];
      syncs = 0;
      checked = 0;
      violations: string[] = [];
      override write(buf: Uint8Array, pos: number): void {
        super.write(buf, pos);
        this.written.push([pos, pos + buf.length]);
      }
      override writeAsync(buf: Uint8Array, pos: number): Promise<void> {
        if (pos >= this.tableStart && pos < this.tableEnd) this.check(buf, pos);
        return super.writeAsync(buf, pos).then(() => { this.written.push([pos, pos + buf.length]); });
      }
      /** descriptor writes since the last writeback was asked for */
      notWrittenBack = 0;
      override writeback(): void {
        this.notWrittenBack = 0;
        super.writeback();
      }
      override syncAsync(): Promise<void> {
        const before = this.written.slice();
        return super.syncAsync().then(() => { this.syncs++; this.durable.push(...before); });
      }
      private check(buf: Uint8Array, pos: number): void {
        const b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
        for (let at = 0; at + 24 <= b.length; at += 24) {
          const offset = Number(b.readBigUInt64LE(at));
          const size = b.readUInt32LE(at + 8);
          if (size === 0) continue;
          this.checked++;
          this.notWrittenBack++;
          const covered = this.durable.some(([from, to]) => from <= offset && offset + size <= to);
          if (!covered) this.violations.push(`descriptor at ${pos + at}: data [${offset}, ${offset + size}) not synced`);
        }
      }
    }
    const file = path.join(dir, 'ordered');
    const sink = new RecordingSink(file, { force: true });
    const w = new KdumpWriter(sink, values());
    sink.tableStart = w.g.offsetDesc;
    sink.tableEnd = w.g.offsetDesc + 24 * geometry().numDumpable;
    await writeAll(w, batches(w.pageRanges, 300));
    sink.close();
    expect(sink.checked, 'descriptors with data were written').to.be.greaterThan(2000);
    expect(sink.violations.slice(0, 3)).to.deep.equal([]);
    expect(sink.syncs).to.be.greaterThan(0);
    expect(sink.notWrittenBack, 'the descriptors written are sent to the device at once').to.equal(0);
  });

  describe('ELF', function () {
    let vmcore: string;

    before(function () {
      // two PT_LOADs: pfns 0-2047 and 2048-4095 (the second ending half way into its last page)
      vmcore = path.join(dir, 'synthetic.vmcore');
      const data = (from: number, pages: number): Buffer => Buffer.concat(Array.from({ length: pages }, (_x, i) => pageOf(from + i)));
      writeElfVmcore(vmcore, {
        notes: Buffer.alloc(40, 0x22),
        loads: [{ paddr: 0, data: data(0, 2048) }, { paddr: 2048 * PS, data: data(2048, 2048).subarray(0, 2047 * PS + PS / 2) }],
      });
    });

    async function elfFile(name: string, cyclePfns: number, keptPfn: (pfn: number) => boolean): Promise<string> {
      const vm = ElfVmcore.open(vmcore);
      const file = path.join(dir, name);
      const sink = new FileSink(file, { force: true });
      try {
        const w = new ElfWriter(sink, {
          ...vm.elfHeaders, path: vmcore, noteBytes: vm.noteBytes, loads: vm.loads,
          read: (pa, buf, off, len) => vm.read(pa, buf, off, len),
          readFile: (buf, len, pos) => fs.readSync(vm.direct.fd, buf, 0, len, pos),
        }, { pageSize: PS, maxMapnr: MAX_MAPNR, mode: 'cyclic', excludeZero: false });
        expect(w.pageRanges, 'ELF copies the input: no batches').to.deep.equal([]);
        w.begin({ ...geometry(), cyclePfns });
        for (let start = 0; start < MAX_MAPNR; start += cyclePfns) {
          const bits = new Uint8Array(cyclePfns / 8);
          for (let i = 0; i < cyclePfns; i++) if (keptPfn(start + i)) bits[i >> 3] |= 1 << (i & 7);
          w.bitmap({ index: start / cyclePfns, start, end: start + cyclePfns, bits });
        }
        await w.finish();
        expect(w.stored).to.equal(true);
      } finally {
        sink.close();
        vm.close();
      }
      return file;
    }

    function loadsOf(file: string): { paddr: number; memsz: number; filesz: number; offset: number }[] {
      const b = fs.readFileSync(file);
      const e = Elf64Ehdr.decode(b);
      const out = [];
      for (let i = 0; i < e.e_phnum; i++) {
        const p = Elf64Phdr.decode(b, e.e_phoff + i * Elf64Phdr.size);
        if (p.p_type === PT_LOAD) out.push({ paddr: p.p_paddr, memsz: p.p_memsz, filesz: p.p_filesz, offset: p.p_offset });
      }
      return out;
    }

    // pfns 100-399 out (300, a run makedumpfile leaves out), 600-699 out (100: written with
    // their contents), 2048-2599 out (552 at the start of the second load)
    const keptPfn = (pfn: number): boolean => !(pfn >= 100 && pfn < 400) && !(pfn >= 600 && pfn < 700) && !(pfn >= 2048 && pfn < 2600);

    it('PT_LOADs cut at runs of 256 or more excluded pages, with the data of the vmcore', async function () {
      const file = await elfFile('cut.elf', 1024, keptPfn);
      const loads = loadsOf(file);
      expect(loads.map(({ paddr, memsz, filesz }) => ({ paddr, memsz, filesz }))).to.deep.equal([
        { paddr: 0, memsz: 400 * PS, filesz: 100 * PS },
        { paddr: 400 * PS, memsz: 1648 * PS, filesz: 1648 * PS },
        { paddr: 2048 * PS, memsz: 552 * PS, filesz: 0 },
        { paddr: 2600 * PS, memsz: 1495 * PS + PS / 2, filesz: 1495 * PS + PS / 2 },
      ]);
      const b = fs.readFileSync(file);
      for (const l of loads) {
        for (let at = 0; at < l.filesz; at += PS) {
          const pfn = l.paddr / PS + at / PS;
          const want = pageOf(pfn).subarray(0, Math.min(PS, l.filesz - at));
          expect(b.subarray(l.offset + at, l.offset + at + want.length).equals(want), `pfn ${pfn}`).to.equal(true);
        }
      }
    });

    it('the same file whatever the cycle size the bitmap streams in', async function () {
      const a = fs.readFileSync(await elfFile('c1024.elf', 1024, keptPfn));
      const b = fs.readFileSync(await elfFile('c64.elf', 64, keptPfn));
      expect(b.equals(a)).to.equal(true);
    });
  });
});

// The coordinator on a small synthetic vmcore (two PT_LOADs 200 MiB apart, two cycles),
// with a writer that only records what it is given: the order of the calls, the bitmaps,
// the batches with the dump's page number of their first page, the counts in the report;
// and the one failure path, for each way a run can fail.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import type { CycleBitmap, DumpGeometry, DumpWriter, PageBatchWrite } from '../../src/format/dump-writer';
import { NativePages, nativePages } from '../../src/codec/native-pages';
import { writeElfVmcore } from '../../src/format/elf-vmcore-writer';
import { Coordinator } from '../../src/pipeline/coordinator';
import { runDump } from '../../src/pipeline/dump';
import { Outputs } from '../../src/pipeline/outputs';
import { InlineExecutor } from '../../src/pipeline/executor';
import { kdumpFileValues } from '../../src/pipeline/kdump-output';
import { prepareDump } from '../../src/pipeline/prepare';
import { createWorkerContext } from '../../src/pipeline/setup';
import { KdumpWriter } from '../../src/format/kdump-writer';
import { DumpError, NoSpaceError } from '../../src/util/errors';
import { Messages } from '../../src/util/messages';
import { verifyPagesAgainstVmcore } from '../helpers/compare';
import { scratchDir } from '../helpers/fixtures';

const PS = 4096;
/** pfns of the second PT_LOAD: 200 MiB up, past the first 32768-pfn cycle */
const HIGH = (200 << 20) / PS;

/** Page `pfn` of the synthetic vmcore: every third page all zero, the others numbered through. */
function pageOf(pfn: number): Buffer {
  const b = Buffer.alloc(PS);
  if (pfn % 3 === 0) return b;
  for (let o = 0; o < PS; o += 4) b.writeUInt32LE((pfn * PS + o) >>> 0, o);
  return b;
}

const pages = (from: number, n: number): Buffer => Buffer.concat(Array.from({ length: n }, (_x, i) => pageOf(from + i)));

/** A writer that writes nothing and records every call. */
class RecordingWriter implements DumpWriter {
  readonly calls: string[] = [];
  readonly bitmaps: { start: number; end: number; set: number }[] = [];
  readonly batches: { pfnStart: number; index: number; count: number; zeros: number }[] = [];
  geometry?: DumpGeometry;
  stored = false;
  failure: unknown;

  constructor(readonly pageRanges: { start: number; end: number }[], private readonly failAt = -1, private readonly failIn?: 'begin') {}

  begin(g: DumpGeometry): void {
    this.calls.push('begin');
    this.geometry = g;
    if (this.failIn === 'begin') throw new NoSpaceError('no space left on the device holding the test');
  }

  bitmap(c: CycleBitmap): void {
    this.calls.push(`bitmap ${c.index}`);
    let set = 0;
    for (let i = 0; i < c.end - c.start; i++) if (c.bits[i >> 3] & (1 << (i & 7))) set++;
    this.bitmaps.push({ start: c.start, end: c.end, set });
  }

  pages(b: PageBatchWrite): Promise<void> {
    this.calls.push('pages');
    if (this.batches.length === this.failAt) return Promise.reject(new NoSpaceError('no space left on the device holding the test'));
    let zeros = 0;
    for (let k = 0; k < b.pages.count; k++) if (b.pages.sizes[k] === 0) zeros++;
    this.batches.push({ pfnStart: b.pfnStart, index: b.index, count: b.pages.count, zeros });
    this.stored = true;
    return Promise.resolve();
  }

  async finish(): Promise<void> {
    this.calls.push('finish');
  }

  async settle(): Promise<void> {
    this.calls.push('settle');
  }

  markIncomplete(): number {
    this.calls.push('markIncomplete');
    return 1;
  }
}

describe('the coordinator, on a synthetic vmcore', function () {
  let dir: string;
  let vmcore: string;
  const lines: string[] = [];
  const text = { write: (s: string): boolean => { lines.push(...s.split('\n').filter(Boolean)); return true; } };
  const msgs = (): Messages => new Messages(6, text, text);
  // -d 1 needs no VMCOREINFO; one 4 KiB bitmap per cycle: two cycles
  const opts = { dumpLevel: 1, codec: 'none' as const, numThreads: 1, freeMemory: 1 << 30, cyclicBufferKiB: 4 };

  before(function () {
    dir = scratchDir('coordinator');
    vmcore = path.join(dir, 'two-loads.vmcore');
    writeElfVmcore(vmcore, { notes: Buffer.alloc(0), loads: [{ paddr: 0, data: pages(0, 256) }, { paddr: HIGH * PS, data: pages(HIGH, 512) }] });
  });

  beforeEach(function () {
    lines.length = 0;
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('gives the writer the geometry, every cycle\'s bitmap in order and the batches in order, each with its page number', async function () {
    const w = new RecordingWriter([{ start: 0, end: 100 }, { start: 100, end: HIGH + 512 }]);
    const prep = prepareDump({ input: vmcore, ...opts }, msgs());
    const { report, error } = await new Coordinator(prep).run(Outputs.open({ dryRun: true, force: false }, 4096), w);
    expect(error).to.equal(undefined);
    expect(w.calls).to.deep.equal(['begin', 'bitmap 0', 'pages', 'pages', 'bitmap 1', 'pages', 'finish', 'settle']);
    expect(w.geometry!.numDumpable).to.equal(768);
    expect(w.bitmaps).to.deep.equal([{ start: 0, end: 32768, set: 256 }, { start: 32768, end: HIGH + 512, set: 512 }]);
    // a batch starts on a byte of the bitmap; its pages start at its range's first pfn
    expect(w.batches.map(({ pfnStart, index, count }) => ({ pfnStart, index, count }))).to.deep.equal([
      { pfnStart: 0, index: 0, count: 100 }, { pfnStart: 96, index: 100, count: 156 }, { pfnStart: HIGH, index: 256, count: 512 },
    ]);
    const zeros = w.batches.reduce((a, b) => a + b.zeros, 0);
    expect(zeros).to.equal(86 + 171);
    expect(report.zero, 'the report counts the zero pages the batches found').to.equal(zeros);
    expect(report.numDumpable).to.equal(768);
    expect(report.remaining).to.equal(report.original - zeros);
  });

  it('runDump on it: a kdump file whose every page is the vmcore\'s', async function () {
    const out = path.join(dir, 'dump');
    const { error } = await runDump({ input: vmcore, output: out, force: true, ...opts }, msgs());
    expect(error).to.equal(undefined);
    const c = verifyPagesAgainstVmcore(out, vmcore);
    expect(c.pages).to.equal(768);
    expect(c.zeroDescs).to.equal(86 + 171);
  });

  /** the addon's page loops, counted while fn runs */
  async function countingNativeCalls(fn: () => Promise<void>): Promise<Record<string, number>> {
    const native = nativePages() as (NativePages & Record<string, unknown>);
    const calls: Record<string, number> = {};
    const saved: Record<string, unknown> = {};
    for (const name of ['copyRuns', 'rawRuns', 'compressPages', 'compressMapped', 'compressFile']) {
      const f = native[name] as ((...a: unknown[]) => unknown) | undefined;
      if (!f) continue;
      saved[name] = f;
      native[name] = (...a: unknown[]) => { calls[name] = (calls[name] ?? 0) + 1; return f.apply(native, a); };
    }
    try {
      await fn();
    } finally {
      Object.assign(native, saved);
    }
    return calls;
  }

  it('without a codec, a regular file\'s kept pages are read with pread straight into the batch (compressFile), not mapped', async function () {
    if (!nativePages()?.compressFile) this.skip();
    const out = path.join(dir, 'dump-pread');
    const calls = await countingNativeCalls(async () => {
      const { error } = await runDump({ input: vmcore, output: out, force: true, ...opts }, msgs());
      expect(error).to.equal(undefined);
    });
    expect(verifyPagesAgainstVmcore(out, vmcore).pages).to.equal(768);
    expect(calls.compressFile ?? 0, 'compressFile calls').to.be.greaterThan(0);
    expect((calls.copyRuns ?? 0) + (calls.rawRuns ?? 0) + (calls.compressMapped ?? 0), 'mapped or copied calls').to.equal(0);
  });

  it('without a codec, a mapped input\'s kept pages (/proc/vmcore\'s way) go from the input to the file as runs (copyRuns), not through a buffer', async function () {
    const native = nativePages();
    if (!native?.copyRuns || !native.rawRuns) this.skip();
    const out = path.join(dir, 'dump-runs');
    const calls = await countingNativeCalls(async () => {
      const prep = prepareDump({ input: vmcore, ...opts }, msgs());
      // what prepareDump does for procfs, here for a regular file
      const local = createWorkerContext({ ...prep.plan.worker, mapInput: true }, prep.input);
      expect(local.reader.mapped, 'the input mapped').to.not.equal(undefined);
      const mappedPrep = { ...prep, local, executor: new InlineExecutor(local) };
      const outputs = Outputs.open({ output: out, force: true }, 4096);
      const { error } = await new Coordinator(mappedPrep).run(outputs, new KdumpWriter(outputs.sinks[0], kdumpFileValues(mappedPrep)));
      expect(error).to.equal(undefined);
    });
    expect(verifyPagesAgainstVmcore(out, vmcore).pages).to.equal(768);
    expect(calls.copyRuns ?? 0, 'copyRuns calls').to.be.greaterThan(0);
    expect(calls.rawRuns ?? 0, 'rawRuns calls').to.be.greaterThan(0);
    expect((calls.compressPages ?? 0) + (calls.compressMapped ?? 0) + (calls.compressFile ?? 0), 'pages copied through a buffer').to.equal(0);
  });

  it('a failed write: the run settles, the file is marked incomplete and kept, the error returned', async function () {
    const out = path.join(dir, 'failed');
    const w = new RecordingWriter([{ start: 0, end: HIGH + 512 }], 1);
    const prep = prepareDump({ input: vmcore, ...opts }, msgs());
    const { report, error } = await new Coordinator(prep).run(Outputs.open({ output: out, force: true }, 4096), w);
    expect(error?.code).to.equal('no-space');
    expect(report.incomplete).to.equal(true);
    expect(w.calls.slice(-2)).to.deep.equal(['settle', 'markIncomplete']);
    expect(w.calls).to.not.include('finish');
    expect(fs.existsSync(out)).to.equal(true);
    expect(lines).to.include(`the dump file ${out} is incomplete (marked so in its header) but readable`);
  });

  it('a failure before any page is stored: the file is deleted', async function () {
    const out = path.join(dir, 'nothing');
    const w = new RecordingWriter([{ start: 0, end: HIGH + 512 }], -1, 'begin');
    const prep = prepareDump({ input: vmcore, ...opts }, msgs());
    const { error } = await new Coordinator(prep).run(Outputs.open({ output: out, force: true }, 4096), w);
    expect(error?.code).to.equal('no-space');
    expect(w.calls).to.not.include('markIncomplete');
    expect(fs.existsSync(out)).to.equal(false);
    expect(lines).to.include(`the dump file ${out} held no page yet and was deleted`);
  });

  it('a failure before pass 2 (no writer could be made): thrown, the output discarded', async function () {
    const out = path.join(dir, 'never');
    const prep = prepareDump({ input: vmcore, ...opts }, msgs());
    let thrown: unknown;
    try {
      await new Coordinator(prep).run(Outputs.open({ output: out, force: true }, 4096), () => {
        throw new DumpError('usage', 'no writer');
      });
    } catch (e) {
      thrown = e;
    }
    expect((thrown as DumpError).code).to.equal('usage');
    expect(fs.existsSync(out)).to.equal(false);
  });
});

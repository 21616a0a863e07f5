// Synthetic vmcore generator (perf/synth, issue 3): generates small vmcores of every
// memory model and paging mode, runs makedumpfile 1.7.2 on them, and checks that its
// report counts equal the generator's expected counts. The same check is meant to
// run against cyclodump once its engine exists (see "cyclodump" below).

import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { generateVmcore, GenerateOptions } from '../../perf/synth/generate';
import { compareCounts, parseReport, runDumpTool, DumpRun } from '../../perf/synth/check';
import { expectedByLevel, K } from '../../perf/synth/kinds';
import { parseMix } from '../../perf/synth/mix';
import { MemoryModel } from '../../perf/synth/layout';

const MiB = 2 ** 20;
const MAKEDUMPFILE = process.env.MAKEDUMPFILE ?? 'makedumpfile';
/** repository root: dist/test/synth → ../../.. */
const REPO = path.resolve(__dirname, '..', '..', '..');
const CYCLODUMP = path.join(REPO, 'bin', 'cyclodump');

function haveMakedumpfile(): boolean {
  const r = spawnSync(MAKEDUMPFILE, ['-v'], { encoding: 'latin1' });
  return r.status === 0 && /makedumpfile: version 1\.7\./.test(`${r.stdout}${r.stderr}`);
}

function sha256(file: string): string {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(8 * MiB);
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/** cyclodump takes makedumpfile's command line: `bin/cyclodump [opts] VMCORE OUT`. */
export function runCyclodump(vmcore: string, level: number, outFile: string, extraArgs: string[] = ['-l'], keepOutput = false): DumpRun {
  return runDumpTool(CYCLODUMP, vmcore, level, outFile, extraArgs, keepOutput);
}

function assertCounts(run: DumpRun, expected: ReturnType<typeof expectedByLevel>, level: number): void {
  assert.strictEqual(run.status, 0, `${run.command.join(' ')} failed:\n${run.output.slice(-3000)}`);
  assert.ok(run.counts, `no report in the output of ${run.command.join(' ')}:\n${run.output.slice(-3000)}`);
  const diffs = compareCounts(expected[String(level)], run.counts);
  assert.deepStrictEqual(diffs, [], `${run.command.join(' ')}: counts differ from the expected JSON`);
}

interface Case {
  name: string;
  opts: Omit<GenerateOptions, 'out'>;
  levels: number[];
  /** dump options; default DRY_RUN */
  extra?: string[];
  /** the case is meant to contain at least this many hugetlb pages (gigantic ones) */
  minHugetlbPages?: number;
}

/** makedumpfile 1.7.2 --dry-run: the whole filtering and page scan (zero test included),
 * report printed, nothing written: the counts without the disk traffic. */
const DRY_RUN = ['--dry-run'];
/** generated data beyond the kernel's own structures: enough for every content kind */
const DATA = 48 * MiB;

const CASES: Case[] = [
  { name: 'sparse-extreme, 4-level, edge mix', opts: { ramBytes: 512 * MiB, layout: 'sparse-extreme', levels: 4, mix: 'edge', seed: 11 }, levels: [31, 1, 0, 17, 2, 4, 8, 16] },
  { name: 'sparse-extreme, 4-level, lzo output written', opts: { ramBytes: 256 * MiB, layout: 'sparse-extreme', levels: 4, seed: 10 }, levels: [31, 1], extra: ['-l'] },
  { name: 'sparse-extreme, 5-level', opts: { ramBytes: 384 * MiB, layout: 'sparse-extreme', levels: 5, mix: 'edge', seed: 12 }, levels: [31, 1] },
  { name: 'sparse (non-extreme), 4-level', opts: { ramBytes: 384 * MiB, layout: 'sparse', levels: 4, mix: 'edge', seed: 13 }, levels: [31, 1] },
  { name: 'sparse (non-extreme), 5-level', opts: { ramBytes: 384 * MiB, layout: 'sparse', levels: 5, seed: 14 }, levels: [31, 17] },
  { name: 'flat, 4-level', opts: { ramBytes: 384 * MiB, layout: 'flat', levels: 4, mix: 'edge', seed: 15 }, levels: [31, 1] },
  { name: 'flat, 5-level, QEMU-style p_vaddr', opts: { ramBytes: 384 * MiB, layout: 'flat', levels: 5, vaddr: 'phys', seed: 16 }, levels: [31, 0] },
  {
    // 1 GiB hugetlb pages need a whole free aligned GiB, hence more RAM (sparse on disk: ~160 MiB);
    // 4 MiB cycles make each of them span 64 cycles (makedumpfile's pending-exclusion path)
    name: '1 GiB hugetlb pages, cyclic buffer mode (--cyclic-buffer 1)',
    opts: { ramBytes: 6 * 1024 * MiB, layout: 'sparse-extreme', levels: 4, mix: 'hugetlb', seed: 21 },
    levels: [31, 8],
    extra: [...DRY_RUN, '--cyclic-buffer', '1'],
    minHugetlbPages: 262144,
  },
  {
    name: 'sparse-extreme, cyclic buffer mode (--cyclic-buffer 4)',
    opts: { ramBytes: 512 * MiB, layout: 'sparse-extreme', levels: 4, mix: 'fragmented', seed: 17 },
    levels: [31, 17],
    extra: [...DRY_RUN, '--cyclic-buffer', '4'],
  },
];

describe('synthetic vmcore generator (perf/synth)', function () {
  this.timeout(120000);
  let dir = '';

  before(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cyclodump-synth-'));
  });

  after(function () {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('expected counts', function () {
    it('follow makedumpfile\'s decision order', function () {
      const pages = new Float64Array(K.COUNT);
      const zeros = new Float64Array(K.COUNT);
      pages[K.FREE_HEAD] = 1024;
      zeros[K.FREE_HEAD] = 1000;
      pages[K.HWPOISON_LRU] = 3;
      pages[K.ANON] = 10;
      zeros[K.ANON] = 4;
      pages[K.BADBUDDY] = 2;
      pages[K.HUGETLB_FREE_HEAD] = 512;
      pages[K.OVERLAY] = 100;
      zeros[K.OVERLAY] = 7;
      const e = expectedByLevel(pages, zeros, 1651, 2000);
      // zero pages only among pages still dumpable
      assert.strictEqual(e['1'].zero, 1011);
      assert.strictEqual(e['17'].zero, 11);
      assert.strictEqual(e['31'].zero, 7);
      // hwpoison on an LRU page: cache when cache pages go, hwpoison otherwise (every level)
      assert.strictEqual(e['2'].cache, 3);
      assert.strictEqual(e['0'].hwpoison, 3);
      // free hugetlb pool pages are user data
      assert.strictEqual(e['8'].user, 522);
      // PageBuddy with an order >= MAX_ORDER is kept and warned about
      assert.strictEqual(e['16'].free, 1024);
      assert.strictEqual(e['16'].invalid_order_warnings, 2);
      assert.strictEqual(e['31'].remaining, 1651 - 1024 - 3 - 522 - 7);
      assert.strictEqual(e['31'].memory_hole, 349);
    });

    it('parse mix presets and overrides', function () {
      assert.strictEqual(parseMix('user,thp=0.5').mix.thp, 0.5);
      assert.strictEqual(parseMix('free=0.7').name, 'custom');
      assert.throws(() => parseMix('nosuchpreset'));
      assert.throws(() => parseMix('frag=2'));
    });

    it('parse a makedumpfile report', function () {
      const text = [
        'Original pages  : 0x0000000000040000',
        '  Excluded pages   : 0x000000000003ae0e',
        '    Pages filled with zero  : 0x0000000000001b5d',
        '    Non-private cache pages : 0x000000000000d12c',
        '    Private cache pages     : 0x0000000000001b8b',
        '    User process data pages : 0x000000000001083e',
        '    Free pages              : 0x0000000000019dbc',
        '    Hwpoison pages          : 0x0000000000000000',
        '    Offline pages           : 0x0000000000000000',
        '  Remaining pages  : 0x00000000000051f2',
        'Memory Hole     : 0x0000000000000000',
        'Total pages     : 0x0000000000040000',
      ].join('\n');
      const c = parseReport(text);
      assert.strictEqual(c.zero, 7005);
      assert.strictEqual(c.free, 105916);
      assert.strictEqual(c.remaining, 20978);
    });
  });

  it('is deterministic for a seed', async function () {
    const a = path.join(dir, 'det-a.vmcore');
    const b = path.join(dir, 'det-b.vmcore');
    const opts = { ramBytes: 256 * MiB, seed: 99, mix: 'edge', dataBytes: DATA };
    const ra = await generateVmcore({ ...opts, out: a });
    const rb = await generateVmcore({ ...opts, out: b });
    assert.deepStrictEqual(ra.expected.levels, rb.expected.levels);
    assert.strictEqual(sha256(a), sha256(b));
    // sparse: only struct pages, page tables, the kernel image and non-zero pages use blocks
    const st = fs.statSync(a);
    assert.ok(st.blocks * 512 < st.size, 'vmcore is not sparse');
    fs.rmSync(a);
    fs.rmSync(b);
  });

  describe('makedumpfile 1.7.2 agrees with the expected counts', function () {
    before(function () {
      if (!haveMakedumpfile()) this.skip();
    });

    for (const c of CASES) {
      it(`${c.name}: -d ${c.levels.join(', ')}`, async function () {
        const vmcore = path.join(dir, `${c.opts.layout}-${c.opts.levels}-${c.opts.seed}.vmcore`);
        const { expected } = await generateVmcore({ dataBytes: DATA, ...c.opts, out: vmcore });
        if (c.minHugetlbPages !== undefined) {
          assert.ok((expected.kinds.hugetlb?.pages ?? 0) + (expected.kinds.hugetlb_free?.pages ?? 0) >= c.minHugetlbPages);
        }
        const layoutLine = { 'sparse-extreme': 'SPARSEMEM_EX', sparse: 'SPARSEMEM', flat: 'FLATMEM' }[c.opts.layout as MemoryModel];
        for (const level of c.levels) {
          const run = runDumpTool(MAKEDUMPFILE, vmcore, level, path.join(dir, 'out.dump'), c.extra ?? DRY_RUN);
          assertCounts(run, expected.levels, level);
        }
        // makedumpfile must have taken the intended memory-model path (-D prints it)
        const dbg = runDumpTool(MAKEDUMPFILE, vmcore, 31, path.join(dir, 'out.dump'), ['-D', ...DRY_RUN]);
        assert.match(dbg.output, new RegExp(`Memory type\\s*:\\s*${layoutLine}\\b`));
        fs.rmSync(vmcore);
        fs.rmSync(`${vmcore}.expected.json`);
      });
    }
  });

  // ---- cyclodump: the same counts, and the very file makedumpfile writes ----
  describe('cyclodump agrees with the expected counts and writes makedumpfile\'s file', function () {
    before(function () {
      if (!haveMakedumpfile()) this.skip();
    });

    for (const c of CASES) {
      it(`${c.name}: -d ${c.levels.join(', ')}`, async function () {
        const vmcore = path.join(dir, `cd-${c.opts.layout}-${c.opts.levels}-${c.opts.seed}.vmcore`);
        const { expected } = await generateVmcore({ dataBytes: DATA, ...c.opts, out: vmcore });
        // both tools write a real -l file (LZO1X-1 output is the same bytes in both)
        const extra = ['-l', ...(c.extra ?? []).filter((a) => a !== '--dry-run' && a !== '-l')];
        for (const level of c.levels) {
          const ours = path.join(dir, 'cd-out.dump');
          const theirs = path.join(dir, 'mdf-out.dump');
          // --pfn-order: makedumpfile's page order, for the byte-for-byte comparison
          assertCounts(runCyclodump(vmcore, level, ours, [...extra, '--pfn-order'], true), expected.levels, level);
          const m = runDumpTool(MAKEDUMPFILE, vmcore, level, theirs, extra, true);
          assert.strictEqual(m.status, 0, m.output.slice(-2000));
          assert.strictEqual(sha256(ours), sha256(theirs), `-d ${level}: cyclodump's file differs from makedumpfile's`);
          fs.rmSync(ours);
          fs.rmSync(theirs);
        }
        fs.rmSync(vmcore);
        fs.rmSync(`${vmcore}.expected.json`);
      });
    }
  });
});

// A full disk at every stage of a dump, on the real-1g fixture, written to a tmpfs that
// really runs out of space (and to -L, which behaves the same): the run stops, exits 1 as
// makedumpfile does, and leaves either nothing (when no page had been written yet) or a
// file flagged incomplete that our reader, libkdumpfile and crash open, every page of
// which equals the vmcore's.
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { KdumpVmcore } from '../../src/vmcore/kdump-vmcore';
import { verifyPagesAgainstVmcore } from '../helpers/compare';
import { SmallDisk, errorLines, sparseCopy, expectIncompleteElf, expectIncompleteKdump, libkdumpfileSample } from '../helpers/faults';
import { fixtureVmcore, scratchDir } from '../helpers/fixtures';
import { BIN } from '../helpers/paths';
import { cyclodump } from '../helpers/tools';

const KiB = 1024;
const MiB = 1024 * 1024;

interface Point {
  args: string[];
  /** room on the tmpfs */
  room: number;
  /** what must be left: nothing (no page had been written) or an incomplete dump */
  expect: 'deleted' | 'incomplete';
  why: string;
  /** run on one CPU (taskset): the output is written on the main thread */
  oneCpu?: boolean;
}

// Where the room runs out, by what the file holds at that moment (real-1g: header and
// notes 8 KiB, bitmaps 2 × 32 KiB, then the shared zero page, descriptors and data).
const POINTS: Point[] = [
  { args: ['-l', '-d', '31'], room: 4 * KiB, expect: 'deleted', why: 'while the notes are written' },
  { args: ['-l', '-d', '31'], room: 12 * KiB, expect: 'deleted', why: 'in the sub-header block' },
  { args: ['-l', '-d', '31'], room: 24 * KiB, expect: 'deleted', why: 'in the 1st bitmap' },
  { args: ['-l', '-d', '31'], room: 48 * KiB, expect: 'deleted', why: 'at the shared zero page' },
  { args: ['-l', '-d', '31'], room: 64 * KiB, expect: 'deleted', why: 'in the 2nd bitmap' },
  { args: ['-l', '-d', '31'], room: 2 * MiB, expect: 'incomplete', why: 'in the first batches of page data' },
  { args: ['-l', '-d', '31'], room: 5 * MiB + 3 * KiB, expect: 'incomplete', why: 'in page data' },
  { args: ['-l', '-d', '31'], room: 9 * MiB, expect: 'incomplete', why: 'in page data' },
  { args: ['-l', '-d', '31'], room: 14 * MiB + 20 * KiB, expect: 'incomplete', why: 'in page data' },
  { args: ['-l', '-d', '31'], room: 19 * MiB, expect: 'incomplete', why: 'in page data' },
  { args: ['-l', '-d', '31'], room: 24 * MiB + 4 * KiB, expect: 'incomplete', why: 'in page data' },
  { args: ['-l', '-d', '31'], room: 26 * MiB + 700 * KiB, expect: 'incomplete', why: 'near the end' },
  { args: ['-c', '-d', '31'], room: 3 * MiB, expect: 'incomplete', why: 'zlib, early page data' },
  { args: ['-c', '-d', '31'], room: 11 * MiB + 8 * KiB, expect: 'incomplete', why: 'zlib, page data' },
  { args: ['-c', '-d', '31'], room: 19 * MiB + 12 * KiB, expect: 'incomplete', why: 'zlib, near the end' },
  { args: ['-l', '-d', '1'], room: 30 * KiB, expect: 'deleted', why: '-d 1, in the bitmaps' },
  { args: ['-l', '-d', '1'], room: 7 * MiB, expect: 'incomplete', why: '-d 1, early page data' },
  { args: ['-l', '-d', '1'], room: 90 * MiB + 4 * KiB, expect: 'incomplete', why: '-d 1, half way' },
  { args: ['-l', '-d', '1'], room: 190 * MiB, expect: 'incomplete', why: '-d 1, near the end' },
  { args: ['-c', '-d', '1'], room: 40 * MiB, expect: 'incomplete', why: '-d 1 zlib, early' },
  { args: ['-c', '-d', '1'], room: 150 * MiB + 16 * KiB, expect: 'incomplete', why: '-d 1 zlib, late' },
  { args: ['-l', '-d', '31'], room: 48 * KiB, expect: 'deleted', why: 'one CPU, at the shared zero page', oneCpu: true },
  { args: ['-l', '-d', '31'], room: 5 * MiB + 3 * KiB, expect: 'incomplete', why: 'one CPU, in page data', oneCpu: true },
  { args: ['-d', '31'], room: 30 * MiB + 4 * KiB, expect: 'incomplete', why: 'one CPU, no codec, in page data', oneCpu: true },
  { args: ['-l', '-d', '1'], room: 90 * MiB + 4 * KiB, expect: 'incomplete', why: 'one CPU, -d 1, half way', oneCpu: true },
];

describe('ENOSPC: the run stops cleanly and what it leaves is flagged and correct', function () {
  let dir: string;
  let vmcore: string;
  let disk: SmallDisk | undefined;

  before(function () {
    dir = scratchDir('enospc');
    vmcore = fixtureVmcore('real-1g');
    disk = SmallDisk.mount(path.join(dir, 'disk'));
  });

  after(function () {
    disk?.unmount();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /**
   * The file, copied off the full tmpfs before it is read: libkdumpfile maps the file, and
   * a read fault on a hole of a full tmpfs raises SIGBUS (tmpfs allocates a page for it).
   */
  function offDisk(file: string): string {
    const to = path.join(dir, path.basename(file));
    sparseCopy(file, to);
    return to;
  }

  function needDisk(ctx: Mocha.Context): SmallDisk {
    // the tests run as root in CI; elsewhere a tmpfs cannot be mounted
    if (!disk) ctx.skip();
    return disk!;
  }

  for (const p of POINTS) {
    it(`${p.args.join(' ')}, ${p.room >= MiB ? `${(p.room / MiB).toFixed(1)} MiB` : `${p.room / KiB} KiB`} of room (${p.why}): ${p.expect}`, function () {
      const d = needDisk(this);
      d.resize(p.room);
      const out = path.join(d.dir, 'dump');
      const r = cyclodump([...p.args, vmcore, out], { oneCpu: p.oneCpu });
      expect(r.code, r.stderr).to.equal(1);
      const lines = errorLines(r.stderr);
      expect(lines[lines.length - 1]).to.equal(`cyclodump: no space left on the device holding ${out}`);
      expect(r.stderr).to.not.match(/\n\s+at /);
      if (p.expect === 'deleted') {
        expect(fs.existsSync(out), 'a file without pages is deleted').to.equal(false);
        expect(r.stderr).to.contain('held no page yet and was deleted');
        return;
      }
      expect(r.stderr).to.contain('is incomplete (marked so in its header) but readable');
      const c = expectIncompleteKdump(offDisk(out), vmcore);
      expect(c.pages, 'pages kept').to.be.greaterThan(0);
      expect(c.libkdumpfile.compared, 'pages libkdumpfile read').to.be.greaterThan(0);
    });
  }

  it('-d 31,1 and -d 1,31: a level that does not fit is dropped, the next one is written whole', function () {
    const d = needDisk(this);
    d.resize(40 * MiB);
    const out = path.join(d.dir, 'dump');
    const a = cyclodump(['-l', '-d', '1,31', vmcore, out]);
    expect(a.code, a.stderr).to.equal(0);
    expect(a.stderr).to.match(/^cyclodump: no space left on the device holding .*; retrying with dump level 31 \(-d 1,31\)$/m);
    const s = KdumpVmcore.open(out);
    expect(s.incomplete).to.equal(false);
    expect(s.sub.dump_level).to.equal(31);
    s.close();
    expect(verifyPagesAgainstVmcore(out, vmcore).lost).to.equal(0);
    // and when no level fits, the last one is the one kept, marked
    d.resize(10 * MiB);
    const b = cyclodump(['-l', '-d', '1,31', vmcore, out]);
    expect(b.code).to.equal(1);
    const kept = offDisk(out);
    const c = expectIncompleteKdump(kept, vmcore);
    expect(c.pages).to.be.greaterThan(0);
    const t = KdumpVmcore.open(kept);
    expect(t.sub.dump_level).to.equal(31);
    t.close();
  });

  it('-l -d 1 --cyclic-buffer 1 --pfn-order, the disk full half way: the cycles pass 2 never reached are not in the 2nd bitmap', function () {
    // pass 1 writes each cycle's 2nd bitmap into the file; a run in pfn order that stops must
    // clear the cycles it did not reach, or readers would take all their pages for lost ones
    const d = needDisk(this);
    d.resize(90 * MiB);
    const out = path.join(d.dir, 'dump');
    const r = cyclodump(['-l', '-d', '1', '--cyclic-buffer', '1', '--pfn-order', vmcore, out]);
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stderr).to.contain('is incomplete (marked so in its header) but readable');
    const kept = offDisk(out);
    const c = expectIncompleteKdump(kept, vmcore);
    // --cyclic-buffer 1: 32768 pfns (one 128 MiB section) per cycle, 8 cycles in real-1g;
    // only the cycle being written when the disk filled up may hold lost pages
    expect(c.pages, 'pages kept').to.be.greaterThan(32768);
    expect(c.lost, 'pages in the bitmap without data').to.be.at.most(32768);
    const k = KdumpVmcore.open(kept);
    try {
      const perCycle = 32768 / 8;
      const setIn = (cycle: number): boolean => k.bitmap2.subarray(cycle * perCycle, (cycle + 1) * perCycle).some((b) => b !== 0);
      expect(setIn(0), 'the first cycle is in the bitmap').to.equal(true);
      expect(setIn(7), 'the last cycle, never reached, is not').to.equal(false);
    } finally {
      k.close();
    }
  });

  it('-l -d 1 --cyclic-buffer 1 in the default order, the disk full half way: the whole 2nd bitmap, the pages not written lost', function () {
    // the default order writes every cycle's bitmap first and the priority pages of every
    // cycle before the rest: the bitmap stays whole, the descriptors not written say "lost"
    const d = needDisk(this);
    d.resize(90 * MiB);
    const out = path.join(d.dir, 'dump');
    const r = cyclodump(['-l', '-d', '1', '--cyclic-buffer', '1', vmcore, out]);
    expect(r.code, r.stderr).to.equal(1);
    const kept = offDisk(out);
    const c = expectIncompleteKdump(kept, vmcore);
    expect(c.pages + c.lost, 'every pfn of real-1g is in the -d 1 bitmap').to.equal(262144);
    expect(c.pages, 'pages kept').to.be.greaterThan(32768);
    expect(c.lost, 'pages in the bitmap without data').to.be.greaterThan(32768);
  });

  it('-L: the same as a full disk, at three sizes', function () {
    for (const [limit, expected] of [['20K', 'deleted'], ['3M', 'incomplete'], ['17M', 'incomplete']] as const) {
      const out = path.join(dir, `limit-${limit}`);
      const r = cyclodump(['-l', '-d', '31', '-L', limit, vmcore, out]);
      expect(r.code, r.stderr).to.equal(1);
      expect(r.stderr).to.match(/reached the size limit of \d+ bytes \(-L\)/);
      if (expected === 'deleted') {
        expect(fs.existsSync(out)).to.equal(false);
        continue;
      }
      expect(fs.statSync(out).size).to.be.at.most(parseInt(limit, 10) * MiB);
      expect(expectIncompleteKdump(out, vmcore).pages).to.be.greaterThan(0);
    }
  });

  it('--split: a full disk under the parts marks every part; the set opens in libkdumpfile', function () {
    const d = needDisk(this);
    d.resize(12 * MiB);
    const parts = [path.join(d.dir, 'part1'), path.join(d.dir, 'part2')];
    const r = cyclodump(['-l', '-d', '31', '--split', vmcore, ...parts]);
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stderr).to.contain('are incomplete (marked so in their headers)');
    let pages = 0;
    const kept = parts.map(offDisk);
    for (const p of kept) {
      const k = KdumpVmcore.open(p);
      expect(k.incomplete, `${p} flagged`).to.equal(true);
      k.close();
      pages += verifyPagesAgainstVmcore(p, vmcore).pages;
    }
    expect(pages).to.be.greaterThan(0);
    libkdumpfileSample(kept.join(','), vmcore);
  });

  it('-E: e_flags bit 0 set, and every PT_LOAD the file has holds the vmcore\'s bytes (3 points)', function () {
    const d = needDisk(this);
    for (const [room, expected] of [[6 * KiB, 'deleted'], [9 * MiB, 'incomplete'], [57 * MiB + 4 * KiB, 'incomplete']] as const) {
      d.resize(room);
      const out = path.join(d.dir, 'dump.elf');
      const r = cyclodump(['-E', '-d', '31', vmcore, out]);
      expect(r.code, r.stderr).to.equal(1);
      expect(r.stderr).to.contain(`no space left on the device holding ${out}`);
      if (expected === 'deleted') {
        expect(fs.existsSync(out), `${room} bytes: nothing kept`).to.equal(false);
        continue;
      }
      expect(expectIncompleteElf(offDisk(out), vmcore), `${room} bytes: pages in the file`).to.be.greaterThan(0);
    }
  });

  it('-F: the stream is cut without its end marker (never marked, as makedumpfile), and -R refuses it', function () {
    const d = needDisk(this);
    d.resize(6 * MiB);
    const out = path.join(d.dir, 'stream');
    const fd = fs.openSync(out, 'w');
    const r = spawnSync(process.execPath, [BIN, '-F', '-l', '-d', '31', vmcore], { stdio: ['ignore', fd, 'pipe'], encoding: 'latin1' });
    fs.closeSync(fd);
    expect(r.status, r.stderr).to.equal(1);
    expect(r.stderr).to.contain('no space left on the device holding stdout');
    expect(r.stderr).to.contain('the flattened stream was cut short');
    const stream = fs.readFileSync(out);
    const end = Buffer.alloc(16, 0xff);
    expect(stream.subarray(stream.length - 16).equals(end), 'no end marker').to.equal(false);
    const rebuilt = path.join(dir, 'rebuilt');
    const rr = cyclodump(['-R', rebuilt], { input: stream });
    expect(rr.code).to.equal(1);
    expect(fs.existsSync(rebuilt)).to.equal(false);
  });
});

// Refiltering a kdump-compressed dump that is not whole (issue 20 rows 6-8): a page the
// input lost stays lost in the output (a zeroed descriptor, as makedumpfile marks the pages
// it could not write), never a page of zeros; a page that cannot be decoded costs that page
// only, not the batch around it; an input that says it is incomplete gives an output that
// says so too. Every other page of the output is checked against the vmcore the input was
// made from, by our reader and by libkdumpfile.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { DUMP_DH_COMPRESSED_INCOMPLETE, DiskDumpHeader, PageDesc } from '../../src/format/diskdump';
import { KdumpVmcore, PageRecord } from '../../src/vmcore/kdump-vmcore';
import { errorLines, expectIncompleteKdump } from '../helpers/faults';
import { builtinVmcore, scratchDir } from '../helpers/fixtures';
import { verifyPagesAgainstVmcore } from '../helpers/compare';
import { cyclodump } from '../helpers/tools';

describe('refiltering an input that is not whole: lost stays lost, per page, incomplete stays incomplete', function () {
  this.timeout(300_000);
  let dir: string;
  let vmcore: string;
  let base: string;
  /** the base dump's stored (not zero-page) descriptors, in pfn order */
  let stored: PageRecord[];
  let basePages: number;

  before(function () {
    dir = scratchDir('refilter-input');
    vmcore = builtinVmcore();
    base = path.join(dir, 'base.kdump');
    const r = cyclodump(['-c', '-d', '31', vmcore, base]);
    expect(r.code, r.stderr).to.equal(0);
    const d = KdumpVmcore.open(base);
    try {
      const all = [...d.records()];
      basePages = all.length;
      const zeroOffset = d.offsetDesc + PageDesc.size * all.length;
      stored = all.filter((rec) => rec.offset !== zeroOffset && rec.flags !== 0);
    } finally {
      d.close();
    }
    expect(stored.length).to.be.greaterThan(1000);
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A copy of the base dump, changed by `edit(fd, dump)`. */
  function variant(name: string, edit: (fd: number, d: KdumpVmcore) => void): string {
    const file = path.join(dir, name);
    fs.copyFileSync(base, file);
    const d = KdumpVmcore.open(file);
    const fd = fs.openSync(file, 'r+');
    try {
      edit(fd, d);
    } finally {
      fs.closeSync(fd);
      d.close();
    }
    return file;
  }

  function descAt(d: KdumpVmcore, pfn: number): number {
    return d.offsetDesc + d.descIndex(pfn) * PageDesc.size;
  }

  function setStatus(fd: number, bits: number): void {
    const b = Buffer.alloc(4);
    fs.readSync(fd, b, 0, 4, DiskDumpHeader.offsets.status);
    b.writeUInt32LE(b.readUInt32LE(0) | bits);
    fs.writeSync(fd, b, 0, 4, DiskDumpHeader.offsets.status);
  }

  function refilter(input: string, out: string): ReturnType<typeof cyclodump> {
    return cyclodump(['-c', '-d', '31', input, out]);
  }

  it('row 6: descriptors with offset 0, size 0 and an offset past the end: those three pages lost, not zero pages; exit 1, marked incomplete', function () {
    const picks = [stored[Math.floor(stored.length / 4)], stored[Math.floor(stored.length / 2)], stored[Math.floor((3 * stored.length) / 4)]];
    const input = variant('lost.kdump', (fd, d) => {
      const desc = Buffer.alloc(PageDesc.size);
      for (const [i, rec] of picks.entries()) {
        const at = descAt(d, rec.pfn);
        fs.readSync(fd, desc, 0, desc.length, at);
        if (i === 0) desc.writeBigInt64LE(0n, PageDesc.offsets.offset);
        if (i === 1) desc.writeUInt32LE(0, PageDesc.offsets.size);
        if (i === 2) desc.writeBigInt64LE(BigInt(d.fileSize + 4096), PageDesc.offsets.offset);
        fs.writeSync(fd, desc, 0, desc.length, at);
      }
    });
    const out = path.join(dir, 'lost.out');
    const r = refilter(input, out);
    expect(r.code, r.stderr).to.equal(1);
    expect(errorLines(r.stderr).join('\n')).to.contain('3 dumpable pages could not be read');
    const check = expectIncompleteKdump(out, vmcore);
    expect(check.lost).to.equal(3);
    expect(check.pages).to.equal(basePages - 3);
    const d = KdumpVmcore.open(out);
    try {
      for (const rec of picks) expect(d.holds(rec.pfn), `pfn 0x${rec.pfn.toString(16)}`).to.equal('lost');
    } finally {
      d.close();
    }
  });

  it('row 7: one page that does not decode: that page lost, every other page of its batch written', function () {
    const bad = stored[Math.floor(stored.length / 3)];
    const input = variant('undecodable.kdump', (fd) => {
      // zlib data that fails its checksum
      fs.writeSync(fd, Buffer.alloc(Math.min(bad.size, 64), 0x5a), 0, Math.min(bad.size, 64), bad.offset + 2);
    });
    const out = path.join(dir, 'undecodable.out');
    const r = refilter(input, out);
    expect(r.code, r.stderr).to.equal(1);
    expect(errorLines(r.stderr).join('\n')).to.contain('1 dumpable pages could not be read');
    const check = expectIncompleteKdump(out, vmcore);
    expect(check.lost).to.equal(1);
    expect(check.pages).to.equal(basePages - 1);
  });

  it('row 8: an input whose header says incomplete: the output says so too, exit 1, every page right', function () {
    const input = variant('incomplete.kdump', (fd) => setStatus(fd, DUMP_DH_COMPRESSED_INCOMPLETE));
    const out = path.join(dir, 'incomplete.out');
    const r = refilter(input, out);
    expect(r.code, r.stderr).to.equal(1);
    expect(errorLines(r.stderr).join('\n')).to.match(/is an incomplete dump \(its header says so\): what it lacks, the dump made from it lacks too/);
    const check = expectIncompleteKdump(out, vmcore);
    expect(check.lost).to.equal(0);
    expect(check.pages).to.equal(basePages);
  });

  it('row 8: an input with zeroed descriptors, flagged, as makedumpfile leaves a full disk: those pages lost in the output too', function () {
    // 500 descriptors in a row from a third of the way in (the last ones of this dump hold
    // mem_section and mem_map, without which no dump level above 1 can be refiltered)
    const cut = 500;
    const input = variant('cut.kdump', (fd, d) => {
      const from = d.descIndex(stored[Math.floor(stored.length / 3)].pfn);
      fs.writeSync(fd, Buffer.alloc(cut * PageDesc.size), 0, cut * PageDesc.size, d.offsetDesc + from * PageDesc.size);
      setStatus(fd, DUMP_DH_COMPRESSED_INCOMPLETE);
    });
    const out = path.join(dir, 'cut.out');
    const r = refilter(input, out);
    expect(r.code, r.stderr).to.equal(1);
    expect(errorLines(r.stderr).join('\n')).to.contain(`is an incomplete dump (its header says so), ${cut} of its pages were lost`);
    const check = expectIncompleteKdump(out, vmcore);
    expect(check.lost).to.equal(cut);
    expect(check.pages).to.equal(basePages - cut);
  });

  it('a whole input refilters complete, exit 0 (the checks change nothing there)', function () {
    const out = path.join(dir, 'whole.out');
    const r = refilter(base, out);
    expect(r.code, r.stderr).to.equal(0);
    const d = KdumpVmcore.open(out);
    try {
      expect(d.incomplete).to.equal(false);
    } finally {
      d.close();
    }
    const check = verifyPagesAgainstVmcore(out, vmcore);
    expect(check.lost).to.equal(0);
    expect(check.pages).to.equal(basePages);
  });
});

// Issue 5: cyclodump stands in for makedumpfile wherever kdump scripts call it. Each mode
// is checked against makedumpfile 1.7.2 run live on the real 6.1 fixture, and split sets
// against libkdumpfile.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { KdumpVmcore } from '../../src/vmcore/kdump-vmcore';
import { expectSameBitmaps, expectSameElfDump, verifyPagesAgainstVmcore } from '../helpers/compare';
import { fixtureVmcore, reference, scratchDir } from '../helpers/fixtures';
import { BIN, FIXTURES } from '../helpers/paths';
import { cyclodump, libkdumpfileCheck, makedumpfile, parseReport } from '../helpers/tools';
import { sameFile, withFiles } from '../helpers/files';

describe('real-1g: the modes kdump scripts use, against makedumpfile 1.7.2', function () {
  let vmcore: string;
  let dir: string;
  let direct: string;
  let mdfDirect: string;

  before(function () {
    vmcore = fixtureVmcore('real-1g');
    dir = scratchDir('dropin');
    direct = path.join(dir, 'direct.lzo');
    mdfDirect = path.join(dir, 'mdf-direct.lzo');
    // makedumpfile's page order, so that files can be compared byte for byte
    expect(cyclodump(['-l', '-d', '31', '--pfn-order', vmcore, direct]).code).to.equal(0);
    expect(makedumpfile(['-l', '-d', '31', vmcore, mdfDirect]).code).to.equal(0);
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('-F and -R (dumps over ssh)', function () {
    it('makedumpfile -R rebuilds our -F stream into our direct dump', function () {
      const stream = path.join(dir, 'ours.flat');
      const rebuilt = path.join(dir, 'ours.rebuilt');
      expect(withFiles(process.execPath, [BIN, '-F', '-l', '-d', '31', '--pfn-order', vmcore], undefined, stream)).to.equal(0);
      expect(fs.readFileSync(stream).subarray(0, 12).toString('latin1')).to.equal('makedumpfile');
      expect(withFiles('makedumpfile', ['-R', rebuilt], stream)).to.equal(0);
      expectSameBitmaps(rebuilt, direct);
      expect(sameFile(rebuilt, direct)).to.equal(true);
    });

    it('our -R rebuilds makedumpfile\'s -F stream into its direct dump', function () {
      const stream = path.join(dir, 'mdf.flat');
      const rebuilt = path.join(dir, 'mdf.rebuilt');
      expect(withFiles('makedumpfile', ['-F', '-l', '-d', '31', vmcore], undefined, stream)).to.equal(0);
      expect(withFiles(process.execPath, [BIN, '-R', rebuilt], stream)).to.equal(0);
      expect(sameFile(rebuilt, mdfDirect)).to.equal(true);
    });

    it('-F with -E streams an ELF dump that rebuilds into our -E file', function () {
      const stream = path.join(dir, 'elf.flat');
      const rebuilt = path.join(dir, 'elf.rebuilt');
      const elf = path.join(dir, 'elf.direct');
      expect(withFiles(process.execPath, [BIN, '-F', '-E', '-d', '31', vmcore], undefined, stream)).to.equal(0);
      expect(cyclodump(['-E', '-d', '31', vmcore, elf]).code).to.equal(0);
      expect(withFiles('makedumpfile', ['-R', rebuilt], stream)).to.equal(0);
      expect(sameFile(rebuilt, elf)).to.equal(true);
    });
  });

  describe('--split and --reassemble', function () {
    // 16 MiB split blocks so that the 1 GiB fixture really spreads over the parts
    const parts = (p: string) => [0, 1, 2].map((i) => path.join(dir, `${p}.${i}`));

    it('makedumpfile --reassemble merges our parts into the unsplit dump; libkdumpfile reads the set', function () {
      const ours = parts('ours-split');
      const r = cyclodump(['--split', '-l', '-d', '31', '--splitblock-size', '16384', vmcore, ...ours]);
      expect(r.code, r.stderr).to.equal(0);
      const sizes = ours.map((p) => fs.statSync(p).size);
      expect(Math.min(...sizes), 'every part holds pages').to.be.greaterThan(2 << 20);
      for (const p of ours) {
        const d = KdumpVmcore.open(p);
        try {
          expect(d.isSplit).to.equal(true);
        } finally {
          d.close();
        }
      }
      const merged = path.join(dir, 'ours-split.merged');
      expect(makedumpfile(['--reassemble', ...ours, merged]).code).to.equal(0);
      expect(sameFile(merged, direct)).to.equal(true);
      const lk = libkdumpfileCheck([ours.join(','), vmcore, '--sample', '400', '--seed', '5']);
      expect(lk.code, lk.stderr).to.equal(0);
      const res = JSON.parse(lk.stdout);
      expect(res.mismatches).to.equal(0);
      expect(res.errors).to.equal(0);
      expect(res.compared).to.be.greaterThan(20);
      const d = KdumpVmcore.open(direct);
      try {
        (res.pfns as string[]).forEach((hex, i) => {
          expect(res.status[i], `pfn ${hex}`).to.equal(d.isDumpable(parseInt(hex, 16)) ? 'o' : 'x');
        });
      } finally {
        d.close();
      }
    });

    it('our --reassemble merges makedumpfile\'s parts into its unsplit dump', function () {
      const theirs = parts('mdf-split');
      expect(makedumpfile(['--split', '-l', '-d', '31', '--splitblock-size', '16384', vmcore, ...theirs]).code).to.equal(0);
      const merged = path.join(dir, 'mdf-split.merged');
      const r = cyclodump(['--reassemble', ...theirs, merged]);
      expect(r.code, r.stderr).to.equal(0);
      expect(sameFile(merged, mdfDirect)).to.equal(true);
    });
  });

  it('-E: the same PT_LOADs and bytes as makedumpfile -E, and the same report', function () {
    const ours = path.join(dir, 'ours.elf');
    const theirs = path.join(dir, 'mdf.elf');
    const a = cyclodump(['-E', '-d', '31', '--message-level', '31', vmcore, ours]);
    const b = makedumpfile(['-E', '-d', '31', '--message-level', '31', vmcore, theirs]);
    expectSameElfDump(ours, theirs, a, b);
    expect(a.stdout).to.match(/in ELF format : 0x0000000000005b10/);
    // size recorded when the fixture was made (reference.json, mode d31_elf)
    expect(fs.statSync(ours).size).to.equal(reference('real-1g').modes.find((m) => m.name === 'd31_elf')!.output_bytes);
  });

  it('--dump-dmesg: byte-identical to makedumpfile\'s log, from the vmcore and from our dump', function () {
    const ours = path.join(dir, 'dmesg.ours');
    const fromDump = path.join(dir, 'dmesg.dump');
    expect(cyclodump(['--dump-dmesg', vmcore, ours]).code).to.equal(0);
    expect(cyclodump(['--dump-dmesg', direct, fromDump]).code).to.equal(0);
    const expected = fs.readFileSync(path.join(FIXTURES, 'real-1g', 'dmesg.txt'));
    expect(fs.readFileSync(ours).equals(expected)).to.equal(true);
    expect(fs.readFileSync(fromDump).equals(expected)).to.equal(true);
  });

  it('refiltering with our tool: -d 1 dump to -d 31 equals makedumpfile\'s direct -d 31', function () {
    const d1 = path.join(dir, 'd1.lzo');
    const refiltered = path.join(dir, 'refiltered');
    expect(cyclodump(['-l', '-d', '1', vmcore, d1]).code).to.equal(0);
    const r = cyclodump(['-l', '-d', '31', '--pfn-order', d1, refiltered]);
    expect(r.code, r.stderr).to.equal(0);
    expect(sameFile(refiltered, mdfDirect)).to.equal(true);
  });

  it('-L: a size limit ends in an incomplete dump that stays readable, exit 1', function () {
    const out = path.join(dir, 'limited');
    const r = cyclodump(['-c', '-d', '1', '-L', '20M', vmcore, out]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/size limit/);
    expect(fs.statSync(out).size).to.be.at.most(20 << 20);
    const d = KdumpVmcore.open(out);
    try {
      expect(d.incomplete).to.equal(true);
    } finally {
      d.close();
    }
    const check = verifyPagesAgainstVmcore(out, vmcore);
    expect(check.pages).to.be.greaterThan(1000);
    expect(check.lost, 'descriptors past the limit read as lost').to.be.greaterThan(0);
  });

  it('-d 1,31 with -L: the first level does not fit, the second is written complete', function () {
    const out = path.join(dir, 'retry');
    const r = cyclodump(['-l', '-d', '1,31', '-L', '40M', '--pfn-order', '--message-level', '31', vmcore, out]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/^cyclodump: .* reached the size limit of .*; retrying with dump level 31 \(-d 1,31\)$/m);
    expect(sameFile(out, mdfDirect)).to.equal(true);
  });

  it('-i VMCOREINFO replaces the note and gives the same dump; a wrong release exits 2', function () {
    // the fixture's VMCOREINFO text, as recorded in reference.json
    const text = (reference('real-1g') as unknown as { vmcore: { vmcoreinfo: string[] } }).vmcore.vmcoreinfo.join('\n') + '\n';
    const info = path.join(dir, 'vmcoreinfo.txt');
    fs.writeFileSync(info, text);
    const out = path.join(dir, 'with-i');
    const r = cyclodump(['-l', '-d', '31', '-i', info, vmcore, out]);
    expect(r.code, r.stderr).to.equal(0);
    expectSameBitmaps(out, mdfDirect);
    const wrong = path.join(dir, 'wrong.txt');
    fs.writeFileSync(wrong, text.replace('OSRELEASE=6.1.0-56-amd64', 'OSRELEASE=6.1.0-99-amd64'));
    const w = cyclodump(['-l', '-d', '31', '-i', wrong, vmcore, path.join(dir, 'wrong.out')]);
    expect(w.code).to.equal(2);
    expect(w.stderr).to.match(/don't match/);
  });

  it('--dry-run writes nothing and reports the same pages', function () {
    const out = path.join(dir, 'dry');
    const r = cyclodump(['-l', '-d', '31', '--dry-run', '--message-level', '31', vmcore, out]);
    expect(r.code).to.equal(0);
    expect(fs.existsSync(out)).to.equal(false);
    expect(parseReport(r.stdout).remaining).to.equal(20978);
  });

  it('-e --work-dir: vmemmap pages of excluded memory leave the dump, status 0x10, pages still right', function () {
    const out = path.join(dir, 'e');
    const r = cyclodump(['-e', '--work-dir', dir, '-l', '-d', '31', vmcore, out]);
    expect(r.code, r.stderr).to.equal(0);
    const m = /Excluded (\d+) unused vmemmap pages/.exec(r.stdout);
    expect(m).to.not.equal(null);
    // 241,166 excluded pfns hold 64-byte struct pages: at most 241166*64/4096 ≈ 3768 pages
    expect(Number(m![1])).to.be.within(3000, 3768);
    const d = KdumpVmcore.open(out);
    try {
      expect(d.header.status & 0x10).to.equal(0x10);
    } finally {
      d.close();
    }
    expect(verifyPagesAgainstVmcore(out, vmcore).lost).to.equal(0);
    expect(cyclodump(['-e', '-l', '-d', '31', vmcore, path.join(dir, 'e2')]).code, '-e needs --work-dir').to.equal(1);
  });

  it('--mem-usage prints makedumpfile\'s table with the -d 31 figures', function () {
    const r = cyclodump(['--mem-usage', vmcore]);
    expect(r.code, r.stderr).to.equal(0);
    // figures from reference.json (mode d31_lzo): zero 7005, free 105916, remaining 20978
    expect(r.stdout).to.match(/ZERO\t\t7005\s/);
    expect(r.stdout).to.match(/FREE\t\t105916\s/);
    expect(r.stdout).to.match(/KERN_DATA\t20978\s/);
    expect(r.stdout).to.match(/Total pages on system:\t262144/);
  });

  it('refuses options it cannot honour instead of ignoring them', function () {
    const r = cyclodump(['-x', '/boot/vmlinux', '-l', '-d', '31', vmcore, path.join(dir, 'x')]);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.match(/-x VMLINUX is not supported/);
  });
});

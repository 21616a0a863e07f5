// Issue 17: arm64 kernels with 16 and 64 KiB pages, through the whole pipeline. No real
// dump of one is at hand; test/helpers/arm64-machine.ts writes a small arm64 machine of each
// (4 and 3 table levels) with struct pages of known classes. Debian's arm64 makedumpfile
// 1.7.2 (under qemu-user-static) and cyclodump must count what was placed, write the same
// -l and -E files (blocks of the page size), and store every page as the vmcore has it.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { KdumpVmcore } from '../../src/vmcore/kdump-vmcore';
import { PlacedClasses, writeArm64Machine } from '../helpers/arm64-machine';
import { expectSameBitmaps, verifyPagesAgainstVmcore } from '../helpers/compare';
import { scratchDir } from '../helpers/fixtures';
import { cyclodump, makedumpfileArm64, needMakedumpfileArm64, parseReport } from '../helpers/tools';
import { sameFile } from '../helpers/files';

for (const pageSize of [65536, 16384] as const) {
  describe(`arm64 with ${pageSize / 1024} KiB pages: the whole pipeline against arm64 makedumpfile`, function () {
    let dir: string;
    let vmcore: string;
    let placed: PlacedClasses;

    before(function () {
      needMakedumpfileArm64(this);
      dir = scratchDir(`arm64-${pageSize}`);
      vmcore = path.join(dir, 'vmcore');
      placed = writeArm64Machine(vmcore, pageSize);
    });

    after(function () {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    for (const level of [31, 1, 0]) {
      it(`-l -d ${level}: the classes placed, makedumpfile's file byte for byte, pages of ${pageSize} bytes`, function () {
        const ours = path.join(dir, `cd-${level}`);
        const theirs = path.join(dir, `mdf-${level}`);
        const a = cyclodump(['-l', '-d', String(level), '--pfn-order', '--message-level', '31', vmcore, ours]);
        const b = makedumpfileArm64(['-l', '-d', String(level), '--message-level', '31', vmcore, theirs]);
        expect(a.code, a.stderr).to.equal(0);
        expect(b.code).to.equal(0);
        const r = parseReport(a.stdout);
        expect(r).to.deep.equal(parseReport(b.stdout));
        expect(r.original).to.equal(placed.pages);
        expect(r.hwpoison, 'hwpoison: excluded whenever the scan runs').to.equal(placed.hwpoison);
        if (level === 31) {
          expect([r.free, r.cache, r.cachePrivate, r.user, r.zero]).to.deep.equal(
            [placed.free, placed.cache, placed.cachePrivate, placed.user, placed.zero]);
        }
        expect(sameFile(ours, theirs), 'byte-identical to makedumpfile -l').to.equal(true);
        const d = KdumpVmcore.open(ours);
        try {
          expect(d.header.block_size).to.equal(pageSize);
          expect(d.header.machine).to.equal('aarch64');
        } finally {
          d.close();
        }
        expect(verifyPagesAgainstVmcore(ours, vmcore).lost).to.equal(0);
        fs.rmSync(ours);
        if (level !== 31) fs.rmSync(theirs);
      });
    }

    for (const [codec, flags] of [['none', []], ['zlib', ['-c']], ['snappy', ['-p']], ['zstd', ['-z']]] as [string, string[]][]) {
      it(`${codec} -d 31: makedumpfile's bitmaps, every page equals the vmcore`, function () {
        const out = path.join(dir, `cd-31.${codec}`);
        const r = cyclodump([...flags, '-d', '31', vmcore, out]);
        expect(r.code, r.stderr).to.equal(0);
        expectSameBitmaps(out, path.join(dir, 'mdf-31'));
        const check = verifyPagesAgainstVmcore(out, vmcore);
        expect(check.lost).to.equal(0);
        expect(check.pages).to.be.greaterThan(0);
        if (codec !== 'none') expect(check.compressed).to.be.greaterThan(0);
        fs.rmSync(out);
      });
    }

    it('-E, --split and refiltering give makedumpfile\'s files', function () {
      const elf = [path.join(dir, 'cd.elf'), path.join(dir, 'mdf.elf')];
      expect(cyclodump(['-E', '-d', '31', vmcore, elf[0]]).code).to.equal(0);
      expect(makedumpfileArm64(['-E', '-d', '31', vmcore, elf[1]]).code).to.equal(0);
      expect(sameFile(elf[0], elf[1]), '-E').to.equal(true);
      const parts = [0, 1].map((i) => path.join(dir, `split.${i}`));
      expect(cyclodump(['--split', '-l', '-d', '31', vmcore, ...parts]).code).to.equal(0);
      const merged = path.join(dir, 'merged');
      expect(makedumpfileArm64(['--reassemble', ...parts, merged]).code).to.equal(0);
      expect(sameFile(merged, path.join(dir, 'mdf-31')), '--split reassembled').to.equal(true);
      const d0 = path.join(dir, 'd0');
      const refiltered = path.join(dir, 'refiltered');
      expect(cyclodump(['-l', '-d', '0', vmcore, d0]).code).to.equal(0);
      const r = cyclodump(['-l', '-d', '31', '--pfn-order', d0, refiltered]);
      expect(r.code, r.stderr).to.equal(0);
      expect(sameFile(refiltered, path.join(dir, 'mdf-31')), 'refiltered -d 0 to -d 31').to.equal(true);
    });
  });
}

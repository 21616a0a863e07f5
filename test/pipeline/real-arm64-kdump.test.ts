// Issue 17 on a real arm64 dump (test/fixtures/real-arm64-512m: Debian's 6.1 arm64 kernel
// crashed in a qemu-system-aarch64 guest): for every dump level and codec, cyclodump's
// kdump-compressed output has the bitmaps, descriptor count and report of Debian's arm64
// makedumpfile 1.7.2 (run live under qemu-user-static), -l is byte-identical to it, and
// every page it stores equals the vmcore's; libkdumpfile reads it.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { KdumpVmcore } from '../../src/vmcore/kdump-vmcore';
import { expectSameBitmaps, shapeOf, verifyPagesAgainstVmcore } from '../helpers/compare';
import { repoFixtureVmcore, repoReference, scratchDir } from '../helpers/fixtures';
import { cyclodump, libkdumpfileCheck, makedumpfileArm64, needMakedumpfileArm64, parseReport } from '../helpers/tools';

const FIXTURE = 'real-arm64-512m';
const LEVELS = [0, 1, 2, 4, 8, 16, 31];
const CODECS: [string, string[], number][] = [
  ['none', [], 0], ['zlib', ['-c'], 0x01], ['lzo', ['-l'], 0x02], ['snappy', ['-p'], 0x04], ['zstd', ['-z'], 0x20],
];

describe(`${FIXTURE} (Linux 6.1 arm64): kdump-compressed output against arm64 makedumpfile 1.7.2`, function () {
  let vmcore: string;
  let dir: string;

  before(function () {
    needMakedumpfileArm64(this);
    vmcore = repoFixtureVmcore(FIXTURE);
    dir = scratchDir('real-arm64-kdump');
  });

  after(function () {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the header is makedumpfile\'s: utsname machine aarch64, block size 4096, PHYS_OFFSET as phys_base', function () {
    const ours = path.join(dir, 'hdr-ours');
    const theirs = path.join(dir, 'hdr-theirs');
    expect(cyclodump(['-l', '-d', '31', vmcore, ours]).code).to.equal(0);
    expect(makedumpfileArm64(['-l', '-d', '31', vmcore, theirs]).code).to.equal(0);
    const a = KdumpVmcore.open(ours);
    const b = KdumpVmcore.open(theirs);
    try {
      expect(a.header).to.deep.equal(b.header);
      expect(a.sub).to.deep.equal(b.sub);
      expect(a.header.machine).to.equal('aarch64');
      expect(a.header.block_size).to.equal(4096);
      expect(a.sub.phys_base).to.equal(0x40000000n);
      expect(a.arch?.name).to.equal('arm64');
    } finally {
      a.close();
      b.close();
    }
  });

  for (const level of LEVELS) {
    describe(`-d ${level}`, function () {
      let ref: string;
      let refCounts: ReturnType<typeof parseReport>;

      before(function () {
        ref = path.join(dir, `mdf-d${level}.lzo`);
        const r = makedumpfileArm64(['-l', '-d', String(level), '--message-level', '31', vmcore, ref]);
        expect(r.code, r.stderr).to.equal(0);
        refCounts = parseReport(r.stdout);
        // the live tool agrees with the figures recorded when the fixture was made
        const recorded = repoReference(FIXTURE).modes.find((m) => m.args?.join(' ') === `-d ${level} -l`);
        if (recorded?.pages) {
          expect(refCounts.zero).to.equal(recorded.pages.zero);
          expect(refCounts.free).to.equal(recorded.pages.free);
          expect(refCounts.remaining).to.equal(recorded.pages.remaining);
        }
      });

      after(function () {
        if (ref) fs.rmSync(ref, { force: true });
      });

      for (const [codec, flags, statusBit] of CODECS) {
        it(`${codec}: same bitmaps, descriptors and report; every page equals the vmcore`, function () {
          const out = path.join(dir, `cd-d${level}.${codec}`);
          const r = cyclodump([...flags, '-d', String(level), '--message-level', '31', vmcore, out]);
          expect(r.code, r.stderr).to.equal(0);
          expect(parseReport(r.stdout)).to.deep.equal(refCounts);
          expectSameBitmaps(out, ref);
          const ours = shapeOf(out);
          const theirs = shapeOf(ref);
          expect(ours.dumpable, 'descriptors').to.equal(theirs.dumpable);
          expect(ours.dumpLevel).to.equal(level);
          expect(ours.status, 'header status: the codec asked for').to.equal(statusBit);
          const check = verifyPagesAgainstVmcore(out, vmcore);
          expect(check.pages + check.lost).to.equal(ours.dumpable);
          expect(check.lost).to.equal(0);
          if (level & 1) expect(check.zeroDescs, 'zero pages share one descriptor').to.equal(refCounts.zero);
          if (codec !== 'none') expect(check.compressed, 'pages stored compressed').to.be.greaterThan(0);
          if (codec === 'lzo') {
            expect(fs.readFileSync(out).equals(fs.readFileSync(ref)), 'byte-identical to makedumpfile -l').to.equal(true);
          }
          const lk = libkdumpfileCheck([out, vmcore, '--sample', '300', '--seed', String(level + 7)]);
          expect(lk.code, lk.stderr).to.equal(0);
          const res = JSON.parse(lk.stdout);
          expect(res.format).to.equal('diskdump');
          expect(res.mismatches).to.equal(0);
          expect(res.errors, res.last_error).to.equal(0);
          const d = KdumpVmcore.open(out);
          try {
            (res.pfns as string[]).forEach((hex, i) => {
              expect(res.status[i], `pfn ${hex}`).to.equal(d.isDumpable(parseInt(hex, 16)) ? 'o' : 'x');
            });
          } finally {
            d.close();
          }
          fs.rmSync(out, { force: true });
        });
      }
    });
  }
});

// Issue 17 on a real arm64 dump (test/fixtures/real-arm64-512m: Debian's 6.1 arm64 kernel
// crashed in a qemu-system-aarch64 guest): for every dump level and codec, cyclodump's
// kdump-compressed output has the bitmaps, descriptor count and report of Debian's arm64
// makedumpfile 1.7.2 (run live under qemu-user-static), -l is byte-identical to it, and
// every page it stores equals the vmcore's; libkdumpfile reads it.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { KdumpVmcore } from '../../src/vmcore/kdump-vmcore';
import { repoFixtureVmcore, repoReference, scratchDir } from '../helpers/fixtures';
import { describeLevelCodecMatrix } from '../helpers/kdump-matrix';
import { cyclodump, makedumpfileArm64, needMakedumpfileArm64 } from '../helpers/tools';

const FIXTURE = 'real-arm64-512m';

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

  describeLevelCodecMatrix({
    vmcore: () => vmcore, dir: () => dir, makedumpfile: makedumpfileArm64, recorded: () => repoReference(FIXTURE).modes,
  });
});

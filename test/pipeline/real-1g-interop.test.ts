// Issue 2: our dumps work with the rest of the tool chain. makedumpfile reads the kernel
// log out of them and refilters them; the refiltered dump equals makedumpfile's own.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { expectSameBitmaps } from '../helpers/compare';
import { fixtureVmcore, scratchDir } from '../helpers/fixtures';
import { FIXTURES } from '../helpers/paths';
import { cyclodump, makedumpfile } from '../helpers/tools';

describe('real-1g: makedumpfile reads and refilters cyclodump dumps', function () {
  let vmcore: string;
  let dir: string;
  let d1: string;

  before(function () {
    vmcore = fixtureVmcore('real-1g');
    dir = scratchDir('real-1g-interop');
    d1 = path.join(dir, 'd1.lzo');
    const r = cyclodump(['-l', '-d', '1', vmcore, d1]);
    expect(r.code, r.stderr).to.equal(0);
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('makedumpfile --dump-dmesg prints the same log from our dump as from the vmcore', function () {
    const fromDump = path.join(dir, 'dmesg.dump');
    const fromVmcore = path.join(dir, 'dmesg.vmcore');
    expect(makedumpfile(['--dump-dmesg', d1, fromDump]).code).to.equal(0);
    expect(makedumpfile(['--dump-dmesg', vmcore, fromVmcore]).code).to.equal(0);
    const a = fs.readFileSync(fromDump);
    expect(a.equals(fs.readFileSync(fromVmcore))).to.equal(true);
    // and it is the log recorded with the fixture, ending in the panic
    expect(a.equals(fs.readFileSync(path.join(FIXTURES, 'real-1g', 'dmesg.txt')))).to.equal(true);
    expect(a.toString('latin1')).to.match(/Kernel panic - not syncing: sysrq triggered crash/);
  });

  it('makedumpfile refilters our -d 1 dump to -d 31: same file as its direct -d 31', function () {
    const refiltered = path.join(dir, 'refiltered');
    const direct = path.join(dir, 'direct');
    const r = makedumpfile(['-l', '-d', '31', d1, refiltered]);
    expect(r.code, r.stderr).to.equal(0);
    expect(makedumpfile(['-l', '-d', '31', vmcore, direct]).code).to.equal(0);
    expectSameBitmaps(refiltered, direct);
    expect(fs.readFileSync(refiltered).equals(fs.readFileSync(direct))).to.equal(true);
  });
});

// Issue 8: `cyclodump info` on dumps of the real 6.1 fixture: the kernel's panic line and
// the end of its log read from the dump itself, and the header and bitmap figures.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { fixtureVmcore, scratchDir } from '../helpers/fixtures';
import { FIXTURES } from '../helpers/paths';
import { cyclodump } from '../helpers/tools';
import type { DumpInfo } from '../../src/inspect/info';

const PANIC = 'Kernel panic - not syncing: sysrq triggered crash';

describe('cyclodump info (real-1g)', function () {
  let vmcore: string;
  let dir: string;
  let dump: string;
  let report: { pages: Record<string, number> };

  before(function () {
    vmcore = fixtureVmcore('real-1g');
    dir = scratchDir('info');
    dump = path.join(dir, 'd31.lzo');
    const r = cyclodump(['-l', '-d', '31', '--message-level', '0', '--report-json', path.join(dir, 'r.json'), vmcore, dump]);
    expect(r.code, r.stderr).to.equal(0);
    report = JSON.parse(fs.readFileSync(path.join(dir, 'r.json'), 'utf8'));
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('prints the panic line and the end of the kernel log, read from the dump', function () {
    const r = cyclodump(['info', dump]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.equal('');
    expect(r.stdout).to.match(new RegExp(`^Panic +: ${PANIC}$`, 'm'));
    expect(r.stdout).to.match(/^Kernel release +: 6\.1\.0-56-amd64$/m);
    expect(r.stdout).to.match(/^Dump level +: 31$/m);
    expect(r.stdout).to.match(/^Compression +: lzo$/m);
    expect(r.stdout).to.match(/^Complete +: yes$/m);
    expect(r.stdout).to.match(/^Split part +: no$/m);
    const log = r.stdout.slice(r.stdout.indexOf('Kernel log (last 20 lines'));
    const lines = log.trim().split('\n').slice(1);
    expect(lines).to.have.length(20);
    // the same lines as makedumpfile --dump-dmesg took from the vmcore
    const ref = fs.readFileSync(path.join(FIXTURES, 'real-1g', 'dmesg.txt'), 'utf8').trimEnd().split('\n');
    expect(lines).to.deep.equal(ref.slice(-20).map((l) => `  ${l}`));
    expect(lines[lines.length - 1]).to.include(`---[ end ${PANIC} ]---`);
  });

  it('its figures are the bitmaps\' and the report\'s', function () {
    const r = cyclodump(['info', '--json', '--lines', '5', dump]);
    expect(r.code, r.stderr).to.equal(0);
    const info = JSON.parse(r.stdout) as DumpInfo;
    expect(info.format).to.equal('kdump-compressed');
    expect(info.panic).to.equal(PANIC);
    expect(info.log).to.have.length(5);
    expect(info.fileSize).to.equal(fs.statSync(dump).size);
    const p = report.pages;
    expect(info.pages.total).to.equal(p.total);
    expect(info.pages.present).to.equal(p.original);
    // dumped: every page with a descriptor, the zero ones included
    expect(info.pages.dumped).to.equal(p.remaining + p.zero);
    expect(info.pages.zeroDescriptors).to.equal(p.zero);
    expect(info.pages.excluded).to.equal(info.pages.present - info.pages.dumped);
    expect(info.pages.excluded).to.equal(p.excluded - p.zero);
    expect(info.pages.lost).to.equal(0);
    expect(info.complete).to.equal(true);
    expect(info.dumpLevel).to.equal(31);
    expect(info.codec).to.equal('lzo');
  });

  it('an incomplete dump says so and counts its lost pages', function () {
    const cut = path.join(dir, 'cut.lzo');
    const d = cyclodump(['-l', '-d', '31', '-L', '10M', '--message-level', '0', vmcore, cut]);
    expect(d.code).to.equal(1);
    const r = cyclodump(['info', '--json', cut]);
    expect(r.code, r.stderr).to.equal(0);
    const info = JSON.parse(r.stdout) as DumpInfo;
    expect(info.complete).to.equal(false);
    expect(info.pages.lost).to.be.greaterThan(0);
    expect(info.pages.lost).to.be.lessThan(info.pages.dumped);
    const text = cyclodump(['info', cut]).stdout;
    expect(text).to.match(/^Complete +: NO: the dump is incomplete/m);
  });

  it('a split part says which pfns it holds', function () {
    const a = path.join(dir, 'part1');
    const b = path.join(dir, 'part2');
    expect(cyclodump(['--split', '-l', '-d', '31', '--message-level', '0', vmcore, a, b]).code).to.equal(0);
    const ia = JSON.parse(cyclodump(['info', '--json', a]).stdout) as DumpInfo;
    const ib = JSON.parse(cyclodump(['info', '--json', b]).stdout) as DumpInfo;
    expect(ia.split).to.deep.equal({ startPfn: 0, endPfn: ib.split!.startPfn });
    expect(ib.split!.endPfn).to.equal(ib.pages.total);
    expect(ia.pages.inThisFile + ib.pages.inThisFile).to.equal(ia.pages.dumped);
    expect(ia.pages.dumped).to.equal(report.pages.remaining + report.pages.zero);
    expect(cyclodump(['info', a]).stdout).to.match(/^Split part +: yes, pfns 0x0-0x[0-9a-f]+ of a --split set/m);
  });

  it('reads an ELF vmcore too', function () {
    const r = cyclodump(['info', '--json', '--lines', '3', vmcore]);
    expect(r.code, r.stderr).to.equal(0);
    const info = JSON.parse(r.stdout) as DumpInfo;
    expect(info.format).to.equal('elf');
    expect(info.kernel.release).to.equal('6.1.0-56-amd64');
    expect(info.panic).to.equal(PANIC);
    expect(info.dumpLevel).to.equal(null);
    expect(info.pages.excluded).to.equal(0);
    expect(info.log[2]).to.include(`---[ end ${PANIC} ]---`);
  });

  it('refuses what is not a dump, in one line', function () {
    const junk = path.join(dir, 'junk');
    fs.writeFileSync(junk, 'not a dump at all');
    const r = cyclodump(['info', junk]);
    expect(r.code).to.equal(1);
    expect(r.stderr.trim().split('\n')).to.have.length(1);
    expect(r.stderr).to.match(/^cyclodump: .*junk/);
    const u = cyclodump(['info']);
    expect(u.code).to.equal(1);
    expect(u.stderr).to.include('Usage: cyclodump info');
  });
});

// Issue 6: page classes on Linux 6.12 checked against the kernel's own per-page flags.
// real-6.12-1g carries /proc/kpageflags saved a moment before the crash. cyclodump's
// classes are read back from its dumps the way the fixture README measured makedumpfile's:
// a pfn is "excluded as X" when it is present in the 1st bitmap and clear in the 2nd
// bitmap of a dump made with only X's level bit (-d 16 free, -d 2 cache, -d 4 cache and
// private cache, -d 8 user data).
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { LevelDumps, PageTruth, Truth, differences, dumpsAtLevels, readKpageflags } from '../helpers/kpageflags';
import { fixtureVmcore, scratchDir } from '../helpers/fixtures';
import { FIXTURES } from '../helpers/paths';
import { libkdumpfileCheck, makedumpfile, parseReport } from '../helpers/tools';

describe('real-6.12-1g (Linux 6.12): page classes against the kernel\'s /proc/kpageflags', function () {
  let vmcore: string;
  let dir: string;
  let t: PageTruth;
  let dumps: LevelDumps;

  before(function () {
    vmcore = fixtureVmcore('real-6.12-1g');
    dir = scratchDir('linux-6.12');
    const flags = readKpageflags(path.join(FIXTURES, 'real-6.12-1g', 'kpageflags.zst'));
    // kpageflags covers every pfn up to the 1 GiB PT_LOAD's end (fixture README)
    expect(flags.length).to.equal(262144);
    t = new PageTruth(flags);
    dumps = dumpsAtLevels(vmcore, dir, ['16', '2', '4', '8', '31']);
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const pfnsOf = (cls: Truth[]): number[] => t.pfnsOf(cls);

  it('every page the kernel marks buddy (free) is excluded as free, and nothing else is', function () {
    // no page needs makedumpfile's exception (a buddy order >= LENGTH(zone.free_area) is kept)
    expect(pfnsOf(['free']).length).to.equal(139511);
    expect(differences(t, ['free'], dumps.excluded['16'])).to.deep.equal({ missed: [], extra: [] });
    expect(dumps.reports['16'].free).to.equal(139511);
  });

  it('page cache: exactly the kernel\'s LRU pages that are not anonymous; private ones split by PG_private', function () {
    expect(pfnsOf(['cache', 'cache_private']).length).to.equal(37152);
    expect(differences(t, ['cache', 'cache_private'], dumps.excluded['4'])).to.deep.equal({ missed: [], extra: [] });
    // -d 2 leaves out only the non-private ones
    expect(differences(t, ['cache'], dumps.excluded['2']).extra).to.deep.equal([]);
    expect(dumps.reports['4'].cachePrivate).to.equal(pfnsOf(['cache_private']).length);
  });

  it('user data: anonymous pages and every hugetlb page (mapped or pooled), within the pages that changed after the snapshot', function () {
    const { missed, extra } = differences(t, ['anon', 'hugetlb'], dumps.excluded['8']);
    // The 30 anonymous pages of the process that saved kpageflags were freed (to the per-cpu
    // lists) before the panic: kernel truth says anon, the vmcore says free-but-not-buddy.
    // (fixture README "Ground truth", docs/kernel-page-layouts.md §5 "Capture skew")
    expect(missed.length).to.equal(30);
    expect(missed.every((p) => t.truth[p] === 'anon')).to.equal(true);
    expect(extra).to.deep.equal([]);
    expect(pfnsOf(['hugetlb']).every((p) => dumps.excluded['8'].has(p)), 'all 24 hugetlb folios').to.equal(true);
  });

  it('no slab, page-table or reserved page is ever excluded, even at -d 31', function () {
    for (const cls of ['slab', 'pgtable', 'reserved'] as Truth[]) {
      const hit = pfnsOf([cls]).filter((p) => dumps.excluded['31'].has(p));
      expect(hit, cls).to.deep.equal([]);
    }
  });

  it('-d 31 counts: truth within the capture skew; the dump is 19,469 pages, 1.7.2 writes 68,921', function () {
    const r = dumps.reports['31'];
    expect(r.free).to.equal(139511);
    expect(r.cache + r.cachePrivate).to.equal(37152);
    // user: kernel truth 62,046 (49,758 anon + 12,288 hugetlb) minus the 30 capture pages
    expect(r.user).to.equal(pfnsOf(['anon', 'hugetlb']).length - 30);
    // docs/kernel-page-layouts.md §6: 19,469 pages written with the right rules;
    // fixture README: makedumpfile 1.7.2 writes 68,921
    expect(r.remaining).to.equal(19469);
    const m = makedumpfile(['-l', '-d', '31', '--message-level', '31', vmcore, path.join(dir, 'mdf')]);
    expect(m.code).to.equal(0);
    expect(parseReport(m.stdout).remaining).to.equal(68921);
  });

  it('the dump opens in libkdumpfile with the vmcore\'s bytes, and makedumpfile reads its kernel log', function () {
    const dump = path.join(dir, 'd31');
    const lk = libkdumpfileCheck([dump, vmcore, '--sample', '300', '--seed', '12']);
    expect(lk.code, lk.stderr).to.equal(0);
    const res = JSON.parse(lk.stdout);
    expect(res.mismatches).to.equal(0);
    expect(res.errors).to.equal(0);
    expect(res.compared).to.be.greaterThan(10);
    const log = path.join(dir, 'dmesg');
    expect(makedumpfile(['--dump-dmesg', dump, log]).code).to.equal(0);
    expect(fs.readFileSync(log).equals(fs.readFileSync(path.join(FIXTURES, 'real-6.12-1g', 'dmesg.txt')))).to.equal(true);
  });
});

describe('kernels newer than the ones cyclodump knows', function () {
  it('get one line saying so; 6.1 and 6.12 get none', function () {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { newerKernelNote } = require('../../src/pipeline/prepare') as typeof import('../../src/pipeline/prepare');
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { kernelVersionCode } = require('../../src/kernel/page-layout') as typeof import('../../src/kernel/page-layout');
    expect(newerKernelNote('6.1.0-56-amd64', kernelVersionCode('6.1.0-56-amd64'))).to.equal(undefined);
    expect(newerKernelNote('6.12.117+deb12-amd64', kernelVersionCode('6.12.117+deb12-amd64'))).to.equal(undefined);
    const note = newerKernelNote('6.19.2-1-amd64', kernelVersionCode('6.19.2-1-amd64'));
    expect(note).to.match(/^Linux 6\.19\.2-1-amd64 is newer than the kernels cyclodump knows \(up to 6\.12\): pages whose class it cannot tell are kept$/);
  });
});

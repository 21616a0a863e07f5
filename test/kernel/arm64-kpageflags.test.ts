// Issue 17: page classes of the real arm64 dump checked against the kernel's own per-page
// flags, as linux-6.12.test.ts does for x86_64. real-arm64-512m carries /proc/kpageflags
// saved a moment before the crash (one entry per pfn from 0: the virt board's RAM starts
// at pfn 0x40000). A pfn is "excluded as X" when it is present in the 1st bitmap and
// clear in the 2nd of a dump made with only X's level bit.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { KdumpVmcore } from '../../src/vmcore/kdump-vmcore';
import { LevelDumps, PageTruth, Truth, differences, dumpsAtLevels, readKpageflags } from '../helpers/kpageflags';
import { repoFixtureDir, repoFixtureVmcore, scratchDir } from '../helpers/fixtures';

const FIXTURE = 'real-arm64-512m';
const EXCLUDABLE: Truth[] = ['free', 'hugetlb', 'anon', 'cache', 'cache_private'];

describe(`${FIXTURE} (Linux 6.1 arm64): page classes against the kernel's /proc/kpageflags`, function () {
  let vmcore: string;
  let dir: string;
  let t: PageTruth;
  let dumps: LevelDumps;
  let present: Set<number>;

  before(function () {
    vmcore = repoFixtureVmcore(FIXTURE);
    dir = scratchDir('arm64-kpageflags');
    const flags = readKpageflags(path.join(repoFixtureDir(FIXTURE), 'kpageflags.zst'));
    // one entry per pfn up to the end of RAM (1 GiB + 512 MiB)
    expect(flags.length).to.equal(393216);
    t = new PageTruth(flags);
    dumps = dumpsAtLevels(vmcore, dir, ['16', '2', '4', '8', '31']);
    const d = KdumpVmcore.open(path.join(dir, 'd31'));
    try {
      present = new Set<number>();
      for (let p = 0; p < d.maxMapnr; p++) if (d.inMemory(p)) present.add(p);
    } finally {
      d.close();
    }
  });

  after(function () {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the dump\'s memory is the kernel\'s: RAM from pfn 0x40000, nothing below it', function () {
    expect(present.size).to.equal(131072);
    expect([...present].every((p) => p >= 0x40000 && p < 0x60000)).to.equal(true);
    const holes = t.pfnsOf(['hole']);
    expect(holes.length).to.equal(0x40000);
    expect(holes.filter((p) => present.has(p))).to.deep.equal([]);
  });

  it('every page the kernel marks buddy (free) is excluded as free, and nothing else is', function () {
    expect(differences(t, ['free'], dumps.excluded['16'])).to.deep.equal({ missed: [], extra: [] });
    expect(dumps.reports['16'].free).to.equal(10136);
  });

  it('page cache: exactly the kernel\'s LRU pages that are not anonymous; private ones split by PG_private', function () {
    expect(differences(t, ['cache', 'cache_private'], dumps.excluded['4'])).to.deep.equal({ missed: [], extra: [] });
    expect(differences(t, ['cache'], dumps.excluded['2'])).to.deep.equal({ missed: [], extra: [] });
    expect(dumps.reports['4'].cache + dumps.reports['4'].cachePrivate).to.equal(42135);
    expect(dumps.reports['4'].cachePrivate).to.equal(t.pfnsOf(['cache_private']).length);
  });

  it('user data: anonymous pages and every hugetlb page, within the pages that changed after the snapshot', function () {
    const { missed, extra } = differences(t, ['anon', 'hugetlb'], dumps.excluded['8']);
    // the pages of the process that saved kpageflags, freed to the per-cpu lists before the
    // panic: the kernel said anon, the vmcore says free but not buddy (fixture README)
    expect(missed.length).to.equal(31);
    expect(missed.every((p) => t.truth[p] === 'anon')).to.equal(true);
    expect(extra).to.deep.equal([]);
    expect(t.pfnsOf(['hugetlb']).every((p) => dumps.excluded['8'].has(p)), 'all 24 hugetlb folios').to.equal(true);
  });

  it('-d 31 loses no kernel page and keeps under 1% of what the kernel says can go', function () {
    // (zero-filled pages keep their 2nd-bitmap bit in kdump files: none is counted here)
    const kernel = t.pfnsOf(['slab', 'pgtable', 'reserved', 'kernel', 'offline']);
    expect(kernel.filter((p) => dumps.excluded['31'].has(p)), 'kernel pages excluded').to.deep.equal([]);
    const excludable = t.pfnsOf(EXCLUDABLE);
    const kept = excludable.filter((p) => !dumps.excluded['31'].has(p));
    expect(excludable.length).to.equal(114317);
    expect(kept.length).to.equal(31);
    expect(kept.length / excludable.length).to.be.lessThan(0.01);
  });
});

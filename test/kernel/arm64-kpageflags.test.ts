// Issue 17: page classes of the real arm64 dump checked against the kernel's own per-page
// flags, as linux-6.12.test.ts does for x86_64. real-arm64-512m carries /proc/kpageflags
// saved a moment before the crash (one entry per pfn from 0: the virt board's RAM starts
// at pfn 0x40000). A pfn is "excluded as X" when it is present in the 1st bitmap and
// clear in the 2nd of a dump made with only X's level bit.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { KdumpVmcore } from '../../src/vmcore/kdump-vmcore';
import { repoFixtureDir, repoFixtureVmcore, scratchDir } from '../helpers/fixtures';
import { cyclodump, parseReport } from '../helpers/tools';

const FIXTURE = 'real-arm64-512m';
// /proc/kpageflags bits (include/uapi/linux/kernel-page-flags.h and the kernel-only ones)
const KPF_LRU = 5n;
const KPF_SLAB = 7n;
const KPF_BUDDY = 10n;
const KPF_ANON = 12n;
const KPF_HUGE = 17n;
const KPF_NOPAGE = 20n;
const KPF_OFFLINE = 23n;
const KPF_PGTABLE = 26n;
const KPF_RESERVED = 32n;
const KPF_PRIVATE = 35n;

type Truth = 'hole' | 'free' | 'hugetlb' | 'slab' | 'anon' | 'cache' | 'cache_private' | 'pgtable' | 'offline' | 'reserved' | 'kernel';
const EXCLUDABLE: Truth[] = ['free', 'hugetlb', 'anon', 'cache', 'cache_private'];

/** The kernel's class of each pfn (docs/kernel-page-layouts.md §5, first match). */
function truthOf(f: bigint): Truth {
  const has = (b: bigint) => ((f >> b) & 1n) === 1n;
  if (has(KPF_NOPAGE)) return 'hole';
  if (has(KPF_BUDDY)) return 'free';
  if (has(KPF_HUGE)) return 'hugetlb';
  if (has(KPF_SLAB)) return 'slab';
  if (has(KPF_ANON)) return 'anon';
  if (has(KPF_LRU)) return has(KPF_PRIVATE) ? 'cache_private' : 'cache';
  if (has(KPF_PGTABLE)) return 'pgtable';
  if (has(KPF_OFFLINE)) return 'offline';
  if (has(KPF_RESERVED)) return 'reserved';
  return 'kernel';
}

function kpageflags(): BigUint64Array {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { Decompressor } = require('zstd-napi') as typeof import('zstd-napi');
  const raw = new Decompressor().decompress(fs.readFileSync(path.join(repoFixtureDir(FIXTURE), 'kpageflags.zst')));
  const copy = new Uint8Array(raw.length);
  copy.set(raw);
  return new BigUint64Array(copy.buffer);
}

/** pfns present but not dumpable in a kdump file */
function excludedSet(file: string): Set<number> {
  const d = KdumpVmcore.open(file);
  try {
    const s = new Set<number>();
    for (let p = 0; p < d.maxMapnr; p++) if (d.inMemory(p) && !d.isDumpable(p)) s.add(p);
    return s;
  } finally {
    d.close();
  }
}

describe(`${FIXTURE} (Linux 6.1 arm64): page classes against the kernel's /proc/kpageflags`, function () {
  let vmcore: string;
  let dir: string;
  let truth: Truth[];
  let present: Set<number>;
  const excluded: Record<string, Set<number>> = {};
  const reports: Record<string, ReturnType<typeof parseReport>> = {};

  before(function () {
    vmcore = repoFixtureVmcore(FIXTURE);
    dir = scratchDir('arm64-kpageflags');
    const flags = kpageflags();
    // one entry per pfn up to the end of RAM (1 GiB + 512 MiB)
    expect(flags.length).to.equal(393216);
    truth = Array.from(flags, truthOf);
    for (const level of ['16', '2', '4', '8', '31']) {
      const out = path.join(dir, `d${level}`);
      const r = cyclodump(['-l', '-d', level, '--message-level', '31', vmcore, out]);
      expect(r.code, r.stderr).to.equal(0);
      reports[level] = parseReport(r.stdout);
      excluded[level] = excludedSet(out);
      if (level === '31') {
        const d = KdumpVmcore.open(out);
        try {
          present = new Set<number>();
          for (let p = 0; p < d.maxMapnr; p++) if (d.inMemory(p)) present.add(p);
        } finally {
          d.close();
        }
      }
      fs.rmSync(out);
    }
  });

  after(function () {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const pfnsOf = (cls: Truth[]): number[] => truth.flatMap((t, p) => (cls.includes(t) ? [p] : []));

  it('the dump\'s memory is the kernel\'s: RAM from pfn 0x40000, nothing below it', function () {
    expect(present.size).to.equal(131072);
    expect([...present].every((p) => p >= 0x40000 && p < 0x60000)).to.equal(true);
    const holes = pfnsOf(['hole']);
    expect(holes.length).to.equal(0x40000);
    expect(holes.filter((p) => present.has(p))).to.deep.equal([]);
  });

  it('every page the kernel marks buddy (free) is excluded as free, and nothing else is', function () {
    const free = pfnsOf(['free']);
    expect(free.length).to.equal(10136);
    expect(free.filter((p) => !excluded['16'].has(p))).to.deep.equal([]);
    expect([...excluded['16']].filter((p) => truth[p] !== 'free')).to.deep.equal([]);
    expect(reports['16'].free).to.equal(10136);
  });

  it('page cache: exactly the kernel\'s LRU pages that are not anonymous; private ones split by PG_private', function () {
    const cache = pfnsOf(['cache', 'cache_private']);
    expect(cache.filter((p) => !excluded['4'].has(p))).to.deep.equal([]);
    expect([...excluded['4']].filter((p) => truth[p] !== 'cache' && truth[p] !== 'cache_private')).to.deep.equal([]);
    expect([...excluded['2']].filter((p) => truth[p] !== 'cache')).to.deep.equal([]);
    expect(reports['4'].cache + reports['4'].cachePrivate).to.equal(cache.length);
    expect(reports['4'].cachePrivate).to.equal(pfnsOf(['cache_private']).length);
  });

  it('user data: anonymous pages and every hugetlb page, within the pages that changed after the snapshot', function () {
    const user = pfnsOf(['anon', 'hugetlb']);
    const missed = user.filter((p) => !excluded['8'].has(p));
    const extra = [...excluded['8']].filter((p) => truth[p] !== 'anon' && truth[p] !== 'hugetlb');
    // the pages of the process that saved kpageflags, freed to the per-cpu lists before the
    // panic: the kernel said anon, the vmcore says free but not buddy (fixture README)
    expect(missed.length).to.equal(31);
    expect(missed.every((p) => truth[p] === 'anon')).to.equal(true);
    expect(extra).to.deep.equal([]);
    expect(pfnsOf(['hugetlb']).every((p) => excluded['8'].has(p)), 'all 24 hugetlb folios').to.equal(true);
  });

  it('-d 31 loses no kernel page and keeps under 1% of what the kernel says can go', function () {
    const kernel = pfnsOf(['slab', 'pgtable', 'reserved', 'kernel', 'offline']).filter((p) => present.has(p));
    // (zero-filled pages keep their 2nd-bitmap bit in kdump files: nothing here is one of them)
    expect(kernel.filter((p) => excluded['31'].has(p)), 'kernel pages excluded').to.deep.equal([]);
    const excludable = pfnsOf(EXCLUDABLE);
    const kept = excludable.filter((p) => !excluded['31'].has(p));
    expect(kept.length / excludable.length).to.be.lessThan(0.01);
    expect(kept.length).to.equal(31);
  });
});

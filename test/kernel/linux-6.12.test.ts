// Issue 6: page classes on Linux 6.12 checked against the kernel's own per-page flags.
// real-6.12-1g carries /proc/kpageflags saved a moment before the crash. cyclodump's
// classes are read back from its dumps the way the fixture README measured makedumpfile's:
// a pfn is "excluded as X" when it is present in the 1st bitmap and clear in the 2nd
// bitmap of a dump made with only X's level bit (-d 16 free, -d 2 cache, -d 4 cache and
// private cache, -d 8 user data).
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { KdumpVmcore } from '../../src/vmcore/kdump-vmcore';
import { fixtureVmcore, scratchDir } from '../helpers/fixtures';
import { FIXTURES } from '../helpers/paths';
import { cyclodump, libkdumpfileCheck, makedumpfile, parseReport } from '../helpers/tools';

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
  const raw = new Decompressor().decompress(fs.readFileSync(path.join(FIXTURES, 'real-6.12-1g', 'kpageflags.zst')));
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

describe('real-6.12-1g (Linux 6.12): page classes against the kernel\'s /proc/kpageflags', function () {
  let vmcore: string;
  let dir: string;
  let truth: Truth[];
  const excluded: Record<string, Set<number>> = {};
  const reports: Record<string, ReturnType<typeof parseReport>> = {};

  before(function () {
    vmcore = fixtureVmcore('real-6.12-1g');
    dir = scratchDir('linux-6.12');
    const flags = kpageflags();
    // kpageflags covers every pfn up to the 1 GiB PT_LOAD's end (fixture README)
    expect(flags.length).to.equal(262144);
    truth = Array.from(flags, truthOf);
    for (const level of ['16', '2', '4', '8', '31']) {
      const out = path.join(dir, `d${level}`);
      const r = cyclodump(['-l', '-d', level, '--message-level', '31', vmcore, out]);
      expect(r.code, r.stderr).to.equal(0);
      reports[level] = parseReport(r.stdout);
      excluded[level] = excludedSet(out);
      if (level !== '31') fs.rmSync(out);
    }
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const pfnsOf = (cls: Truth[]): number[] => truth.flatMap((t, p) => (cls.includes(t) ? [p] : []));

  it('every page the kernel marks buddy (free) is excluded as free, and nothing else is', function () {
    // no page needs makedumpfile's exception (a buddy order >= LENGTH(zone.free_area) is kept)
    const free = pfnsOf(['free']);
    expect(free.length).to.equal(139511);
    expect(free.filter((p) => !excluded['16'].has(p))).to.deep.equal([]);
    expect([...excluded['16']].filter((p) => truth[p] !== 'free')).to.deep.equal([]);
    expect(reports['16'].free).to.equal(139511);
  });

  it('page cache: exactly the kernel\'s LRU pages that are not anonymous; private ones split by PG_private', function () {
    const cache = pfnsOf(['cache', 'cache_private']);
    expect(cache.length).to.equal(37152);
    expect(cache.filter((p) => !excluded['4'].has(p))).to.deep.equal([]);
    expect([...excluded['4']].filter((p) => truth[p] !== 'cache' && truth[p] !== 'cache_private')).to.deep.equal([]);
    // -d 2 leaves out only the non-private ones
    expect([...excluded['2']].filter((p) => truth[p] !== 'cache')).to.deep.equal([]);
    expect(reports['4'].cachePrivate).to.equal(pfnsOf(['cache_private']).length);
  });

  it('user data: anonymous pages and every hugetlb page (mapped or pooled), within the pages that changed after the snapshot', function () {
    const user = pfnsOf(['anon', 'hugetlb']);
    const missed = user.filter((p) => !excluded['8'].has(p));
    const extra = [...excluded['8']].filter((p) => truth[p] !== 'anon' && truth[p] !== 'hugetlb');
    // The 30 anonymous pages of the process that saved kpageflags were freed (to the per-cpu
    // lists) before the panic: kernel truth says anon, the vmcore says free-but-not-buddy.
    // (fixture README "Ground truth", docs/kernel-page-layouts.md §5 "Capture skew")
    expect(missed.length).to.equal(30);
    expect(missed.every((p) => truth[p] === 'anon')).to.equal(true);
    expect(extra).to.deep.equal([]);
    expect(pfnsOf(['hugetlb']).every((p) => excluded['8'].has(p)), 'all 24 hugetlb folios').to.equal(true);
  });

  it('no slab, page-table or reserved page is ever excluded, even at -d 31', function () {
    for (const cls of ['slab', 'pgtable', 'reserved'] as Truth[]) {
      const hit = pfnsOf([cls]).filter((p) => excluded['31'].has(p));
      expect(hit, cls).to.deep.equal([]);
    }
  });

  it('-d 31 counts: truth within the capture skew; the dump is 19,469 pages, 1.7.2 writes 68,921', function () {
    const r = reports['31'];
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

// The kernel's own page classes, from /proc/kpageflags saved by a fixture's guest before
// the crash, and a dump's exclusions to compare them with (test/kernel).
import * as fs from 'fs';
import * as path from 'path';
import { KdumpVmcore } from '../../src/vmcore/kdump-vmcore';
import { cyclodump, parseReport } from './tools';

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

export type Truth = 'hole' | 'free' | 'hugetlb' | 'slab' | 'anon' | 'cache' | 'cache_private' | 'pgtable' | 'offline' | 'reserved' | 'kernel';

/** The kernel's class of each pfn (docs/kernel-page-layouts.md §5, first match). */
export function truthOf(f: bigint): Truth {
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

/** A fixture's kpageflags.zst: one u64 per pfn from pfn 0. */
export function readKpageflags(zst: string): BigUint64Array {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { Decompressor } = require('zstd-napi') as typeof import('zstd-napi');
  const raw = new Decompressor().decompress(fs.readFileSync(zst));
  const copy = new Uint8Array(raw.length);
  copy.set(raw);
  return new BigUint64Array(copy.buffer);
}

/** pfns present but not dumpable in a kdump file */
export function excludedSet(file: string): Set<number> {
  const d = KdumpVmcore.open(file);
  try {
    const s = new Set<number>();
    for (let p = 0; p < d.maxMapnr; p++) if (d.inMemory(p) && !d.isDumpable(p)) s.add(p);
    return s;
  } finally {
    d.close();
  }
}

/** The kernel's classes of every pfn, and the pfns of some classes. */
export class PageTruth {
  readonly truth: Truth[];
  constructor(flags: BigUint64Array) {
    this.truth = Array.from(flags, truthOf);
  }

  pfnsOf(cls: Truth[]): number[] {
    return this.truth.flatMap((t, p) => (cls.includes(t) ? [p] : []));
  }
}

export interface LevelDumps {
  reports: Record<string, ReturnType<typeof parseReport>>;
  /** pfns excluded by a dump at each level */
  excluded: Record<string, Set<number>>;
}

/**
 * cyclodump -l at each level, read back (the -d 31 dump is kept as DIR/d31): a pfn is "excluded as X" when it is present in the
 * 1st bitmap and clear in the 2nd of a dump made with only X's level bit.
 */
export function dumpsAtLevels(vmcore: string, dir: string, levels: string[]): LevelDumps {
  const out: LevelDumps = { reports: {}, excluded: {} };
  for (const level of levels) {
    const file = path.join(dir, `d${level}`);
    const r = cyclodump(['-l', '-d', level, '--message-level', '31', vmcore, file]);
    if (r.code !== 0) throw new Error(`cyclodump -d ${level}: ${r.stderr}`);
    out.reports[level] = parseReport(r.stdout);
    out.excluded[level] = excludedSet(file);
    // the -d 31 dump stays for further checks (DIR/d31); the others only take room
    if (level !== '31') fs.rmSync(file);
  }
  return out;
}

/** pfns of `expected` not in `got`, and of `got` not of an allowed class */
export function differences(t: PageTruth, expected: Truth[], got: Set<number>, allowed = expected): { missed: number[]; extra: number[] } {
  return {
    missed: t.pfnsOf(expected).filter((p) => !got.has(p)),
    extra: [...got].filter((p) => !allowed.includes(t.truth[p])),
  };
}

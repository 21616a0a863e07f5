// `cyclodump map`: every pfn of a vmcore put in the class -d 31 gives it (kernel data kept,
// pages filled with zero, cache, private cache, user data, free, hwpoison/offline, hole),
// counted per cell of the pfn axis for the picture, and what each dump level would keep
// and write. Nothing is written but the picture.
//
// The classes come from one struct-page scan at level 31 (the scanner tells each exclusion,
// PageScanner.scan's onExclude) and one read of every page in memory for the zero test, so
// that levels 1 and 17, which keep some of what 31 leaves out, are counted too. Output sizes
// are the kdump-compressed layout (headers, bitmaps, one descriptor per page) plus page data,
// compressed sizes taken from a sample of pages of each class with the chosen codec.
import { CodecName, createCodec } from '../codec';
import {
  C_CACHE, C_CACHE_PRIVATE, C_FREE, C_HWPOISON, C_OFFLINE, C_USER, DL_EXCLUDE_CACHE, DL_EXCLUDE_CACHE_PRI, DL_EXCLUDE_FREE,
  DL_EXCLUDE_USER_DATA, DL_EXCLUDE_ZERO, MAX_DUMP_LEVEL,
} from '../filter/dump-level';
import { scanNeeded } from '../filter/page-scan';
import type { PageLayout } from '../kernel/page-layout';
import { PageDesc } from '../format/diskdump';
import { kdumpGeometry } from '../format/kdump-layout';
import { DumpError } from '../util/errors';
import { checkInterrupted } from '../util/interrupt';
import { sniffInput } from '../vmcore/open';
import type { Messages } from '../util/messages';
import { CycleBounds, cycleBounds } from '../pipeline/cycles';
import type { PageReader } from '../vmcore/page-reader';
import { DumpPlan, PreparedDump, closeJob, prepareDump } from '../pipeline/prepare';
import { Progress } from '../pipeline/progress';
import { CycleBuilder, cycleBuffer } from '../pipeline/scan-pass';

/** The classes of the picture, in drawing order. */
export const MAP_CATEGORIES = [
  { key: 'kernel', label: 'Kernel data (kept at every level)', color: '#d62728' },
  { key: 'zero', label: 'Pages filled with zero (level bit 1)', color: '#b0b0b0' },
  { key: 'cache', label: 'Non-private cache (bit 2)', color: '#1f77b4' },
  { key: 'cachePrivate', label: 'Private cache (bit 4)', color: '#7fb8e0' },
  { key: 'user', label: 'User process data (bit 8)', color: '#2ca02c' },
  { key: 'free', label: 'Free pages (bit 16)', color: '#f2b134' },
  { key: 'poison', label: 'Hwpoison / offline (always left out)', color: '#9467bd' },
  { key: 'hole', label: 'Not memory (hole, or no data in the vmcore)', color: '#3a3a3a' },
] as const;

export type MapCategory = (typeof MAP_CATEGORIES)[number]['key'];
export const NCAT = MAP_CATEGORIES.length;
/** each class's index in MAP_CATEGORIES */
const [K_KERNEL, K_ZERO, K_CACHE, K_CACHE_PRIVATE, K_USER, K_FREE, K_POISON, K_HOLE] = MAP_CATEGORIES.map((_c, i) => i);

/** scanner counter -> picture class */
const OF_COUNTER: Record<number, number> = {
  [C_CACHE]: K_CACHE, [C_CACHE_PRIVATE]: K_CACHE_PRIVATE, [C_USER]: K_USER, [C_FREE]: K_FREE,
  [C_HWPOISON]: K_POISON, [C_OFFLINE]: K_POISON,
};

/** the dump levels the map prices */
export const MAP_LEVELS = [0, 1, 16, 17, 31];
/** at most this many cells on the pfn axis */
export const MAX_CELLS = 4096;
/** pages compressed for the size estimate, at most (spread evenly over memory) */
export const SAMPLE_PAGES = 50_000;

export interface LevelEstimate {
  level: number;
  /** the report's "Remaining pages" at this level */
  pages: number;
  /** page descriptors (pages kept by the filters, zero pages included) */
  descriptors: number;
  /** estimated kdump-compressed file size in bytes */
  bytes: number;
  /** what the level leaves out, in words */
  leavesOut: string[];
}

export interface MemoryMap {
  input: string;
  release: string;
  pageSize: number;
  maxMapnr: number;
  /** the report's "Original pages" (max_mapnr minus the memory hole) */
  original: number;
  memoryHole: number;
  /** pages per class, as the -d 31 report counts them (kernel = its "Remaining pages") */
  counts: Record<MapCategory, number>;
  /** pages in memory without data in the vmcore (counted with the holes in the picture) */
  nodata: number;
  /** pages filled with zero among the pages of each class (for levels 1 and 17) */
  zeroIn: Record<MapCategory, number>;
  codec: CodecName;
  /** average stored bytes of a page of each class with that codec (sampled), and the sample size */
  avgStored: Record<MapCategory, number>;
  sampledPages: number;
  levels: LevelEstimate[];
  /** pfns per cell, and per cell the pages of each class (cells x NCAT) */
  cellPfns: number;
  cells: number;
  cellCounts: Float64Array;
}

export interface MapOptions {
  input: string;
  codec: CodecName;
  numThreads?: number;
  cyclicBufferKiB?: number;
  vmcoreinfoText?: string;
  /** pages to compress for the size estimate (default SAMPLE_PAGES) */
  samplePages?: number;
}

function record<T>(f: (k: MapCategory, i: number) => T): Record<MapCategory, T> {
  const r = {} as Record<MapCategory, T>;
  MAP_CATEGORIES.forEach((c, i) => { r[c.key] = f(c.key, i); });
  return r;
}

/** Counts of a map being built: per class, per cell, zero pages, compressed-size samples. */
class MapCounts {
  readonly cellPfns: number;
  readonly cells: number;
  readonly cellCounts: Float64Array;
  readonly counts = new Float64Array(NCAT);
  readonly zeroIn = new Float64Array(NCAT);
  readonly storedSum = new Float64Array(NCAT);
  readonly storedN = new Float64Array(NCAT);
  nodata = 0;
  /** pages with data seen, and every how many of them one is compressed for the sample */
  private seen = 0;
  private readonly stride: number;
  private readonly codec;
  private readonly cbuf: Uint8Array;

  constructor(readonly plan: DumpPlan, o: MapOptions) {
    let cellPfns = 1;
    while (Math.ceil(plan.maxMapnr / cellPfns) > MAX_CELLS) cellPfns *= 2;
    this.cellPfns = cellPfns;
    this.cells = Math.max(1, Math.ceil(plan.maxMapnr / cellPfns));
    this.cellCounts = new Float64Array(this.cells * NCAT);
    this.stride = Math.max(1, Math.ceil(this.original / (o.samplePages ?? SAMPLE_PAGES)));
    this.codec = createCodec(o.codec);
    this.cbuf = new Uint8Array(plan.pageSize);
  }

  get original(): number {
    return this.plan.maxMapnr - this.plan.pfns.memoryHole;
  }

  /** Every page with data in the cycle: zero or not, and one in `stride` compressed for the sample. */
  readPages(reader: PageReader, cy: CycleBounds, dump: Uint8Array, cls: Uint8Array, zero: Uint8Array): number {
    let pages = 0;
    reader.forEachDumpable(dump, cy.end - cy.start, cy.start, Infinity, (bit, off, ok) => {
      pages++;
      if (!ok) return;
      if (reader.isZero(off)) {
        zero[bit] = 1;
        return;
      }
      if (this.seen++ % this.stride !== 0) return;
      const k = cls[bit] === 0 ? K_KERNEL : cls[bit] - 1;
      this.storedSum[k] += this.stored(reader.buf, off);
      this.storedN[k]++;
    });
    return pages;
  }

  /** Bytes a page at buf[off] takes with the map's codec. */
  stored(buf: Buffer, off: number): number {
    const len = this.codec ? this.codec.compress(buf, off, this.plan.pageSize, this.cbuf, 0) : -1;
    return len > 0 ? len : this.plan.pageSize;
  }

  /** Each pfn of the cycle into its class and cell. */
  tally(cy: CycleBounds, mem: Uint8Array, dump: Uint8Array, cls: Uint8Array, zero: Uint8Array): void {
    for (let i = 0; i < cy.end - cy.start; i++) {
      let k: number;
      if ((mem[i >> 3] & (1 << (i & 7))) === 0) {
        k = K_HOLE;
      } else if ((dump[i >> 3] & (1 << (i & 7))) === 0) {
        k = K_HOLE;
        this.nodata++;
      } else if (cls[i] === 0) {
        k = zero[i] ? K_ZERO : K_KERNEL;
      } else {
        k = cls[i] - 1;
        if (zero[i]) this.zeroIn[k]++;
      }
      this.counts[k]++;
      this.cellCounts[Math.floor((cy.start + i) / this.cellPfns) * NCAT + k]++;
    }
  }

  /** Average stored bytes of a page of class k: its sample, else the average of all samples. */
  avg(k: number): number {
    let allSum = 0;
    let allN = 0;
    for (let i = 0; i < NCAT; i++) { allSum += this.storedSum[i]; allN += this.storedN[i]; }
    if (this.storedN[k] > 0) return this.storedSum[k] / this.storedN[k];
    return allN > 0 ? allSum / allN : this.plan.pageSize;
  }

  get sampled(): number {
    return this.storedN.reduce((a, n) => a + n, 0);
  }
}

/**
 * The classes of every pfn, cycle by cycle, with pass 1's cycle loop: the scanner runs on
 * this thread at level 31 and says which class each exclusion is; exclusions carried in
 * from earlier cycles keep theirs. Then every page with data is read.
 */
async function classify(prep: PreparedDump, m: MapCounts, progress: Progress): Promise<void> {
  const { plan } = prep;
  const { cyclePfns } = plan.cycles;
  const scanner = plan.scan ? prep.local.scanner : undefined;
  /** per pfn of the cycle: 0 kept by the filters, else 1 + picture class */
  const cls = new Uint8Array(cyclePfns);
  const zero = new Uint8Array(cyclePfns);
  const mem = new Uint8Array(cyclePfns / 8);
  const dump = new Uint8Array(cyclePfns / 8);
  let cy: CycleBounds = cycleBounds(cyclePfns, plan.maxMapnr, 0);
  const mark = (a: number, b: number, counter: number): void => {
    const from = Math.max(a, cy.start);
    const to = Math.min(b, cy.end);
    if (to > from) cls.fill((OF_COUNTER[counter] ?? K_POISON) + 1, from - cy.start, to - cy.start);
  };
  const builder = new CycleBuilder(plan, async (t) =>
    scanner!.scan(t.sliceStart, t.sliceEnd, new Uint8Array(t.bitmap, t.byteOffset, t.byteLength), mark));
  const bm = cycleBuffer(plan);
  progress.begin({
    pfns: plan.maxMapnr, presentPages: m.original, structScan: !!scanner, zeroScan: true, write: false, codec: 'none', keptPrior: 1,
  });
  for (let c = 0; c < plan.numCycles; c++) {
    checkInterrupted();
    cy = cycleBounds(cyclePfns, plan.maxMapnr, c);
    const bytes = Math.ceil((cy.end - cy.start) / 8);
    mem.fill(0);
    dump.fill(0);
    plan.pfns.fillMemory(mem.subarray(0, bytes), cy.start);
    plan.pfns.fillDumpable(dump.subarray(0, bytes), cy.start);
    cls.fill(0);
    zero.fill(0);
    for (const r of builder.carried) mark(r.start, r.end, r.counter);
    await builder.build(cy, bm, (pfns, memMapBytes) => progress.scanned(pfns, memMapBytes));
    const pages = m.readPages(prep.local.reader, cy, dump, cls, zero);
    progress.zeroScanned(pages, pages * plan.pageSize);
    m.tally(cy, mem, dump, cls, zero);
  }
}

/** What each of MAP_LEVELS would keep and write, from the counts. */
function estimateLevels(m: MapCounts, layout: PageLayout | undefined, noteSize: number): LevelEstimate[] {
  const { pageSize, maxMapnr } = m.plan;
  const zeroStored = m.stored(Buffer.alloc(pageSize), 0);
  const geometry = kdumpGeometry(pageSize, noteSize, maxMapnr);
  const excluded = (k: number, level: number): boolean => {
    switch (k) {
      case K_CACHE: return (level & (DL_EXCLUDE_CACHE | DL_EXCLUDE_CACHE_PRI)) !== 0;
      case K_CACHE_PRIVATE: return (level & DL_EXCLUDE_CACHE_PRI) !== 0;
      case K_USER: return (level & DL_EXCLUDE_USER_DATA) !== 0;
      case K_FREE: return (level & DL_EXCLUDE_FREE) !== 0;
      case K_POISON: return scanNeeded(layout, level);
      default: return false;
    }
  };
  return MAP_LEVELS.map((level) => {
    const zeroShared = (level & DL_EXCLUDE_ZERO) !== 0;
    let descriptors = 0;
    let zeros = 0;
    let data = 0;
    const leavesOut: string[] = [];
    if (zeroShared) leavesOut.push('zero');
    for (const k of [K_KERNEL, K_ZERO, K_CACHE, K_CACHE_PRIVATE, K_USER, K_FREE, K_POISON]) {
      if (excluded(k, level)) {
        if (m.counts[k] > 0 || k !== K_POISON) leavesOut.push(MAP_CATEGORIES[k].key);
        continue;
      }
      descriptors += m.counts[k];
      zeros += m.zeroIn[k];
      data += (m.counts[k] - m.zeroIn[k]) * (k === K_ZERO ? 0 : m.avg(k));
    }
    data += zeroShared ? pageSize : zeros * zeroStored;
    const pages = descriptors - (zeroShared ? zeros : 0) + m.nodata;
    return { level, pages, descriptors, bytes: Math.round(geometry.offsetDesc + PageDesc.size * descriptors + data), leavesOut };
  });
}

export async function buildMemoryMap(o: MapOptions, msgs: Messages): Promise<MemoryMap> {
  if (sniffInput(o.input) === 'kdump') {
    throw new DumpError('map-kdump-input',
      `${o.input} is a kdump-compressed dump: the pages it left out are gone, so map needs the vmcore itself (for what the dump holds: cyclodump info)`);
  }
  // the classes are those of a -d 31 run; no worker threads: the scan runs here
  const prep = prepareDump({
    input: o.input, dumpLevel: MAX_DUMP_LEVEL, codec: 'none', numThreads: 1, cyclicBufferKiB: o.cyclicBufferKiB, vmcoreinfoText: o.vmcoreinfoText,
  }, msgs);
  const progress = new Progress(msgs, { label: 'Scanning' });
  try {
    const m = new MapCounts(prep.plan, o);
    await classify(prep, m, progress);
    progress.finish();
    m.zeroIn[K_ZERO] = m.counts[K_ZERO];
    const { pageSize, maxMapnr, pfns } = prep.plan;
    return {
      input: o.input, release: prep.kernel.release, pageSize, maxMapnr, original: m.original, memoryHole: pfns.memoryHole,
      counts: record((_k, i) => m.counts[i]), nodata: m.nodata, zeroIn: record((_k, i) => m.zeroIn[i]),
      codec: o.codec, avgStored: record((_k, i) => Math.round(m.avg(i))), sampledPages: m.sampled,
      levels: estimateLevels(m, prep.kernel.layout, prep.input.noteBytes.length),
      cellPfns: m.cellPfns, cells: m.cells, cellCounts: m.cellCounts,
    };
  } finally {
    progress.stop();
    await closeJob(prep);
  }
}

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
import { C_CACHE, C_CACHE_PRIVATE, C_FREE, C_HWPOISON, C_OFFLINE, C_USER } from '../filter/dump-level';
import { scanNeeded } from '../filter/page-scan';
import { PageDesc } from '../format/diskdump';
import { kdumpGeometry } from '../format/kdump-layout';
import { DumpError } from '../util/errors';
import { checkInterrupted } from '../util/interrupt';
import { sniffInput } from '../vmcore/open';
import type { Messages } from '../util/messages';
import { closeJob, prepareDump } from '../pipeline/prepare';

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
const K_KERNEL = 0;
const K_ZERO = 1;
const K_CACHE = 2;
const K_CACHE_PRIVATE = 3;
const K_USER = 4;
const K_FREE = 5;
const K_POISON = 6;
const K_HOLE = 7;

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

export async function buildMemoryMap(o: MapOptions, msgs: Messages): Promise<MemoryMap> {
  if (sniffInput(o.input) === 'kdump') {
    throw new DumpError('map-kdump-input',
      `${o.input} is a kdump-compressed dump: the pages it left out are gone, so map needs the vmcore itself (for what the dump holds: cyclodump info)`);
  }
  // the classes are those of a -d 31 run; no worker threads: the scan below runs here
  const job = prepareDump({ input: o.input, dumpLevel: 31, codec: 'none', numThreads: 1, cyclicBufferKiB: o.cyclicBufferKiB, vmcoreinfoText: o.vmcoreinfoText }, msgs);
  try {
    const pageSize = job.pageSize;
    const maxMapnr = job.maxMapnr;
    let cellPfns = 1;
    while (Math.ceil(maxMapnr / cellPfns) > MAX_CELLS) cellPfns *= 2;
    const cells = Math.max(1, Math.ceil(maxMapnr / cellPfns));
    const cellCounts = new Float64Array(cells * NCAT);
    const counts = new Float64Array(NCAT);
    const zeroIn = new Float64Array(NCAT);
    const storedSum = new Float64Array(NCAT);
    const storedN = new Float64Array(NCAT);
    let nodata = 0;
    const codec = createCodec(o.codec);
    const cbuf = new Uint8Array(pageSize);
    const original = maxMapnr - job.sets.memoryHole;
    const stride = Math.max(1, Math.ceil(original / (o.samplePages ?? SAMPLE_PAGES)));
    let seen = 0;

    const cyclePfns = job.plan.cyclePfns;
    const mem = new Uint8Array(cyclePfns / 8);
    const dump = new Uint8Array(cyclePfns / 8);
    const scratch = new Uint8Array(cyclePfns / 8);
    /** per pfn of the cycle: 0 kept by the filters, else 1 + picture class */
    const cls = new Uint8Array(cyclePfns);
    const zero = new Uint8Array(cyclePfns);
    let carried: [number, number, number][] = [];
    const scanner = job.scanSetup ? job.local.scanner : undefined;
    const reader = job.local.reader;
    job.progress.label = 'Scanning';
    job.progress.begin({
      pfns: maxMapnr, presentPages: original, structScan: !!scanner, zeroScan: true, write: false, codec: 'none', keptPrior: 1,
    });

    for (let c = 0; c < job.numCycles; c++) {
      checkInterrupted();
      const start = c * cyclePfns;
      const end = Math.min(start + cyclePfns, maxMapnr);
      const n = end - start;
      const bytes = Math.ceil(n / 8);
      mem.fill(0);
      dump.fill(0);
      job.sets.fillMemory(mem.subarray(0, bytes), start);
      job.sets.fillDumpable(dump.subarray(0, bytes), start);
      cls.fill(0, 0, n);
      zero.fill(0, 0, n);
      const next: [number, number, number][] = [];
      const mark = (a: number, b: number, k: number): void => {
        const from = Math.max(a, start);
        const to = Math.min(b, end);
        if (to > from) cls.fill(k + 1, from - start, to - start);
        if (b > end) next.push([end, b, k]);
      };
      for (const [a, b, k] of carried) mark(a, b, k);
      if (scanner) {
        scratch.set(dump);
        for (let s = start; s < end; s += job.plan.slicePfns) {
          const e = Math.min(s + job.plan.slicePfns, end);
          const view = scratch.subarray((s - start) / 8, Math.ceil((e - start) / 8));
          const r = scanner.scan(s, e, view, (a, b, counter) => mark(a, b, OF_COUNTER[counter] ?? K_POISON));
          job.progress.scanned(e - s, r.memMapBytes);
        }
      } else {
        job.progress.scanned(n, 0);
      }
      carried = next;
      // every page with data: zero or not, and a sample compressed with the codec
      let pages = 0;
      reader.forEachDumpable(dump, n, start, Infinity, (bit, off, ok) => {
        pages++;
        if (!ok) return;
        if (reader.isZero(off)) {
          zero[bit] = 1;
          return;
        }
        if (seen++ % stride !== 0) return;
        const k = cls[bit] === 0 ? K_KERNEL : cls[bit] - 1;
        let stored = pageSize;
        if (codec) {
          const len = codec.compress(reader.buf, off, pageSize, cbuf, 0);
          if (len > 0) stored = len;
        }
        storedSum[k] += stored;
        storedN[k]++;
      });
      job.progress.zeroScanned(pages, pages * pageSize);
      // tally per class and per cell
      for (let i = 0; i < n; i++) {
        const pfn = start + i;
        let k: number;
        if ((mem[i >> 3] & (1 << (i & 7))) === 0) {
          k = K_HOLE;
        } else if ((dump[i >> 3] & (1 << (i & 7))) === 0) {
          k = K_HOLE;
          nodata++;
        } else if (cls[i] === 0) {
          k = zero[i] ? K_ZERO : K_KERNEL;
        } else {
          k = cls[i] - 1;
          if (zero[i]) zeroIn[k]++;
        }
        counts[k]++;
        cellCounts[Math.floor(pfn / cellPfns) * NCAT + k]++;
      }
    }
    job.progress.finish();
    zeroIn[K_ZERO] = counts[K_ZERO];

    // stored size of a page of each class: its sample, else the average of all samples
    let allSum = 0;
    let allN = 0;
    for (let k = 0; k < NCAT; k++) { allSum += storedSum[k]; allN += storedN[k]; }
    const fallback = allN > 0 ? allSum / allN : pageSize;
    const avg = (k: number): number => (storedN[k] > 0 ? storedSum[k] / storedN[k] : fallback);
    let zeroStored = pageSize;
    if (codec) {
      const len = codec.compress(Buffer.alloc(pageSize), 0, pageSize, cbuf, 0);
      if (len > 0) zeroStored = len;
    }
    const geometry = kdumpGeometry(pageSize, job.vm.noteBytes.length, maxMapnr);
    const layout = job.km.layout;
    const excluded = (k: number, level: number): boolean => {
      switch (k) {
        case K_CACHE: return (level & 6) !== 0;
        case K_CACHE_PRIVATE: return (level & 4) !== 0;
        case K_USER: return (level & 8) !== 0;
        case K_FREE: return (level & 16) !== 0;
        case K_POISON: return scanNeeded(layout, level);
        default: return false;
      }
    };
    const levels: LevelEstimate[] = MAP_LEVELS.map((level) => {
      let descriptors = 0;
      let zeros = 0;
      let data = 0;
      const leavesOut: string[] = [];
      if (level & 1) leavesOut.push('zero');
      for (const k of [K_KERNEL, K_ZERO, K_CACHE, K_CACHE_PRIVATE, K_USER, K_FREE, K_POISON]) {
        if (excluded(k, level)) {
          if (counts[k] > 0 || k !== K_POISON) leavesOut.push(MAP_CATEGORIES[k].key);
          continue;
        }
        descriptors += counts[k];
        zeros += zeroIn[k];
        data += (counts[k] - zeroIn[k]) * (k === K_ZERO ? 0 : avg(k));
      }
      data += level & 1 ? pageSize : zeros * zeroStored;
      const pages = descriptors - (level & 1 ? zeros : 0) + nodata;
      return { level, pages, descriptors, bytes: Math.round(geometry.offsetDesc + PageDesc.size * descriptors + data), leavesOut };
    });
    return {
      input: o.input, release: job.km.release, pageSize, maxMapnr, original, memoryHole: job.sets.memoryHole,
      counts: record((_k, i) => counts[i]), nodata, zeroIn: record((_k, i) => zeroIn[i]),
      codec: o.codec, avgStored: record((_k, i) => Math.round(avg(i))), sampledPages: allN,
      levels, cellPfns, cells, cellCounts,
    };
  } finally {
    await closeJob(job);
  }
}

// How the pfn space is cut: makedumpfile's cyclic-buffer rule (which also decides how its
// 1st bitmap marks partial pages, so we must follow it to be bit-identical), our cycles
// (bounded bitmap memory) and the slices of a cycle that workers scan in parallel.
// Spec: page-filtering.md §6 (makedumpfile initial, calculate_cyclic_buffer_size).
import * as fs from 'fs';
import type { BitmapMode } from '../filter/pfn-ranges';

const MAXIMUM_BUFSIZE = 4 << 20;
/** makedumpfile's per-thread memory reservation */
const THREAD_REGION = 200 * 1024;
/** mem_map scanned by one task at most: 8 sections (16 MiB of struct pages) */
const MAX_SLICE_SECTIONS = 8;

export interface CyclePlanInput {
  /** max_mapnr from the PT_LOADs (makedumpfile sizes its buffer from it) */
  maxMapnrLoads: number;
  /** max_mapnr after lowering to the last mem_map section: the pfn space we process */
  maxMapnr: number;
  pagesPerSection: number;
  /** --cyclic-buffer in KiB */
  cyclicBufferKiB?: number;
  /** --num-threads as given (makedumpfile trims its buffer for threads) */
  numThreadsOption: number;
  /** output files (--split) */
  numDumpfiles: number;
  /** modes in which makedumpfile always uses one cycle with a bitmap file (--work-dir, refiltering...) */
  forceOneCycle: boolean;
  /** bytes of free memory (MemFree); read from /proc/meminfo when absent */
  freeMemory?: number;
  /** worker threads that will scan, to size slices */
  threads: number;
}

export interface CyclePlan {
  /** how makedumpfile would build its 1st bitmap for this run */
  mode: BitmapMode;
  /** makedumpfile's cyclic buffer size in bytes (one bitmap of one cycle) */
  bufsize: number;
  /** pfns per cycle: a multiple of the section size */
  cyclePfns: number;
  /** pfns per scan task: whole sections */
  slicePfns: number;
  messages: string[];
}

export function freeMemoryBytes(): number {
  try {
    const m = /^MemFree:\s+(\d+)\s+kB/m.exec(fs.readFileSync('/proc/meminfo', 'latin1'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export function planCycles(p: CyclePlanInput): CyclePlan {
  const messages: string[] = [];
  let mode: BitmapMode = 'cyclic';
  let bufsize: number;
  const free = () => p.freeMemory ?? freeMemoryBytes();
  if (p.forceOneCycle) {
    mode = 'one-cycle';
    bufsize = Math.ceil(p.maxMapnr / 8);
  } else if (p.cyclicBufferKiB === undefined) {
    let limit = Math.floor(free() * 0.6);
    if (p.numThreadsOption > 0 && limit > MAXIMUM_BUFSIZE
        && (limit - MAXIMUM_BUFSIZE) / p.numThreadsOption < THREAD_REGION) {
      const t = Math.floor((limit - MAXIMUM_BUFSIZE) / THREAD_REGION);
      limit -= THREAD_REGION * t;
    }
    let bitmapSize = Math.floor((p.maxMapnrLoads * 2) / 8);
    if (p.numDumpfiles > 1) bitmapSize = Math.floor(bitmapSize / p.numDumpfiles);
    bufsize = Math.min(limit, MAXIMUM_BUFSIZE, bitmapSize);
    if (bufsize * 8 >= p.maxMapnrLoads * 2) mode = 'one-cycle';
  } else {
    bufsize = p.cyclicBufferKiB * 1024;
    let freeMem = free();
    if (p.numDumpfiles > 1) freeMem = Math.floor(freeMem / p.numDumpfiles);
    if (bufsize > freeMem && freeMem > 0) {
      messages.push('Specified buffer size is larger than free memory.',
        `The buffer size for the cyclic mode will be truncated to ${freeMem} byte.`);
      bufsize = freeMem;
    }
  }
  if (bufsize <= 0) bufsize = p.pagesPerSection / 8;
  // Our cycles are whole sections so that slices never split a section; a buffer smaller
  // than one section's bitmap (4 KiB for 128 MiB sections) is rounded up to it.
  const sections = Math.max(1, Math.floor((bufsize * 8) / p.pagesPerSection));
  const totalSections = Math.max(1, Math.ceil(p.maxMapnr / p.pagesPerSection));
  const cycleSections = Math.min(sections, totalSections);
  const cyclePfns = cycleSections * p.pagesPerSection;
  // enough slices to keep every thread busy, none bigger than MAX_SLICE_SECTIONS
  const wanted = Math.max(1, p.threads * 4);
  const sliceSections = Math.max(1, Math.min(MAX_SLICE_SECTIONS, Math.ceil(cycleSections / wanted)));
  return { mode, bufsize, cyclePfns, slicePfns: sliceSections * p.pagesPerSection, messages };
}

/** Cycle `index`'s pfns: [start, end). */
export interface CycleBounds {
  index: number;
  start: number;
  end: number;
}

export function cycleBounds(cyclePfns: number, maxMapnr: number, index: number): CycleBounds {
  const start = index * cyclePfns;
  return { index, start, end: Math.min(start + cyclePfns, maxMapnr) };
}

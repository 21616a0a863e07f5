// Pass 2 work unit: the dumpable pages of a pfn range, read in long runs, zero-tested and
// compressed into one output buffer. The coordinator turns the result into descriptors
// and page data, in pfn order. Spec: kdump-compressed.md §6 (write_kdump_pages_cyclic).
import type { WorkerContext } from './setup';

export interface PageBatch {
  seq: number;
  /** first pfn; a multiple of 8 so that bitmap byte 0 bit 0 is this pfn */
  pfnStart: number;
  pfnEnd: number;
  /** 2nd-bitmap bits for [pfnStart, pfnEnd) */
  bitmap: Uint8Array;
  /** number of set bits in `bitmap` */
  count: number;
  /** a recycled buffer for the result's data; allocated when absent or too small */
  out?: ArrayBuffer;
}

export interface PageBatchResult {
  seq: number;
  count: number;
  /** stored size of each dumpable page in pfn order; 0 marks an all-zero page (shared descriptor) */
  sizes: Int32Array;
  /** DUMP_DH_COMPRESSED_* flag per page (0: raw or zero) */
  flags: Uint8Array;
  data: ArrayBuffer;
  dataLen: number;
  zeroPages: number;
  /** pfns that could not be read (their descriptors are written as data-lost) */
  readErrors: number;
}

/** Gap (in pages) across which two runs of dumpable pages are read with one call. */
const MERGE_GAP = 16;
/** Longest single read. */
const READ_RUN_PAGES = 1024;

const zeroPages = new Map<number, Buffer>();
function zeroPage(size: number): Buffer {
  let z = zeroPages.get(size);
  if (!z) {
    z = Buffer.alloc(size);
    zeroPages.set(size, z);
  }
  return z;
}

let readBuf = Buffer.alloc(0);
let readWords = new Uint32Array(0);

/** All-zero test: a few words in JS settle most pages; only candidates go to memcmp. */
function isZeroPage(off: number, pageSize: number, zero: Buffer): boolean {
  const w = off >> 2;
  for (let i = 0; i < 16; i++) if (readWords[w + i] !== 0) return false;
  return zero.compare(readBuf, off, off + pageSize) === 0;
}

export function compressBatch(ctx: WorkerContext, batch: PageBatch): PageBatchResult {
  const pageSize = ctx.setup.pageSize;
  const count = batch.count;
  const sizes = new Int32Array(count);
  const flags = new Uint8Array(count);
  let data = batch.out && batch.out.byteLength >= count * pageSize ? batch.out : new ArrayBuffer(Math.max(count * pageSize, pageSize));
  let out = new Uint8Array(data);
  const zero = zeroPage(pageSize);
  const excludeZero = ctx.setup.excludeZero;
  const codec = ctx.codec;
  const bm = batch.bitmap;
  if (readBuf.length < READ_RUN_PAGES * pageSize) {
    readBuf = Buffer.alloc(READ_RUN_PAGES * pageSize);
    readWords = new Uint32Array(readBuf.buffer, readBuf.byteOffset, readBuf.length >> 2);
  }

  let k = 0;
  let dataLen = 0;
  let zeros = 0;
  let readErrors = 0;
  const nbits = batch.pfnEnd - batch.pfnStart;
  let i = 0;
  while (i < nbits && k < count) {
    // next dumpable bit
    if (bm[i >> 3] === 0 && (i & 7) === 0) { i += 8; continue; }
    if ((bm[i >> 3] & (1 << (i & 7))) === 0) { i++; continue; }
    // a run starting at i, extended over short gaps, at most READ_RUN_PAGES long
    const runStart = i;
    let runEnd = i + 1;
    let j = i + 1;
    while (j < nbits && j - runStart < READ_RUN_PAGES) {
      if ((bm[j >> 3] & (1 << (j & 7))) !== 0) { runEnd = j + 1; j++; continue; }
      if (j - runEnd >= MERGE_GAP) break;
      j++;
    }
    const pfn0 = batch.pfnStart + runStart;
    const runPages = runEnd - runStart;
    let readOk = true;
    try {
      if (!ctx.mem.read(pfn0 * pageSize, readBuf, 0, runPages * pageSize)) readOk = false;
    } catch {
      readOk = false;
    }
    for (let p = runStart; p < runEnd; p++) {
      if ((bm[p >> 3] & (1 << (p & 7))) === 0) continue;
      const off = (p - runStart) * pageSize;
      if (!readOk) {
        sizes[k] = -1;
        readErrors++;
        k++;
        continue;
      }
      if (excludeZero && isZeroPage(off, pageSize, zero)) {
        sizes[k++] = 0;
        zeros++;
        continue;
      }
      if (dataLen + pageSize > out.length) {
        const bigger = new ArrayBuffer(out.length * 2);
        new Uint8Array(bigger).set(out.subarray(0, dataLen));
        data = bigger;
        out = new Uint8Array(data);
      }
      const n = codec ? codec.compress(readBuf, off, pageSize, out, dataLen) : -1;
      if (n > 0) {
        sizes[k] = n;
        flags[k] = codec!.flag;
        dataLen += n;
      } else {
        readBuf.copy(out, dataLen, off, off + pageSize);
        sizes[k] = pageSize;
        dataLen += pageSize;
      }
      k++;
    }
    i = runEnd;
  }
  return { seq: batch.seq, count: k, sizes, flags, data, dataLen, zeroPages: zeros, readErrors };
}

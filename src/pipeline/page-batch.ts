// Pass 2 work unit: the dumpable pages of a pfn range, read in long runs, zero-tested and
// compressed into one output buffer. The coordinator turns the result into descriptors
// and page data, in pfn order. Spec: kdump-compressed.md §6 (write_kdump_pages_cyclic).
import { NATIVE_METHOD, OFFSET_MARK, PAGE_MARK, TALLY, nativeMethodOf, nativePages } from '../codec/native-pages';
import { leanMode } from '../util/limits';
import type { WorkerContext } from './setup';

/** dumpable pages per pass-2 batch at most (batchesOf): 4 MiB of input, 1 MiB in lean mode */
export const BATCH_PAGES = leanMode() ? 256 : 1024;

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
  /** without a codec: the writer takes the kept pages as ranges of the input (PageBatchResult.inputRuns) */
  fromInput?: boolean;
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
  /** the kept pages as [offset, length] ranges of the input, when the batch asked for runs */
  inputRuns?: Float64Array;
  inputRunCount?: number;
}

/**
 * The batch's data buffer: the recycled one when it holds `count` pages, else a new one of
 * a whole batch's size, so that every buffer the queue recycles fits every later batch
 * (one sized to its own batch would not, and each misfit is another buffer until GC).
 */
export function dataBufferFor(batch: PageBatch, pageSize: number): ArrayBuffer {
  const need = Math.max(batch.count, 1) * pageSize;
  if (batch.out && batch.out.byteLength >= need) return batch.out;
  return new ArrayBuffer(Math.max(need, BATCH_PAGES * pageSize));
}

let offsets = new Uint32Array(0);
let fileOffsets = new Float64Array(0);
const tally = new Int32Array(TALLY.length);

/** Raw, LZO and zlib batches with the native page loop: one call per buffer of pages. */
function compressBatchNative(ctx: WorkerContext, batch: PageBatch, data: ArrayBuffer, sizes: Int32Array, flags: Uint8Array, method: number): PageBatchResult {
  const native = nativePages()!;
  const pageSize = ctx.setup.pageSize;
  const flagValue = ctx.codec?.flag ?? 0;
  if (offsets.length < batch.count) offsets = new Uint32Array(Math.max(batch.count, 1024));
  let dataLen = 0;
  const reader = ctx.reader;
  const mapped = reader.mapped;
  let count: number;
  // the native loop counts the all-zero and unreadable pages
  tally.fill(0);
  const fd = reader.fileFd;
  if (mapped) {
    if (fileOffsets.length < batch.count) fileOffsets = new Float64Array(Math.max(batch.count, 1024));
    count = reader.collectMapped(batch.bitmap, batch.pfnEnd - batch.pfnStart, batch.pfnStart, batch.count, fileOffsets, (first, n) => {
      dataLen = native.compressMapped(method, mapped, reader.buf, fileOffsets, first, n, pageSize, ctx.setup.excludeZero, data, dataLen, sizes, flags, flagValue, tally,
        ctx.pageThreads ?? 1);
    });
  } else if (fd !== undefined) {
    // the native loop reads the pages itself, each of its threads its own part
    if (fileOffsets.length < batch.count) fileOffsets = new Float64Array(Math.max(batch.count, 1024));
    count = reader.collectMapped(batch.bitmap, batch.pfnEnd - batch.pfnStart, batch.pfnStart, batch.count, fileOffsets, (first, n) => {
      dataLen = native.compressFile!(method, fd, reader.buf, fileOffsets, first, n, pageSize, ctx.setup.excludeZero, data, dataLen, sizes, flags, flagValue, tally,
        ctx.pageThreads ?? 1);
    });
  } else count = reader.collect(batch.bitmap, batch.pfnEnd - batch.pfnStart, batch.pfnStart, batch.count, offsets, (first, n) => {
    dataLen = native.compressPages(method, reader.buf, offsets, first, n, pageSize, ctx.setup.excludeZero, data, dataLen, sizes, flags, flagValue, tally,
      ctx.pageThreads ?? 1);
  });
  return { seq: batch.seq, count, sizes, flags, data, dataLen, zeroPages: tally[TALLY.zero], readErrors: tally[TALLY.unreadable] };
}

/**
 * A batch without a codec whose pages the writer moves from the input itself: the zero
 * test here, through the mapping, and the ranges of the input to copy. Undefined when the
 * batch has a page that is not wholly in the file (it is copied the usual way).
 */
function rawRunsBatch(ctx: WorkerContext, batch: PageBatch, data: ArrayBuffer, sizes: Int32Array, flags: Uint8Array): PageBatchResult | undefined {
  const native = nativePages();
  const reader = ctx.reader;
  const mapped = reader.mapped;
  if (!mapped || !native?.rawRuns) return undefined;
  const pageSize = ctx.setup.pageSize;
  if (fileOffsets.length < batch.count) fileOffsets = new Float64Array(Math.max(batch.count, 1024));
  const runs = new Float64Array(2 * Math.max(batch.count, 1));
  let runCount = 0;
  let whole = true;
  tally.fill(0);
  const count = reader.collectMapped(batch.bitmap, batch.pfnEnd - batch.pfnStart, batch.pfnStart, batch.count, fileOffsets, (first, n) => {
    if (!whole) return;
    const made = native.rawRuns!(mapped, fileOffsets, first, n, pageSize, ctx.setup.excludeZero, sizes, flags, runs.subarray(2 * runCount), tally);
    if (made < 0) whole = false;
    else runCount += made;
  });
  if (!whole) return undefined;
  let dataLen = 0;
  for (let k = 0; k < runCount; k++) dataLen += runs[2 * k + 1];
  return { seq: batch.seq, count, sizes, flags, data, dataLen, zeroPages: tally[TALLY.zero], readErrors: tally[TALLY.unreadable], inputRuns: runs, inputRunCount: runCount };
}

/** Whether compressBatchAsync can take this context's batches: the native loop reads the input itself, on libuv's pool. */
export function asyncBatchesFit(ctx: WorkerContext): boolean {
  const codec = ctx.setup.codec;
  return codec !== 'none' && ctx.reader.fileFd !== undefined && nativeMethodOf(codec) !== undefined
    && nativePages()?.compressFileAsync !== undefined;
}

/**
 * A batch compressed on a thread of libuv's pool (asyncBatchesFit), while this thread
 * goes on: the offsets are found here, the pages read and compressed there. Every array
 * the native call holds is the batch's own: a page the reader had to stage (one not
 * wholly in the file) is copied out of its shared buffer first.
 */
export function compressBatchAsync(ctx: WorkerContext, batch: PageBatch): Promise<PageBatchResult> {
  const native = nativePages()!;
  const pageSize = ctx.setup.pageSize;
  const count = batch.count;
  const sizes = new Int32Array(count);
  const flags = new Uint8Array(count);
  const data = dataBufferFor(batch, pageSize);
  const offsets = new Float64Array(Math.max(count, 1));
  const tallies = new Int32Array(TALLY.length);
  const reader = ctx.reader;
  let stage: Uint8Array | undefined;
  let staged = 0;
  const seen = reader.collectMapped(batch.bitmap, batch.pfnEnd - batch.pfnStart, batch.pfnStart, count, offsets, (first, n) => {
    for (let i = first; i < first + n; i++) {
      const o = offsets[i];
      if (o > OFFSET_MARK.stagedBase) continue;
      const from = OFFSET_MARK.stagedBase - o;
      stage ??= new Uint8Array(count * pageSize);
      stage.set(reader.buf.subarray(from, from + pageSize), staged * pageSize);
      offsets[i] = OFFSET_MARK.stagedBase - staged * pageSize;
      staged++;
    }
  });
  return new Promise((resolve, reject) => {
    native.compressFileAsync!(nativeMethodOf(ctx.setup.codec)!, reader.fileFd!, stage ?? reader.zeroPage, offsets, 0, seen, pageSize,
      ctx.setup.excludeZero, data, 0, sizes, flags, ctx.codec?.flag ?? 0, tallies, (error, dataLen) => {
        if (error) reject(error);
        else resolve({ seq: batch.seq, count: seen, sizes, flags, data, dataLen, zeroPages: tallies[TALLY.zero], readErrors: tallies[TALLY.unreadable] });
      });
  });
}

export function compressBatch(ctx: WorkerContext, batch: PageBatch): PageBatchResult {
  const pageSize = ctx.setup.pageSize;
  const count = batch.count;
  const sizes = new Int32Array(count);
  const flags = new Uint8Array(count);
  let data = dataBufferFor(batch, pageSize);
  const method = nativeMethodOf(ctx.setup.codec);
  if (batch.fromInput && method === NATIVE_METHOD.raw) {
    const r = rawRunsBatch(ctx, batch, data, sizes, flags);
    if (r) return r;
  }
  if (method !== undefined && nativePages()) {
    return compressBatchNative(ctx, batch, data, sizes, flags, method);
  }
  let out = new Uint8Array(data);
  const excludeZero = ctx.setup.excludeZero;
  const codec = ctx.codec;
  const reader = ctx.reader;
  const src = reader.buf;
  let k = 0;
  let dataLen = 0;
  let zeros = 0;
  let readErrors = 0;
  reader.forEachDumpable(batch.bitmap, batch.pfnEnd - batch.pfnStart, batch.pfnStart, count, (_bit, off, ok) => {
    if (!ok) {
      sizes[k++] = PAGE_MARK.unreadable;
      readErrors++;
      return;
    }
    if (excludeZero && reader.isZero(off)) {
      sizes[k++] = PAGE_MARK.zero;
      zeros++;
      return;
    }
    if (dataLen + pageSize > out.length) {
      const bigger = new ArrayBuffer(out.length * 2);
      new Uint8Array(bigger).set(out.subarray(0, dataLen));
      data = bigger;
      out = new Uint8Array(data);
    }
    const n = codec ? codec.compress(src, off, pageSize, out, dataLen) : -1;
    if (n > 0) {
      sizes[k] = n;
      flags[k] = codec!.flag;
      dataLen += n;
    } else {
      src.copy(out, dataLen, off, off + pageSize);
      sizes[k] = pageSize;
      dataLen += pageSize;
    }
    k++;
  });
  return { seq: batch.seq, count: k, sizes, flags, data, dataLen, zeroPages: zeros, readErrors };
}

// Pass 2 work unit: the dumpable pages of a pfn range, read in long runs, zero-tested and
// compressed into one output buffer. The coordinator turns the result into descriptors
// and page data, in pfn order. Spec: kdump-compressed.md §6 (write_kdump_pages_cyclic).
import type { CodecName } from '../codec';
import { NATIVE_LZO, NATIVE_RAW, NATIVE_ZLIB, NATIVE_ZLIB_MAX_PAGE, nativePages } from '../codec/native-pages';
import type { WorkerContext } from './setup';

/** the codecs the native page loop does, and its method number for each */
const NATIVE_METHOD: Partial<Record<CodecName, number>> = { none: NATIVE_RAW, lzo: NATIVE_LZO, zlib: NATIVE_ZLIB };

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

let offsets = new Uint32Array(0);
let fileOffsets = new Float64Array(0);
const tally = new Int32Array(2);

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
  tally[0] = 0;
  tally[1] = 0;
  if (mapped) {
    if (fileOffsets.length < batch.count) fileOffsets = new Float64Array(Math.max(batch.count, 1024));
    count = reader.collectMapped(batch.bitmap, batch.pfnEnd - batch.pfnStart, batch.pfnStart, batch.count, fileOffsets, (first, n) => {
      dataLen = native.compressMapped(method, mapped, reader.buf, fileOffsets, first, n, pageSize, ctx.setup.excludeZero, data, dataLen, sizes, flags, flagValue, tally);
    });
  } else count = reader.collect(batch.bitmap, batch.pfnEnd - batch.pfnStart, batch.pfnStart, batch.count, offsets, (first, n) => {
    dataLen = native.compressPages(method, reader.buf, offsets, first, n, pageSize, ctx.setup.excludeZero, data, dataLen, sizes, flags, flagValue, tally);
  });
  return { seq: batch.seq, count, sizes, flags, data, dataLen, zeroPages: tally[0], readErrors: tally[1] };
}

export function compressBatch(ctx: WorkerContext, batch: PageBatch): PageBatchResult {
  const pageSize = ctx.setup.pageSize;
  const count = batch.count;
  const sizes = new Int32Array(count);
  const flags = new Uint8Array(count);
  let data = batch.out && batch.out.byteLength >= count * pageSize ? batch.out : new ArrayBuffer(Math.max(count * pageSize, pageSize));
  const method = NATIVE_METHOD[ctx.setup.codec];
  if (method !== undefined && nativePages() && (method !== NATIVE_ZLIB || pageSize <= NATIVE_ZLIB_MAX_PAGE)) {
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
      sizes[k++] = -1;
      readErrors++;
      return;
    }
    if (excludeZero && reader.isZero(off)) {
      sizes[k++] = 0;
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

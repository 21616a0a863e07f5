// The optional native page loop (native/pagecodec.c, built by node-gyp at install): zero
// test, then LZO1X-1, zlib (native/page-deflate.c) or a raw copy, for a whole batch of
// pages in one call. When it is not built, the JavaScript loop with the npm bindings and
// Node's zlib does the same work, more slowly (its zlib streams differ in bytes, not in
// the pages they hold).
import { nativeAddon } from '../util/native-addon';

export interface NativePages {
  /** see native/pagecodec.c; returns the new dstPos */
  compressPages(method: number, src: Buffer, offsets: Uint32Array, first: number, count: number, pageSize: number,
    excludeZero: boolean, dst: ArrayBuffer | Uint8Array, dstPos: number, sizes: Int32Array, flags: Uint8Array, flagValue: number,
    tally?: Int32Array): number;
  /** a handle for compressMapped over the file open as fd, or null when it cannot be mapped */
  mapInput(fd: number): MappedInput | null;
  /**
   * compressPages with the pages taken from the mapped file: fileOffsets[k] is page k's
   * offset in it, -1 when unreadable, -2 - o for a page the caller put in stage[o].
   * Both add the batch's all-zero and unreadable pages to tally[0] and tally[1].
   */
  compressMapped(method: number, input: MappedInput, stage: Buffer, fileOffsets: Float64Array, first: number, count: number,
    pageSize: number, excludeZero: boolean, dst: ArrayBuffer | Uint8Array, dstPos: number, sizes: Int32Array, flags: Uint8Array,
    flagValue: number, tally?: Int32Array): number;
  /**
   * The file offset of the page of every set bit of bm from bit cursor[0] on, into
   * fileOffsets from cursor[1] on, while each page lies wholly in one of the file's ranges
   * (FileMap's starts, ends, offsets); stops after `limit` pages. Returns 1 at a page not
   * wholly in the file, cursor[0] being its bit; 0 when done. cursor[1] counts the pages.
   */
  mapOffsets(bm: Uint8Array, nbits: number, pfnStart: number, limit: number, pageSize: number, starts: Float64Array,
    ends: Float64Array, offsets: Float64Array, fileOffsets: Float64Array, cursor: Float64Array): number;
  /**
   * A batch's page_desc records into out, laid out as `layout` says (record size, then the
   * offsets of offset, size, flags, page_flags); returns the data position after the batch.
   */
  encodeDescriptors(sizes: Int32Array, flags: Uint8Array, count: number, dataPos: number, zeroOffset: number,
    pageSize: number, layout: Int32Array, out: Uint8Array): number;
  /**
   * The next batch of bm's bytes from `byte` on (kdump-output.ts batchesOf): 1 with out =
   * [first byte, byte after the last, set bits], 0 when no set bit is left. Bytes firstByte
   * and nbytes - 1 count through headMask and tailMask.
   */
  cutBatch(bm: Uint8Array, byte: number, nbytes: number, maxPages: number, firstByte: number, headMask: number, tailMask: number,
    out: Int32Array): number;
}

/** an input file mapped by the native addon, one window at a time (opaque) */
export interface MappedInput { readonly __mappedInput: unique symbol }

export const NATIVE_RAW = 0;
export const NATIVE_LZO = 1;
export const NATIVE_ZLIB = 2;
/** the largest page native/page-deflate.c compresses (PAGE_DEFLATE_MAX_INPUT): 64 KiB pages go to Node's zlib */
export const NATIVE_ZLIB_MAX_PAGE = 32768;

/** The addon's page loop, or undefined when it is not built (or is a build without these calls). */
export function nativePages(): NativePages | undefined {
  const addon = nativeAddon() as Partial<NativePages> | undefined;
  return addon?.compressPages && addon.compressMapped && addon.mapInput && addon.mapOffsets && addon.encodeDescriptors
    && addon.cutBatch ? (addon as NativePages) : undefined;
}

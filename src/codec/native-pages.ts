// The optional native page loop (native/pagecodec.c, built by node-gyp at install): zero
// test, then LZO1X-1, zlib (native/page-deflate.c) or a raw copy, for a whole batch of
// pages in one call. When it is not built, the JavaScript loop with the npm bindings and
// Node's zlib does the same work, more slowly (its zlib streams differ in bytes, not in
// the pages they hold).
import { nativeAddon } from '../util/native-addon';

export interface NativePages {
  /** see native/pagecodec.c; returns the new dstPos */
  compressPages(method: number, src: Buffer, offsets: Uint32Array, first: number, count: number, pageSize: number,
    excludeZero: boolean, dst: ArrayBuffer | Uint8Array, dstPos: number, sizes: Int32Array, flags: Uint8Array, flagValue: number): number;
  /** a handle for compressMapped over the file open as fd, or null when it cannot be mapped */
  mapInput(fd: number): MappedInput | null;
  /**
   * compressPages with the pages taken from the mapped file: fileOffsets[k] is page k's
   * offset in it, -1 when unreadable, -2 - o for a page the caller put in stage[o].
   */
  compressMapped(method: number, input: MappedInput, stage: Buffer, fileOffsets: Float64Array, first: number, count: number,
    pageSize: number, excludeZero: boolean, dst: ArrayBuffer | Uint8Array, dstPos: number, sizes: Int32Array, flags: Uint8Array,
    flagValue: number): number;
}

/** an input file mapped by the native addon, one window at a time (opaque) */
export interface MappedInput { readonly __mappedInput: unique symbol }

export const NATIVE_RAW = 0;
export const NATIVE_LZO = 1;
export const NATIVE_ZLIB = 2;

export function nativePages(): NativePages | undefined {
  return nativeAddon() as NativePages | undefined;
}

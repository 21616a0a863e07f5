// The optional native page loop (native/pagecodec.c, built by node-gyp at install): zero
// test, then LZO1X-1 (liblzo2), zlib's format (libdeflate) or a raw copy, for a whole batch
// of pages in one call. When it is not built, the JavaScript loop with the npm packages and
// Node's zlib does the same work, more slowly (its zlib streams differ in bytes, not in
// the pages they hold).
import { nativeAddon } from '../util/native-addon';

export interface NativePages {
  /** see native/pagecodec.c; returns the new dstPos */
  compressPages(method: number, src: Buffer, offsets: Uint32Array, first: number, count: number, pageSize: number,
    excludeZero: boolean, dst: ArrayBuffer | Uint8Array, dstPos: number, sizes: Int32Array, flags: Uint8Array, flagValue: number,
    tally?: Int32Array, threads?: number): number;
  /** a handle for compressMapped over the file open as fd, or null when it cannot be mapped */
  mapInput(fd: number): MappedInput | null;
  /**
   * compressPages with the pages taken from the mapped file: fileOffsets[k] is page k's
   * offset in it, -1 when unreadable, -2 - o for a page the caller put in stage[o].
   * Both add the batch's all-zero and unreadable pages to tally[0] and tally[1]. Up to
   * `threads` threads share the batch, each through its own window of the file.
   */
  compressMapped(method: number, input: MappedInput, stage: Buffer, fileOffsets: Float64Array, first: number, count: number,
    pageSize: number, excludeZero: boolean, dst: ArrayBuffer | Uint8Array, dstPos: number, sizes: Int32Array, flags: Uint8Array,
    flagValue: number, tally?: Int32Array, threads?: number): number;
  /**
   * compressMapped with the pages read from the file open as fd with pread (each of up to
   * `threads` threads reading its own part of the batch).
   */
  compressFile?(method: number, fd: number, stage: Buffer, fileOffsets: Float64Array, first: number, count: number,
    pageSize: number, excludeZero: boolean, dst: ArrayBuffer | Uint8Array, dstPos: number, sizes: Int32Array, flags: Uint8Array,
    flagValue: number, tally: Int32Array, threads?: number): number;
  /**
   * compressFile for one batch on a thread of libuv's pool; callback(error, newDstPos) on
   * this thread. Every array is held until then and must not be touched meanwhile.
   */
  compressFileAsync?(method: number, fd: number, stage: Buffer | Uint8Array, fileOffsets: Float64Array, first: number, count: number,
    pageSize: number, excludeZero: boolean, dst: ArrayBuffer | Uint8Array, dstPos: number, sizes: Int32Array, flags: Uint8Array,
    flagValue: number, tally: Int32Array, callback: (error: Error | undefined, dstPos: number) => void): void;
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
  /**
   * Without a codec, for a writer that moves the data itself: the zero test of each page
   * through the mapping, and the file ranges of the pages kept, joined where neighbours,
   * as [offset, length] pairs into runs. sizes, flags and tally as compressMapped sets
   * them. Returns the ranges made, or -1 at a page the caller staged (copy that batch).
   */
  rawRuns?(input: MappedInput, fileOffsets: Float64Array, first: number, count: number, pageSize: number, excludeZero: boolean,
    sizes: Int32Array, flags: Uint8Array, runs: Float64Array, tally?: Int32Array): number;
  /**
   * Writes the input file's ranges (runs: [offset, length] pairs) one after the other into
   * the output from outPos on, inside the kernel (copy_file_range) where the file systems
   * allow, else with pwrite from a mapping of the input. Returns the bytes written; throws
   * an Error with code (ENOSPC...) and done (bytes written before it).
   */
  copyRuns?(outFd: number, inFd: number, runs: Float64Array, nRuns: number, outPos: number): number;
  /** liblzo2's lzo1x_decompress_safe of src into dst: the bytes written, or -1 */
  lzoDecompress(src: Uint8Array, dst: Uint8Array): number;
  /** the methods this build has, bit 1 << NATIVE_METHOD.x for each (snappy and zstd when their libraries were found) */
  methods?: number;
  /** starts writeback of the file's dirty pages without waiting (sync_file_range); 0 or an errno (filelock.c) */
  startWriteback?(fd: number): number;
  /** startWriteback on the addon's writeback thread; returns at once (filelock.c) */
  startWritebackAsync?(fd: number): number;
  /** returns once the writeback thread has nothing queued or running */
  waitWriteback?(): void;
}

/** an input file mapped by the native addon, one window at a time (opaque) */
export interface MappedInput { readonly __mappedInput: unique symbol }

/** The page loop's methods (its first argument). */
export const NATIVE_METHOD = { raw: 0, lzo: 1, zlib: 2, snappy: 3, zstd: 4 } as const;
/** What a page's entry in a batch's sizes says besides its stored length. */
export const PAGE_MARK = { zero: 0, unreadable: -1 } as const;
/** Where a page is, in the offsets the page loops take (see compressPages, compressMapped). */
export const OFFSET_MARK = { unreadable: 0xffffffff, unreadableInFile: -1, stagedBase: -2 } as const;
/** The tally's entries. */
export const TALLY = { zero: 0, unreadable: 1, length: 2 } as const;

/**
 * What the page loop must have been built from: the declarations above as text (the
 * generated header holds the same text, and the addon reports it).
 */
export function pageLoopDeclarations(): string {
  return JSON.stringify({ NATIVE_METHOD, PAGE_MARK, OFFSET_MARK, TALLY });
}

let matches: boolean | undefined;

/** The addon's page loop, or undefined when it is not built (or was built from other declarations). */
export function nativePages(): NativePages | undefined {
  const addon = nativeAddon() as (Partial<NativePages> & { pageLoopDeclarations?: string }) | undefined;
  if (!addon?.compressPages || !addon.compressMapped || !addon.mapInput || !addon.mapOffsets || !addon.encodeDescriptors
    || !addon.cutBatch || !addon.lzoDecompress) return undefined;
  matches ??= addon.pageLoopDeclarations === pageLoopDeclarations();
  return matches ? (addon as NativePages) : undefined;
}

/**
 * The native page loop's method for a codec, or undefined when the codec's pages go
 * through its npm binding (no addon, or one built without that library).
 */
export function nativeMethodOf(codec: string): number | undefined {
  const native = nativePages();
  // the CLI's codec without compression is 'none'; the loop's method for it is raw
  const name = codec === 'none' ? 'raw' : codec;
  if (!native || !Object.prototype.hasOwnProperty.call(NATIVE_METHOD, name)) return undefined;
  const method = NATIVE_METHOD[name as keyof typeof NATIVE_METHOD];
  // an addon without the methods word predates snappy and zstd in C
  const built = native.methods ?? ((1 << NATIVE_METHOD.raw) | (1 << NATIVE_METHOD.lzo) | (1 << NATIVE_METHOD.zlib));
  return (built & (1 << method)) !== 0 ? method : undefined;
}

// One interface for the page codecs of the kdump-compressed format: compress one page
// into a caller's buffer and say whether it shrank. Spec: kdump-compressed.md §4, §6.
import {
  DUMP_DH_COMPRESSED_LZO, DUMP_DH_COMPRESSED_SNAPPY, DUMP_DH_COMPRESSED_ZLIB, DUMP_DH_COMPRESSED_ZSTD,
} from '../format/diskdump';

export type CodecName = 'none' | 'zlib' | 'lzo' | 'snappy' | 'zstd';

export interface PageCodec {
  readonly name: CodecName;
  /** DUMP_DH_COMPRESSED_* bit for the header status and page descriptors (0 for none) */
  readonly flag: number;
  /**
   * Compresses the page at src[srcOff, srcOff+pageSize) into `dst` at `dstOff`, which has
   * room for pageSize bytes. Returns the compressed length when it is strictly smaller
   * than the page (makedumpfile keeps only those), else -1: the caller stores it raw.
   */
  compress(src: Buffer, srcOff: number, pageSize: number, dst: Uint8Array, dstOff: number): number;
}

export interface PageDecoder {
  /** Decompresses one stored page into `dst` (exactly dst.length bytes), or throws. */
  decompress(src: Uint8Array, dst: Uint8Array): void;
}

export const CODEC_FLAGS: Record<CodecName, number> = {
  none: 0,
  zlib: DUMP_DH_COMPRESSED_ZLIB,
  lzo: DUMP_DH_COMPRESSED_LZO,
  snappy: DUMP_DH_COMPRESSED_SNAPPY,
  zstd: DUMP_DH_COMPRESSED_ZSTD,
};

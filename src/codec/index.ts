// Codec selection by name or by the DUMP_DH_COMPRESSED_* flag of a stored page.
import {
  DUMP_DH_COMPRESSED_LZO, DUMP_DH_COMPRESSED_SNAPPY, DUMP_DH_COMPRESSED_ZLIB, DUMP_DH_COMPRESSED_ZSTD,
} from '../format/diskdump';
import { CodecName, PageCodec, PageDecoder } from './codec';
import { LzoCodec, LzoDecoder } from './lzo-codec';
import { SnappyCodec, SnappyDecoder } from './snappy-codec';
import { ZlibCodec, ZlibDecoder } from './zlib-codec';
import { ZstdCodec, ZstdDecoder } from './zstd-codec';

export type { CodecName, PageCodec, PageDecoder } from './codec';
export { CODEC_FLAGS } from './codec';

/** A codec for writing pages; 'none' returns undefined (pages are stored raw). */
export function createCodec(name: CodecName): PageCodec | undefined {
  switch (name) {
    case 'none': return undefined;
    case 'zlib': return new ZlibCodec(1);
    case 'lzo': return new LzoCodec();
    case 'snappy': return new SnappyCodec();
    case 'zstd': return new ZstdCodec();
  }
}

/** Decoders for reading kdump-compressed pages, keyed by page_desc.flags. */
export class PageDecoders {
  private readonly cache = new Map<number, PageDecoder>();

  /** Decodes a stored page into `dst`; flags 0 means raw. */
  decode(flags: number, src: Uint8Array, dst: Uint8Array): void {
    if ((flags & (DUMP_DH_COMPRESSED_ZLIB | DUMP_DH_COMPRESSED_LZO | DUMP_DH_COMPRESSED_SNAPPY | DUMP_DH_COMPRESSED_ZSTD)) === 0) {
      if (src.length !== dst.length) throw new Error(`raw page of ${src.length} bytes, expected ${dst.length}`);
      dst.set(src);
      return;
    }
    this.decoder(flags).decompress(src, dst);
  }

  private decoder(flags: number): PageDecoder {
    const key = flags & (DUMP_DH_COMPRESSED_ZLIB | DUMP_DH_COMPRESSED_LZO | DUMP_DH_COMPRESSED_SNAPPY | DUMP_DH_COMPRESSED_ZSTD);
    let d = this.cache.get(key);
    if (!d) {
      if (key & DUMP_DH_COMPRESSED_ZLIB) d = new ZlibDecoder();
      else if (key & DUMP_DH_COMPRESSED_LZO) d = new LzoDecoder();
      else if (key & DUMP_DH_COMPRESSED_SNAPPY) d = new SnappyDecoder();
      else d = new ZstdDecoder();
      this.cache.set(key, d);
    }
    return d;
  }
}

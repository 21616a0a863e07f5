// zlib at level 1, one complete zlib stream per page (what makedumpfile writes with
// compress2 level 1). Pass 2 compresses with libdeflate in the native page loop; this
// codec is for when the addon is not built, through Node's public zlib API only (which
// sets up a deflate state per page, so it is the slower path: perf/RESULTS.md).
import type * as Zlib from 'zlib';
import type { PageCodec, PageDecoder } from './codec';
import { CODEC_FLAGS } from './codec';

// loaded on first use: every run loads this module (the codec table), few runs need zlib
let zlibModule: typeof Zlib | undefined;
function zlib(): typeof Zlib {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  zlibModule ??= require('zlib') as typeof Zlib;
  return zlibModule;
}

export class ZlibCodec implements PageCodec {
  readonly name = 'zlib' as const;
  readonly flag = CODEC_FLAGS.zlib;

  constructor(readonly level = 1) {}

  compress(src: Buffer, srcOff: number, pageSize: number, dst: Uint8Array, dstOff: number): number {
    const out = zlib().deflateSync(src.subarray(srcOff, srcOff + pageSize), { level: this.level });
    if (out.length >= pageSize) return -1;
    dst.set(out, dstOff);
    return out.length;
  }
}

export class ZlibDecoder implements PageDecoder {
  decompress(src: Uint8Array, dst: Uint8Array): void {
    const out = zlib().inflateSync(src);
    if (out.length !== dst.length) throw new Error(`zlib page inflates to ${out.length} bytes, expected ${dst.length}`);
    dst.set(out);
  }
}

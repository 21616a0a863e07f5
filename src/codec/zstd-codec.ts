// One zstd frame per page at level 1 (makedumpfile's ZSTD_compressCCtx(level 1)), with
// one reused compression context, written into one reused buffer.
import type { PageCodec, PageDecoder } from './codec';
import { CODEC_FLAGS } from './codec';

// The low-level binding of zstd-napi: compress into a buffer we own, no Buffer per page
type ZstdBinding = typeof import('zstd-napi/binding');
let zstd: ZstdBinding | undefined;
function lib(): ZstdBinding {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  zstd ??= require('zstd-napi/binding') as ZstdBinding;
  return zstd;
}

/** makedumpfile: ZSTD_compressCCtx(ctx, ..., 1) */
const LEVEL = 1;

export class ZstdCodec implements PageCodec {
  readonly name = 'zstd' as const;
  readonly flag = CODEC_FLAGS.zstd;
  private readonly cctx = new (lib().CCtx)();
  private out = Buffer.alloc(0);
  private outPageSize = 0;

  compress(src: Buffer, srcOff: number, pageSize: number, dst: Uint8Array, dstOff: number): number {
    // room for any result, so that zstd never fails for want of it
    if (this.outPageSize !== pageSize) {
      this.out = Buffer.alloc(lib().compressBound(pageSize));
      this.outPageSize = pageSize;
    }
    const n = this.cctx.compress(this.out, src.subarray(srcOff, srcOff + pageSize), LEVEL);
    if (n >= pageSize) return -1;
    this.out.copy(dst, dstOff, 0, n);
    return n;
  }
}

export class ZstdDecoder implements PageDecoder {
  private readonly dctx = new (lib().DCtx)();

  decompress(src: Uint8Array, dst: Uint8Array): void {
    const n = this.dctx.decompress(dst, src);
    if (n !== dst.length) throw new Error(`zstd page decompresses to ${n} bytes, expected ${dst.length}`);
  }
}

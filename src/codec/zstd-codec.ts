// One zstd frame per page at level 1 (makedumpfile's ZSTD_compressCCtx(level 1)), with
// one reused compression context.
import type { PageCodec, PageDecoder } from './codec';
import { CODEC_FLAGS } from './codec';

type ZstdNapi = typeof import('zstd-napi');
let zstd: ZstdNapi | undefined;
function lib(): ZstdNapi {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  zstd ??= require('zstd-napi') as ZstdNapi;
  return zstd;
}

export class ZstdCodec implements PageCodec {
  readonly name = 'zstd' as const;
  readonly flag = CODEC_FLAGS.zstd;
  private readonly cctx: InstanceType<ZstdNapi['Compressor']>;
  private page = Buffer.alloc(0);

  constructor() {
    this.cctx = new (lib().Compressor)();
    this.cctx.setParameters({ compressionLevel: 1 });
  }

  compress(src: Buffer, srcOff: number, pageSize: number, dst: Uint8Array, dstOff: number): number {
    // copying into one reused Buffer costs less than a view object per page
    if (this.page.length !== pageSize) this.page = Buffer.alloc(pageSize);
    src.copy(this.page, 0, srcOff, srcOff + pageSize);
    const page = this.page;
    const out = this.cctx.compress(page);
    if (out.length >= pageSize) return -1;
    out.copy(dst, dstOff);
    return out.length;
  }
}

export class ZstdDecoder implements PageDecoder {
  private readonly dctx = new (lib().Decompressor)();

  decompress(src: Uint8Array, dst: Uint8Array): void {
    const out = this.dctx.decompress(src);
    if (out.length !== dst.length) throw new Error(`zstd page decompresses to ${out.length} bytes, expected ${dst.length}`);
    dst.set(out);
  }
}

// Raw snappy blocks (snappy_compress), no framing. The binding is napi-rs's `snappy`: its
// older name, @napi-rs/snappy 1.0.2, crashes the process when a worker thread that loaded
// it exits.
import type { PageCodec, PageDecoder } from './codec';
import { CODEC_FLAGS } from './codec';

type Snappy = typeof import('snappy');
let snappy: Snappy | undefined;
function lib(): Snappy {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  snappy ??= require('snappy') as Snappy;
  return snappy;
}

const COPY = { copyOutputData: true };

export class SnappyCodec implements PageCodec {
  readonly name = 'snappy' as const;
  readonly flag = CODEC_FLAGS.snappy;
  private page = Buffer.alloc(0);

  compress(src: Buffer, srcOff: number, pageSize: number, dst: Uint8Array, dstOff: number): number {
    // copying into one reused Buffer costs less than a view object per page
    if (this.page.length !== pageSize) this.page = Buffer.alloc(pageSize);
    src.copy(this.page, 0, srcOff, srcOff + pageSize);
    const page = this.page;
    // the binding returns a fresh Buffer (it has no into-buffer call). copyOutputData makes
    // it one V8 accounts for: by default it wraps Rust memory V8 cannot see, so nothing
    // prompts a collection and a dump of real-1g grew to 780 MiB RSS
    const out = lib().compressSync(page, COPY);
    if (out.length >= pageSize) return -1;
    out.copy(dst, dstOff);
    return out.length;
  }
}

export class SnappyDecoder implements PageDecoder {
  decompress(src: Uint8Array, dst: Uint8Array): void {
    const out = lib().uncompressSync(Buffer.from(src.buffer, src.byteOffset, src.length), COPY) as Buffer;
    if (out.length !== dst.length) throw new Error(`snappy page decompresses to ${out.length} bytes, expected ${dst.length}`);
    dst.set(out);
  }
}

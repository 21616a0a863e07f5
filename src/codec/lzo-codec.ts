// LZO1X-1 (makedumpfile's lzo1x_1_compress), raw output without any framing. Where the
// native addon is built, pass 2 compresses with liblzo2 in its page loop and pages are
// decompressed here with the same library; without it (or with CYCLODUMP_NO_NATIVE), the
// lzo package does both through its public interface.
import type { PageCodec, PageDecoder } from './codec';
import { CODEC_FLAGS } from './codec';
import { nativePages } from './native-pages';

/** the lzo package's public interface (it ships no types) */
interface LzoPackage {
  compress(input: Buffer): Buffer;
  /** throws when input is not LZO1X data of at most `length` bytes */
  decompress(input: Buffer, length: number): Buffer;
}

let lzoPackage: LzoPackage | undefined;
function lzo(): LzoPackage {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  lzoPackage ??= require('lzo') as LzoPackage;
  return lzoPackage;
}

export class LzoCodec implements PageCodec {
  readonly name = 'lzo' as const;
  readonly flag = CODEC_FLAGS.lzo;

  compress(src: Buffer, srcOff: number, pageSize: number, dst: Uint8Array, dstOff: number): number {
    const out = lzo().compress(src.subarray(srcOff, srcOff + pageSize));
    if (out.length >= pageSize) return -1;
    dst.set(out, dstOff);
    return out.length;
  }
}

export class LzoDecoder implements PageDecoder {
  decompress(src: Uint8Array, dst: Uint8Array): void {
    const native = nativePages();
    if (native) {
      const n = native.lzoDecompress(src, dst);
      if (n !== dst.length) throw new Error(`lzo page decompresses to ${n < 0 ? 'nothing' : `${n} bytes`}, expected ${dst.length}`);
      return;
    }
    let out: Buffer;
    try {
      out = lzo().decompress(Buffer.from(src.buffer, src.byteOffset, src.length), dst.length);
    } catch (e) {
      throw new Error(`lzo page does not decompress (${(e as Error).message})`);
    }
    if (out.length !== dst.length) throw new Error(`lzo page decompresses to ${out.length} bytes, expected ${dst.length}`);
    dst.set(out);
  }
}

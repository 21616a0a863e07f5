// LZO1X-1 (makedumpfile's lzo1x_1_compress), raw output without any framing.
import type { PageCodec, PageDecoder } from './codec';
import { CODEC_FLAGS } from './codec';

interface LzoBinding {
  compress(input: Buffer, output: Buffer): { err: number; len: number };
  decompress(input: Buffer, output: Buffer): { err: number; len: number };
}

function loadBinding(): LzoBinding {
  // the package's JS wrapper allocates an output buffer per call; its binding takes ours
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return require('bindings')({ bindings: 'node_lzo', module_root: require('path').dirname(require.resolve('lzo/package.json')) });
}

let binding: LzoBinding | undefined;
function lzo(): LzoBinding {
  binding ??= loadBinding();
  return binding;
}

export class LzoCodec implements PageCodec {
  readonly name = 'lzo' as const;
  readonly flag = CODEC_FLAGS.lzo;
  private scratch = Buffer.alloc(0);
  /**
   * The binding wants a Buffer of exactly one page. Callers hand us pages of one big read
   * buffer again and again: keep a view of each page of it instead of making one per call.
   */
  private viewsOf: Buffer | undefined;
  private views: Buffer[] = [];

  compress(src: Buffer, srcOff: number, pageSize: number, dst: Uint8Array, dstOff: number): number {
    // LZO1X-1 writes without bounds checks: give it its worst case
    const worst = pageSize + (pageSize >> 4) + 64 + 3;
    if (this.scratch.length < worst) this.scratch = Buffer.alloc(worst);
    if (this.viewsOf !== src || this.views.length === 0 || this.views[0].length !== pageSize) {
      this.viewsOf = src;
      this.views = [];
      for (let o = 0; o + pageSize <= src.length; o += pageSize) this.views.push(src.subarray(o, o + pageSize));
    }
    const input = srcOff % pageSize === 0 ? this.views[srcOff / pageSize] : src.subarray(srcOff, srcOff + pageSize);
    const r = lzo().compress(input, this.scratch);
    if (r.err !== 0) throw new Error(`lzo compression failed (${r.err})`);
    if (r.len >= pageSize) return -1;
    this.scratch.copy(dst, dstOff, 0, r.len);
    return r.len;
  }
}

export class LzoDecoder implements PageDecoder {
  decompress(src: Uint8Array, dst: Uint8Array): void {
    const out = Buffer.from(dst.buffer, dst.byteOffset, dst.length);
    const r = lzo().decompress(Buffer.from(src.buffer, src.byteOffset, src.length), out);
    if (r.err !== 0 || r.len !== dst.length) throw new Error(`lzo page decompresses to ${r.len} bytes (err ${r.err}), expected ${dst.length}`);
  }
}

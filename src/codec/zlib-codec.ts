// zlib at level 1, one complete zlib stream per page (what makedumpfile writes with
// compress2/deflate level 1). zlib.deflateSync sets up and tears down a deflate state for
// every call, which costs about as much as compressing a page; like makedumpfile we keep
// one state and reset it between pages, through the handle zlib.Deflate itself drives.
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

interface ZlibHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number,
    out: Uint8Array, outOff: number, outLen: number): void;
  reset(): void;
}

interface DeflateInternals {
  _handle?: ZlibHandle;
  _writeState?: Uint32Array;
}

export class ZlibCodec implements PageCodec {
  readonly name = 'zlib' as const;
  readonly flag = CODEC_FLAGS.zlib;
  private readonly engine: Zlib.Deflate;
  private readonly handle?: ZlibHandle;
  private readonly state?: Uint32Array;
  private hadError = false;
  private readonly finish: number;

  constructor(readonly level = 1) {
    this.engine = zlib().createDeflate({ level });
    this.finish = zlib().constants.Z_FINISH;
    const internals = this.engine as unknown as DeflateInternals;
    if (internals._handle && internals._writeState && typeof internals._handle.writeSync === 'function') {
      this.handle = internals._handle;
      this.state = internals._writeState;
      // errors surface through the engine; remember them instead of throwing asynchronously
      this.engine.on('error', () => { this.hadError = true; });
    }
  }

  compress(src: Buffer, srcOff: number, pageSize: number, dst: Uint8Array, dstOff: number): number {
    const room = pageSize;
    if (this.handle && this.state) {
      this.handle.writeSync(this.finish, src, srcOff, pageSize, dst, dstOff, room);
      const availOut = this.state[0];
      this.handle.reset();
      if (this.hadError) throw new Error('zlib deflate failed');
      // with output room left, Z_FINISH has ended the stream; with none it did not fit
      return availOut > 0 ? room - availOut : -1;
    }
    const out = zlib().deflateSync(src.subarray(srcOff, srcOff + pageSize), { level: this.level });
    if (out.length >= room) return -1;
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

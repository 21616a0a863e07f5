// Pages that repeat (a buffer filled with one pattern, copies of the same file block,
// guard patterns) need compressing once. A small direct-mapped cache keyed by a sample of
// each page's words finds candidates; memcmp confirms them, and the stored bytes are
// reused. The output is what the codec would have produced for that page, so the dump is
// the same; only the work is saved.
import type { PageCodec } from './codec';

const SLOTS = 256;
/** slot states: never used, key seen once (nothing stored), page and output stored */
const EMPTY = 0;
const SEEN = 1;
const STORED = 2;
/** words sampled for the key: a cheap fingerprint, not a proof */
const SAMPLE_WORDS = 16;

export class RepeatCache implements PageCodec {
  readonly name;
  readonly flag;
  private readonly pages: Buffer;
  private readonly outs: Buffer;
  private readonly outLen = new Int32Array(SLOTS);
  private readonly keys = new Uint32Array(SLOTS);
  private readonly state = new Uint8Array(SLOTS);
  private words: Uint32Array | undefined;
  private wordsOf: Buffer | undefined;
  hits = 0;

  constructor(private readonly codec: PageCodec, pageSize: number) {
    this.name = codec.name;
    this.flag = codec.flag;
    this.pages = Buffer.alloc(SLOTS * pageSize);
    this.outs = Buffer.alloc(SLOTS * pageSize);
  }

  compress(src: Buffer, srcOff: number, pageSize: number, dst: Uint8Array, dstOff: number): number {
    if (this.wordsOf !== src) {
      this.words = new Uint32Array(src.buffer, src.byteOffset, src.length >> 2);
      this.wordsOf = src;
    }
    const words = this.words!;
    const base = srcOff >> 2;
    const step = (pageSize >> 2) / SAMPLE_WORDS;
    let h = 0x811c9dc5;
    for (let i = 0; i < SAMPLE_WORDS; i++) h = Math.imul(h ^ words[base + i * step], 0x01000193);
    h >>>= 0;
    const slot = h % SLOTS;
    const at = slot * pageSize;
    const st = this.keys[slot] === h ? this.state[slot] : EMPTY;
    if (st === STORED && this.pages.compare(src, srcOff, srcOff + pageSize, at, at + pageSize) === 0) {
      this.hits++;
      const n = this.outLen[slot];
      if (n > 0) this.outs.copy(dst, dstOff, at, at + n);
      return n;
    }
    const n = this.codec.compress(src, srcOff, pageSize, dst, dstOff);
    this.keys[slot] = h;
    if (st === EMPTY) {
      // a key seen for the first time costs nothing more: only repeats are stored
      this.state[slot] = SEEN;
      return n;
    }
    this.state[slot] = STORED;
    this.outLen[slot] = n;
    src.copy(this.pages, at, srcOff, srcOff + pageSize);
    if (n > 0) Buffer.from(dst.buffer, dst.byteOffset, dst.length).copy(this.outs, at, dstOff, dstOff + n);
    return n;
  }
}

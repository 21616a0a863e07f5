// Finished 2nd-bitmap cycles kept between pass 1 (count) and pass 2 (write), lz4-compressed
// in memory within a fixed budget, so that mem_map is scanned once. Bitmaps of real memory
// are long runs of 0x00 and 0xff and shrink by orders of magnitude; a cycle that does not
// fit the budget is rescanned in pass 2, as makedumpfile rescans every cycle.

type Lz4 = typeof import('lz4-napi');
let lz4: Lz4 | undefined;
function lib(): Lz4 {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  lz4 ??= require('lz4-napi') as Lz4;
  return lz4;
}

export class BitmapCache {
  private readonly slots = new Map<number, { data: Buffer; len: number }>();
  private used = 0;
  /** cycles that did not fit */
  dropped = 0;

  constructor(readonly budgetBytes: number) {}

  /** Stores a copy of `bm`; returns false when it does not fit the budget. */
  put(cycle: number, bm: Uint8Array): boolean {
    const src = Buffer.from(bm.buffer, bm.byteOffset, bm.length);
    const packed = lib().compressSync(src);
    if (this.used + packed.length > this.budgetBytes) {
      this.dropped++;
      return false;
    }
    this.slots.set(cycle, { data: packed, len: bm.length });
    this.used += packed.length;
    return true;
  }

  /** Restores cycle's bitmap into `into`; false when it was not cached. Frees the slot. */
  take(cycle: number, into: Uint8Array): boolean {
    const s = this.slots.get(cycle);
    if (!s) return false;
    const out = lib().uncompressSync(s.data);
    if (out.length !== s.len) throw new Error(`bitmap cache: cycle ${cycle} restored ${out.length} bytes, expected ${s.len}`);
    into.set(out);
    this.slots.delete(cycle);
    this.used -= s.data.length;
    return true;
  }

  get bytesUsed(): number {
    return this.used;
  }
}

// Finished 2nd-bitmap cycles kept between pass 1 (count) and pass 2 (write), so that
// mem_map is scanned once. Written to a dump file, each cycle goes straight to its final
// place in the file's 2nd bitmap and is read back from there: no memory at all, whatever
// the bitmap looks like. Otherwise (a stream on stdout, ELF output, --split, --dry-run)
// cycles are kept run-length coded in memory within a fixed budget (codec/bitmap-runs.ts):
// bitmaps of real memory are long runs of 0x00 and 0xff and shrink by orders of magnitude;
// a cycle that does not fit the budget is rescanned in pass 2, as makedumpfile rescans
// every cycle.

import * as fs from 'fs';
import * as path from 'path';
import { decodeRunsInto, encodeRuns } from '../codec/bitmap-runs';
import type { OutputBitmapStore } from '../format/dump-writer';

interface Slot {
  /** in memory, or at `fileOffset` of the spill file, or as it is at `fileOffset` of the output */
  data?: Buffer;
  inOutput?: boolean;
  fileOffset: number;
  packedLen: number;
  len: number;
}

export class BitmapCache {
  private readonly slots = new Map<number, Slot>();
  private used = 0;
  /** cycles that did not fit */
  dropped = 0;
  private spillFd = -1;
  private spillEnd = 0;

  /**
   * @param spillDir --work-dir: cycles over the memory budget go to a file there (unlinked
   *   at once) instead of being scanned again
   */
  constructor(readonly budgetBytes: number, private readonly spillDir?: string) {}

  private output?: OutputBitmapStore;
  /** set when a write to the output failed: later cycles go to memory */
  private outputFull = false;
  /** set once a cycle was written to the output */
  private wroteOutput = false;

  /** From now on, cycles are stored in the dump file's 2nd bitmap (see the top of this file). */
  useOutput(store: OutputBitmapStore): void {
    this.output = store;
  }

  /** Whether any cycle lives in the output file (its 2nd bitmap is then ahead of pass 2). */
  get usesOutput(): boolean {
    return this.wroteOutput;
  }

  /** Stores a copy of `bm` (replacing the cycle's earlier one); false when it could not be kept. */
  put(cycle: number, bm: Uint8Array): boolean {
    this.drop(cycle);
    if (this.output && !this.outputFull) {
      const at = this.output.offsetOf(cycle);
      try {
        this.output.write(bm, at);
        this.slots.set(cycle, { inOutput: true, fileOffset: at, packedLen: bm.length, len: bm.length });
        this.wroteOutput = true;
        return true;
      } catch {
        // a full disk: memory from here on; pass 2 will meet the same disk and say so
        this.outputFull = true;
      }
    }
    const code = encodeRuns(bm);
    const packed = Buffer.from(code.buffer, code.byteOffset, code.length);
    if (this.used + packed.length <= this.budgetBytes) {
      this.slots.set(cycle, { data: packed, fileOffset: -1, packedLen: packed.length, len: bm.length });
      this.used += packed.length;
      return true;
    }
    if (this.spillDir !== undefined) {
      if (this.spillFd < 0) {
        const name = path.join(this.spillDir, `cyclodump-bitmap-${process.pid}-${Date.now()}`);
        this.spillFd = fs.openSync(name, 'w+', 0o600);
        fs.unlinkSync(name);
      }
      fs.writeSync(this.spillFd, packed, 0, packed.length, this.spillEnd);
      this.slots.set(cycle, { fileOffset: this.spillEnd, packedLen: packed.length, len: bm.length });
      this.spillEnd += packed.length;
      return true;
    }
    this.dropped++;
    return false;
  }

  private drop(cycle: number): void {
    const s = this.slots.get(cycle);
    if (!s) return;
    if (s.data) this.used -= s.data.length;
    this.slots.delete(cycle);
  }

  /** Restores slot s into into[0, s.len). */
  private unpackInto(s: Slot, into: Uint8Array): void {
    if (s.inOutput) {
      this.output!.read(into.subarray(0, s.len), s.fileOffset);
      return;
    }
    let packed = s.data;
    if (!packed) {
      packed = Buffer.alloc(s.packedLen);
      fs.readSync(this.spillFd, packed, 0, s.packedLen, s.fileOffset);
    }
    const n = decodeRunsInto(packed, into);
    if (n !== s.len) throw new Error(`bitmap cache: restored ${n} bytes, expected ${s.len}`);
  }

  close(): void {
    if (this.spillFd >= 0) fs.closeSync(this.spillFd);
    this.spillFd = -1;
  }

  /** Restores cycle's bitmap into `into`; false when it was not cached. Frees the slot. */
  take(cycle: number, into: Uint8Array): boolean {
    const s = this.slots.get(cycle);
    if (!s) return false;
    this.unpackInto(s, into);
    this.drop(cycle);
    return true;
  }

  /** Like take(), but the cycle stays cached (for readers that come back to it). */
  peek(cycle: number, into: Uint8Array): boolean {
    const s = this.slots.get(cycle);
    if (!s) return false;
    this.unpackInto(s, into);
    return true;
  }

  get bytesUsed(): number {
    return this.used;
  }
}

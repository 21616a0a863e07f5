// Bit operations on bitmap slices. Bit for pfn p is byte p>>3, mask 1<<(p&7) (LSB first),
// as in the kdump-compressed format. A slice covers pfns [base, base + 8*length); base is
// a multiple of 8.
import { nativeAddon } from '../util/native-addon';
import type { PfnRange } from './pfn-ranges';

export function setBits(bm: Uint8Array, base: number, from: number, to: number): void {
  fillBits(bm, base, from, to, true);
}

export function clearBits(bm: Uint8Array, base: number, from: number, to: number): void {
  fillBits(bm, base, from, to, false);
}

function fillBits(bm: Uint8Array, base: number, from: number, to: number, on: boolean): void {
  let a = Math.max(from, base) - base;
  const b = Math.min(to, base + bm.length * 8) - base;
  if (b <= a) return;
  while (a < b && (a & 7) !== 0) {
    if (on) bm[a >> 3] |= 1 << (a & 7); else bm[a >> 3] &= ~(1 << (a & 7));
    a++;
  }
  const fullEnd = b & ~7;
  if (fullEnd > a) {
    bm.fill(on ? 0xff : 0, a >> 3, fullEnd >> 3);
    a = fullEnd;
  }
  while (a < b) {
    if (on) bm[a >> 3] |= 1 << (a & 7); else bm[a >> 3] &= ~(1 << (a & 7));
    a++;
  }
}

/** Sets the bits of the given ranges that fall inside the slice. */
export function setRanges(bm: Uint8Array, base: number, ranges: readonly PfnRange[]): void {
  const hi = base + bm.length * 8;
  for (const [s, e] of ranges) {
    if (e <= base) continue;
    if (s >= hi) break;
    setBits(bm, base, s, e);
  }
}

/** set bits of each byte value */
export const POP8 = new Uint8Array(256);
for (let i = 0; i < 256; i++) POP8[i] = (i & 1) + POP8[i >> 1];

/** set bits of a 32-bit word */
export function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** below this many bytes the JavaScript loop costs less than a call into the addon */
const NATIVE_POPCOUNT_BYTES = 256;
let nativePopcount: ((bm: Uint8Array, from: number, to: number) => number) | null | undefined;

/** Number of set bits in bytes [from, to) of the slice. */
export function popcountBytes(bm: Uint8Array, from = 0, to = bm.length): number {
  if (to - from >= NATIVE_POPCOUNT_BYTES) {
    nativePopcount ??= (nativeAddon() as { popcountBytes?: typeof nativePopcount } | undefined)?.popcountBytes ?? null;
    if (nativePopcount) return nativePopcount(bm, from, to);
  }
  return popcountBytesHere(bm, from, to);
}

/** popcountBytes in JavaScript: the addon's answer is checked against it (test/filter/bitmap) */
export function popcountBytesHere(bm: Uint8Array, from = 0, to = bm.length): number {
  let n = 0;
  // whole 32-bit words where alignment allows; bitmaps are mostly 0x00/0xff runs
  let i = from;
  for (; i < to && ((bm.byteOffset + i) & 3) !== 0; i++) n += POP8[bm[i]];
  const words = Math.floor((to - i) / 4);
  if (words > 0) {
    const w = new Uint32Array(bm.buffer, bm.byteOffset + i, words);
    for (let k = 0; k < words; k++) {
      let v = w[k];
      if (v === 0) continue;
      if (v === 0xffffffff) { n += 32; continue; }
      // popcount32 written out: without TurboFan (launch.ts) nothing inlines the call, which
      // costs this loop more than the arithmetic (perf/RESULTS.md, "popcount32 inline")
      v = v - ((v >>> 1) & 0x55555555);
      v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
      n += (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
    }
    i += words * 4;
  }
  for (; i < to; i++) n += POP8[bm[i]];
  return n;
}

export function testBit(bm: Uint8Array, base: number, pfn: number): boolean {
  const i = pfn - base;
  return (bm[i >> 3] & (1 << (i & 7))) !== 0;
}

// Seeded pseudo-random numbers for the synthetic vmcore generator.
// Every decision is drawn from a stream seeded by (global seed, place), so any
// part of the synthetic memory (a 4 MiB chunk, a 1 GiB region) can be rebuilt on
// its own, in any order, and comes out the same: the struct page pass and the
// page data pass plan each chunk independently and must agree.

/** 32-bit integer hash (finaliser of a splitmix-style generator). */
export function mix32(x: number): number {
  let a = (x + 0x9e3779b9) | 0;
  a ^= a >>> 16;
  a = Math.imul(a, 0x21f0aaad);
  a ^= a >>> 15;
  a = Math.imul(a, 0x735a2d97);
  a ^= a >>> 15;
  return a >>> 0;
}

/** Hash of a seed and a list of non-negative integers (each may exceed 2^32). */
export function hashOf(seed: number, ...parts: number[]): number {
  let h = mix32(seed >>> 0);
  for (const p of parts) {
    const lo = p >>> 0;
    const hi = Math.floor(p / 0x100000000) >>> 0;
    h = mix32((h ^ lo) >>> 0);
    if (hi !== 0) h = mix32((h ^ hi ^ 0x5bd1e995) >>> 0);
  }
  return h;
}

/** sfc32: small, fast, good enough for layout decisions. */
export class Rng {
  private a = 0;
  private b = 0;
  private c = 0;
  private d = 0;

  constructor(seed = 0) {
    this.reseed(seed);
  }

  reseed(seed: number): this {
    this.a = mix32(seed) | 0;
    this.b = mix32(seed ^ 0x1b873593) | 0;
    this.c = mix32(seed ^ 0x85ebca6b) | 0;
    this.d = 1;
    for (let i = 0; i < 12; i++) this.u32();
    return this;
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** uniform in [0, 1) */
  next(): number {
    return this.u32() / 4294967296;
  }

  /** integer in [0, n), n ≤ 2^32 */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** BigInt in [0, n) for n < 2^64 */
  bigBelow(n: bigint): bigint {
    const v = (BigInt(this.u32()) << 32n) | BigInt(this.u32());
    return v % n;
  }
}

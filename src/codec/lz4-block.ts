// Decoder for what lz4-napi's compressSync writes: the uncompressed size (u32 LE), then one
// LZ4 block (sequences of: a token whose high nibble is the literal count and low nibble
// the match length minus 4, 15 meaning "more bytes follow, each added, until one is below
// 255"; the literals; a u16 LE match offset back into the output; the last sequence has
// literals only). Ours, so that a cached bitmap is restored straight into the cycle buffer:
// lz4-napi's uncompressSync returns a new buffer of memory V8 does not see, which piles up
// uncollected (a bitmap per cycle, up to 4 MiB each).

/** Decodes `src` into dst[0, n) and returns n, the size recorded in `src`. Throws when `src` is malformed or dst too small. */
export function lz4DecodeInto(src: Uint8Array, dst: Uint8Array): number {
  if (src.length < 4) throw new Error('lz4 block: no size prefix');
  const size = (src[0] | (src[1] << 8) | (src[2] << 16) | (src[3] << 24)) >>> 0;
  if (size > dst.length) throw new Error(`lz4 block: ${size} bytes do not fit in ${dst.length}`);
  let ip = 4;
  let op = 0;
  const end = src.length;
  while (ip < end) {
    const token = src[ip++];
    let lit = token >>> 4;
    if (lit === 15) {
      let b: number;
      do {
        if (ip >= end) throw new Error('lz4 block: literal length runs past the end');
        b = src[ip++];
        lit += b;
      } while (b === 255);
    }
    if (ip + lit > end || op + lit > size) throw new Error('lz4 block: literals run past the end');
    dst.set(src.subarray(ip, ip + lit), op);
    ip += lit;
    op += lit;
    if (ip === end) break; // the last sequence: literals only
    if (ip + 2 > end) throw new Error('lz4 block: truncated match offset');
    const offset = src[ip] | (src[ip + 1] << 8);
    ip += 2;
    if (offset === 0 || offset > op) throw new Error('lz4 block: match offset outside the output');
    let len = (token & 15) + 4;
    if ((token & 15) === 15) {
      let b: number;
      do {
        if (ip >= end) throw new Error('lz4 block: match length runs past the end');
        b = src[ip++];
        len += b;
      } while (b === 255);
    }
    if (op + len > size) throw new Error('lz4 block: match runs past the recorded size');
    let from = op - offset;
    if (offset >= len) {
      dst.copyWithin(op, from, from + len);
      op += len;
    } else {
      // an overlapping match repeats the last `offset` bytes
      for (let i = 0; i < len; i++) dst[op++] = dst[from++];
    }
  }
  if (op !== size) throw new Error(`lz4 block: ${op} bytes decoded, ${size} recorded`);
  return size;
}

// A run-length code for bitmap slices, which are long runs of 0x00 and 0xff bytes (memory
// that is all kept or all excluded) with mixed bytes between: a varint per run, whose low
// two bits say what follows it. Smaller and faster than LZ4 on such data (perf/RESULTS.md),
// and decoded straight into the caller's buffer with fill() and set().
//   token = length << 2 | kind; kind 0: length bytes of 0x00, 1: of 0xff, 2: length bytes
//   copied from the stream; the stream starts with the slice's length as a varint.

/** runs shorter than this are kept in a literal: a token costs as much */
const MIN_RUN = 4;

function putVarint(out: Uint8Array, at: number, v: number): number {
  while (v >= 0x80) {
    out[at++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[at++] = v;
  return at;
}

/** The length of the run of byte src[i] from i on, up to `end`. */
function runLength(src: Uint8Array, i: number, end: number): number {
  const b = src[i];
  let j = i + 1;
  while (j < end && src[j] === b) j++;
  return j - i;
}

/** Encodes src; the result is at most src.length + src.length / 64 + 16 bytes. */
export function encodeRuns(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(src.length + Math.ceil(src.length / 64) + 16);
  let o = putVarint(out, 0, src.length);
  let litStart = 0;
  const flushLiteral = (end: number): void => {
    if (end > litStart) {
      o = putVarint(out, o, ((end - litStart) * 4) + 2);
      out.set(src.subarray(litStart, end), o);
      o += end - litStart;
    }
  };
  let i = 0;
  while (i < src.length) {
    const b = src[i];
    if (b !== 0 && b !== 0xff) {
      i++;
      continue;
    }
    const n = runLength(src, i, src.length);
    if (n < MIN_RUN) {
      i += n;
      continue;
    }
    flushLiteral(i);
    o = putVarint(out, o, n * 4 + (b === 0 ? 0 : 1));
    i += n;
    litStart = i;
  }
  flushLiteral(src.length);
  return out.slice(0, o);
}

/** Decodes `code` into dst[0, n) and returns n. Throws when `code` is malformed or dst too small. */
export function decodeRunsInto(code: Uint8Array, dst: Uint8Array): number {
  let at = 0;
  const varint = (): number => {
    let v = 0;
    let scale = 1;
    for (;;) {
      if (at >= code.length || scale > 2 ** 49) throw new Error('bitmap runs: truncated');
      const b = code[at++];
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 0x80;
    }
  };
  const size = varint();
  if (size > dst.length) throw new Error(`bitmap runs: ${size} bytes do not fit in ${dst.length}`);
  let o = 0;
  while (at < code.length) {
    const t = varint();
    const kind = t % 4;
    const n = Math.floor(t / 4);
    if (o + n > size || kind === 3) throw new Error('bitmap runs: run past the recorded size');
    if (kind === 2) {
      if (at + n > code.length) throw new Error('bitmap runs: literal past the end');
      dst.set(code.subarray(at, at + n), o);
      at += n;
    } else {
      dst.fill(kind === 0 ? 0 : 0xff, o, o + n);
    }
    o += n;
  }
  if (o !== size) throw new Error(`bitmap runs: ${o} bytes decoded, ${size} recorded`);
  return size;
}

// The bitmap cache's codec (src/pipeline/bitmap-cache.ts): lz4-napi with our LZ4 block
// decoder against the run-length code of src/codec/bitmap-runs.ts, on the 2nd bitmaps of
// kdump files: bytes kept and CPU time to pack and to restore, alternating.
//   node dist/perf/bitmap-codecs.js ROUNDS DUMP...
import * as fs from 'fs';
import { decodeRunsInto, encodeRuns } from '../src/codec/bitmap-runs';
import { DiskDumpHeader } from '../src/format/diskdump';

type Lz4 = typeof import('lz4-napi');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const lz4 = require('lz4-napi') as Lz4;

function secondBitmap(file: string): Uint8Array {
  const fd = fs.openSync(file, 'r');
  const head = Buffer.alloc(4096);
  fs.readSync(fd, head, 0, head.length, 0);
  const h = DiskDumpHeader.decode(head, 0);
  const block = h.block_size;
  const half = (h.bitmap_blocks / 2) * block;
  const out = Buffer.alloc(half);
  fs.readSync(fd, out, 0, half, (1 + h.sub_hdr_size) * block + half);
  fs.closeSync(fd);
  return out;
}

/** The LZ4 block decoder bitmap-cache.ts used: the size prefix, then one block. */
function lz4DecodeInto(src: Uint8Array, dst: Uint8Array): number {
  const size = (src[0] | (src[1] << 8) | (src[2] << 16) | (src[3] << 24)) >>> 0;
  let ip = 4;
  let op = 0;
  while (ip < src.length) {
    const token = src[ip++];
    let lit = token >>> 4;
    if (lit === 15) for (let b = 255; b === 255; lit += b) b = src[ip++];
    dst.set(src.subarray(ip, ip + lit), op);
    ip += lit;
    op += lit;
    if (ip === src.length) break;
    const offset = src[ip] | (src[ip + 1] << 8);
    ip += 2;
    let len = (token & 15) + 4;
    if ((token & 15) === 15) for (let b = 255; b === 255; len += b) b = src[ip++];
    let from = op - offset;
    if (offset >= len) {
      dst.copyWithin(op, from, from + len);
      op += len;
    } else for (let i = 0; i < len; i++) dst[op++] = dst[from++];
  }
  return size;
}

const cpu = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };

function main(): void {
  const rounds = Number(process.argv[2]);
  for (const file of process.argv.slice(3)) {
    const bm = secondBitmap(file);
    const back = new Uint8Array(bm.length);
    const t = { lz4Pack: 0, lz4Unpack: 0, runsPack: 0, runsUnpack: 0 };
    let lz4Bytes = 0;
    let runsBytes = 0;
    const reps = Math.max(1, Math.round(2 ** 26 / bm.length));
    for (let r = 0; r < rounds; r++) {
      let t0 = cpu();
      let packed: Uint8Array = bm;
      for (let i = 0; i < reps; i++) packed = lz4.compressSync(Buffer.from(bm.buffer, bm.byteOffset, bm.length));
      t.lz4Pack += cpu() - t0;
      lz4Bytes = packed.length;
      t0 = cpu();
      for (let i = 0; i < reps; i++) lz4DecodeInto(packed, back);
      t.lz4Unpack += cpu() - t0;
      if (!Buffer.from(back).equals(Buffer.from(bm))) throw new Error('lz4 round trip');
      back.fill(0);
      t0 = cpu();
      for (let i = 0; i < reps; i++) packed = encodeRuns(bm);
      t.runsPack += cpu() - t0;
      runsBytes = packed.length;
      t0 = cpu();
      for (let i = 0; i < reps; i++) decodeRunsInto(packed, back);
      t.runsUnpack += cpu() - t0;
      if (!Buffer.from(back).equals(Buffer.from(bm))) throw new Error('runs round trip');
    }
    const per = (ms: number): string => `${(ms / rounds / reps * 1000).toFixed(1)} µs`;
    console.log(`${file}: 2nd bitmap ${bm.length} bytes; lz4 ${lz4Bytes} bytes, pack ${per(t.lz4Pack)}, restore ${per(t.lz4Unpack)}; `
      + `runs ${runsBytes} bytes, pack ${per(t.runsPack)}, restore ${per(t.runsUnpack)} (CPU time per bitmap, ${rounds} rounds of ${reps})`);
  }
}

main();

// Page contents. Non-zero pages are cut from pools built once from the seed,
// so filling a page is a 4 KiB copy plus an 8-byte stamp (the pfn), never a
// per-byte loop. The stamp makes every page non-zero and different from its
// neighbours while keeping the pool's compressibility.

import { Rng, mix32 } from './prng';
import { PAGE } from './layout';

export const enum C {
  ZERO = 0,
  TEXT, // log-like lines
  MIXED, // 1 KiB random, 3 KiB of one repeated word
  RANDOM, // incompressible
  REPEAT, // one of a few fixed 4 KiB blocks
  SPARSE, // 16-byte header, rest zero
  KSTRUCT, // kernel objects: pointers, small integers, list heads
  CODE, // machine-code-like bytes
}

const POOL = 4 * 2 ** 20;

const WORDS = [
  'alpha', 'bravo', 'cache', 'delta', 'error', 'flush', 'guard', 'hash', 'index', 'journal', 'kernel', 'lock',
  'mount', 'node', 'open', 'page', 'queue', 'read', 'sync', 'timer', 'update', 'vector', 'write', 'xfer',
  'yield', 'zone', 'block', 'device', 'driver', 'buffer', 'request', 'inode', 'socket', 'packet', 'thread',
  'worker', 'signal', 'memory', 'region', 'table', 'entry', 'commit', 'offset', 'length', 'status', 'ready',
  'failed', 'retry', 'start', 'stop', 'done', 'link', 'port', 'clock', 'power', 'state', 'event', 'level',
];
const SUBSYSTEMS = ['net', 'blk', 'ext4', 'xfs', 'nvme', 'pci', 'usb', 'mm', 'sched', 'rcu', 'acpi', 'tcp', 'md', 'dm'];

export class ContentPools {
  readonly text: Buffer;
  readonly random: Buffer;
  readonly kstruct: Buffer;
  readonly code: Buffer;
  readonly words: Buffer[];
  readonly blocks: Buffer[];
  private readonly salt: number;
  /** page-sized windows into the pools at 1 KiB steps: TypedArray.set from a
   * prepared view is a plain memcpy, no view allocated per page */
  private readonly textViews: Uint8Array[];
  private readonly randomViews: Uint8Array[];
  private readonly kstructViews: Uint8Array[];
  private readonly codeViews: Uint8Array[];
  private readonly randomHeads: Uint8Array[];

  constructor(seed: number, pointerHi: number) {
    const rng = new Rng(seed ^ 0x636f6e74);
    this.salt = mix32(seed ^ 0x7374616d);
    this.random = randomBytes(rng, POOL);
    this.text = logText(rng, POOL);
    this.kstruct = kernelObjects(rng, POOL, pointerHi);
    this.code = machineCode(rng, POOL);
    this.words = [];
    for (let i = 0; i < 64; i++) {
      const w = Buffer.from(`${WORDS[rng.below(WORDS.length)]}${i} `, 'latin1');
      const b = Buffer.alloc(3 * 1024);
      for (let o = 0; o < b.length; o += w.length) w.copy(b, o, 0, Math.min(w.length, b.length - o));
      this.words.push(b);
    }
    this.blocks = [];
    for (let i = 0; i < 8; i++) {
      const b = Buffer.alloc(PAGE);
      this.text.copy(b, 0, i * 8192, i * 8192 + PAGE / 2);
      this.random.copy(b, PAGE / 2, i * 512, i * 512 + 64);
      b.writeUInt32LE(0x424c4b00 + i, 0);
      this.blocks.push(b);
    }
    const views = (pool: Buffer, len: number): Uint8Array[] => {
      const out: Uint8Array[] = [];
      for (let o = 0; o + len <= pool.length; o += 1024) out.push(pool.subarray(o, o + len));
      return out;
    };
    this.textViews = views(this.text, PAGE);
    this.randomViews = views(this.random, PAGE);
    this.kstructViews = views(this.kstruct, PAGE);
    this.codeViews = views(this.code, PAGE);
    this.randomHeads = views(this.random, 1024);
  }

  /** Writes one page of kind `kind` (not ZERO) for `pfn` at `buf[off]`. */
  fill(buf: Buffer, off: number, kind: number, pfn: number): void {
    const h = (mix32((pfn ^ this.salt) >>> 0) ^ Math.floor(pfn / 4294967296)) >>> 0;
    switch (kind) {
      case C.TEXT: buf.set(this.textViews[h % this.textViews.length], off); break;
      case C.RANDOM: buf.set(this.randomViews[h % this.randomViews.length], off); break;
      case C.KSTRUCT: buf.set(this.kstructViews[h % this.kstructViews.length], off); break;
      case C.CODE: buf.set(this.codeViews[h % this.codeViews.length], off); break;
      case C.MIXED:
        buf.set(this.randomHeads[h % this.randomHeads.length], off);
        buf.set(this.words[h & 63], off + 1024);
        break;
      case C.REPEAT:
        buf.set(this.blocks[h & 7], off);
        return; // identical blocks on purpose (a process writing one block everywhere)
      case C.SPARSE:
        buf.fill(0, off, off + PAGE);
        break;
      default:
        throw new Error(`bad content kind ${kind}`);
    }
    // Stamp: pfn and a marker, never zero.
    buf.writeUInt32LE(pfn >>> 0, off);
    buf.writeUInt32LE((0x5350000 | (Math.floor(pfn / 4294967296) & 0xffff)) >>> 0, off + 4);
    if (kind === C.SPARSE) buf.writeUInt32LE(h, off + 8);
  }
}

function randomBytes(rng: Rng, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i += 4) b.writeUInt32LE(rng.u32(), i);
  return b;
}

function logText(rng: Rng, n: number): Buffer {
  const parts: string[] = [];
  let size = 0;
  let t = 0;
  while (size < n) {
    t += rng.next() * 0.05;
    const sub = SUBSYSTEMS[rng.below(SUBSYSTEMS.length)];
    const nw = 3 + rng.below(9);
    const words: string[] = [];
    for (let i = 0; i < nw; i++) {
      const r = rng.next();
      if (r < 0.15) words.push(`0x${rng.u32().toString(16).padStart(8, '0')}`);
      else if (r < 0.3) words.push(String(rng.below(100000)));
      else words.push(WORDS[rng.below(WORDS.length)]);
    }
    const line = `[${t.toFixed(6).padStart(13, ' ')}] ${sub}${rng.below(8)}: ${words.join(' ')}\n`;
    parts.push(line);
    size += line.length;
  }
  return Buffer.from(parts.join(''), 'latin1').subarray(0, n);
}

function kernelObjects(rng: Rng, n: number, pointerHi: number): Buffer {
  const b = Buffer.alloc(n);
  const objects = [16, 32, 64, 128, 192, 256];
  let o = 0;
  while (o < n) {
    const size = objects[rng.below(objects.length)];
    const end = Math.min(o + size, n);
    for (let p = o; p + 8 <= end; p += 8) {
      const r = rng.next();
      if (r < 0.35) {
        // kernel pointer into the direct map or vmemmap
        b.writeUInt32LE((rng.u32() & ~7) >>> 0, p);
        b.writeUInt32LE(pointerHi >>> 0, p + 4);
      } else if (r < 0.55) {
        b.writeUInt32LE(rng.below(4096), p);
      } else if (r < 0.6) {
        b.writeUInt32LE(0xffffffff, p);
        b.writeUInt32LE(0xffffffff, p + 4);
      }
      // else zero
    }
    o = end;
  }
  return b;
}

function machineCode(rng: Rng, n: number): Buffer {
  // Byte patterns shaped like x86-64 function bodies: prologue, moves, calls, ret, padding.
  const ops: number[][] = [
    [0x55], [0x48, 0x89, 0xe5], [0x41, 0x57], [0x41, 0x56], [0x53], [0x48, 0x83, 0xec], [0x48, 0x8b],
    [0x48, 0x89], [0x8b], [0x89], [0xe8], [0x0f, 0x1f, 0x44, 0x00, 0x00], [0x85, 0xc0], [0x74], [0x75],
    [0x5b], [0x5d], [0xc3], [0xcc], [0x31, 0xc0], [0x48, 0x8d],
  ];
  const b = Buffer.alloc(n);
  let o = 0;
  while (o < n - 16) {
    const op = ops[rng.below(ops.length)];
    for (const x of op) b[o++] = x;
    const imm = rng.next() < 0.5 ? 1 : rng.next() < 0.5 ? 4 : 0;
    for (let i = 0; i < imm; i++) b[o++] = rng.next() < 0.3 ? 0 : rng.u32() & 0xff;
  }
  b.fill(0xcc, o);
  return b;
}

/** True when the 4096 bytes at `off` are all zero (word-wise, stops at the first non-zero word). */
export function isZeroPage(w32: Int32Array, off: number): boolean {
  const i0 = off >>> 2;
  const i1 = i0 + PAGE / 4;
  for (let i = i0; i < i1; i++) if (w32[i] !== 0) return false;
  return true;
}

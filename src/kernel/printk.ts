// --dump-dmesg / --partial-dmesg: the crashed kernel's log, read through kernel virtual
// addresses and formatted as makedumpfile 1.7.2 writes it. Three layouts, chosen as
// makedumpfile chooses them (spec dmesg.md):
//   * SYMBOL(prb): the lockless ring buffer of Linux 5.10+ (descriptor ring + text ring);
//   * 3.5 .. 5.9: the structured log_buf of variable-length records (printk_log / log);
//   * before 3.5: a plain character ring, copied out verbatim.
// Every size taken from VMCOREINFO or from the dump's memory is capped, so a corrupt dump
// costs bounded time and memory and ends in a one-line DumpError.
import { DumpError } from '../util/errors';
import type { KernelModel } from './kernel-model';
import type { VmcoreInfo } from './vmcoreinfo';

export interface DmesgOptions {
  /** --partial-dmesg: start at clear_seq (lockless) / clear_idx (structured) */
  partial?: boolean;
}

/** Anything that reads kernel virtual memory (an architecture's translator). */
export interface VirtReader {
  /** bytes read from the start of the range before the first unreadable page */
  readVirt(va: bigint, buf: Uint8Array, off: number, len: number): number;
}

/** Largest ring / array copied out of the dump in one piece. */
export const MAX_LOG_ARRAY_BYTES = 256 << 20;
/** Largest printk structure (printk_ringbuffer, prb_desc, printk_info, printk_log) accepted. */
const MAX_STRUCT_SIZE = 4096;
/** Largest text extractDmesg() collects in memory (the streaming writeDmesg has no limit). */
export const MAX_DMESG_TEXT_BYTES = 1 << 30;

const KERNEL_3_5 = 0x030500;
const KERNEL_2_6_25 = 0x020619;

/** The log was found but is damaged; the text before the damage was emitted (as makedumpfile writes it). */
export class DmesgCorruptError extends DumpError {
  constructor(message: string, public partialText: Buffer = Buffer.alloc(0)) {
    super('dmesg-corrupt', message);
    this.name = 'DmesgCorruptError';
  }
}

/**
 * Writes the kernel log text in chunks to `emit` (streaming: output size is not bounded by
 * memory). Throws DumpError when the log cannot be found or read; DmesgCorruptError after
 * emitting what makedumpfile would have written when a structured log_buf is corrupt.
 */
export function writeDmesg(km: KernelModel, opts: DmesgOptions, emit: (chunk: Buffer) => void): void {
  const vi = km.vmcoreinfo;
  const tr = km.translator;
  if (vi === undefined || tr === undefined) {
    throw new DumpError('dmesg-no-vmcoreinfo', "the dump has no VMCOREINFO: can't locate the kernel log");
  }
  const out = new ChunkOut(emit);
  try {
    if (vi.has('SYMBOL(prb)')) {
      dumpLockless(vi, tr, opts.partial === true, out);
    } else {
      dumpLogBuf(vi, tr, km.kernelVersion, opts.partial === true, out);
    }
  } finally {
    out.flush();
  }
}

/** The whole log as makedumpfile --dump-dmesg writes it. */
export function extractDmesg(km: KernelModel, opts: DmesgOptions = {}): Buffer {
  const chunks: Buffer[] = [];
  let total = 0;
  const collect = (c: Buffer): void => {
    total += c.length;
    if (total > MAX_DMESG_TEXT_BYTES) {
      throw new DumpError('dmesg-too-large', `the kernel log text exceeds ${MAX_DMESG_TEXT_BYTES} bytes: the log buffer is corrupt`);
    }
    chunks.push(c);
  };
  try {
    writeDmesg(km, opts, collect);
  } catch (e) {
    if (e instanceof DmesgCorruptError) e.partialText = Buffer.concat(chunks);
    throw e;
  }
  return Buffer.concat(chunks);
}

// ---------------------------------------------------------------------------------------
// output formatting (dmesg.md §3)

const HEX = '0123456789abcdef';

class ChunkOut {
  private buf = Buffer.allocUnsafe(1 << 20);
  private pos = 0;

  constructor(private readonly emit: (chunk: Buffer) => void) {}

  private room(n: number): void {
    if (this.pos + n > this.buf.length) {
      this.flush();
      if (n > this.buf.length) this.buf = Buffer.allocUnsafe(n);
    }
  }

  ascii(s: string): void {
    this.room(s.length);
    this.pos += this.buf.write(s, this.pos, 'latin1');
  }

  bytes(b: Uint8Array): void {
    let at = 0;
    while (at < b.length) {
      this.room(1);
      const n = Math.min(b.length - at, this.buf.length - this.pos);
      this.buf.set(b.subarray(at, at + n), this.pos);
      this.pos += n;
      at += n;
    }
  }

  /**
   * One record: "[sssss.uuuuuu] " then the text with newlines indented under the text
   * start and non-printable bytes escaped as \xNN of the byte taken as a signed C char.
   */
  record(tsNsec: bigint, text: Uint8Array): void {
    const secs = tsNsec / 1000000000n;
    const usec = (tsNsec % 1000000000n) / 1000n;
    const prefix = `[${secs.toString().padStart(5, ' ')}.${usec.toString().padStart(6, '0')}] `;
    const indent = prefix.length;
    this.ascii(prefix);
    // worst case per input byte: "\n" + indent spaces, or 10 bytes of "\xffffffNN"
    const per = Math.max(indent + 1, 10);
    for (let i = 0; i < text.length; i++) {
      if (this.pos + per > this.buf.length) this.flush();
      const b = text[i];
      const buf = this.buf;
      if (b === 0x0a) {
        buf[this.pos++] = 0x0a;
        buf.fill(0x20, this.pos, this.pos + indent);
        this.pos += indent;
      } else if ((b >= 0x20 && b <= 0x7e) || (b >= 0x09 && b <= 0x0d)) {
        buf[this.pos++] = b;
      } else {
        buf[this.pos++] = 0x5c; // '\'
        buf[this.pos++] = 0x78; // 'x'
        if (b >= 0x80) {
          // a negative char promoted to int, printed with %02x
          for (let k = 0; k < 6; k++) buf[this.pos++] = 0x66; // 'f'
        }
        buf[this.pos++] = HEX.charCodeAt(b >> 4);
        buf[this.pos++] = HEX.charCodeAt(b & 15);
      }
    }
    this.room(1);
    this.buf[this.pos++] = 0x0a;
  }

  flush(): void {
    if (this.pos === 0) return;
    const chunk = Buffer.from(this.buf.subarray(0, this.pos));
    this.pos = 0;
    this.emit(chunk);
  }
}

// ---------------------------------------------------------------------------------------
// memory access

function hex(v: bigint | number): string {
  return '0x' + v.toString(16);
}

function readBytes(tr: VirtReader, va: bigint, len: number, what: string): Buffer {
  if (len > MAX_LOG_ARRAY_BYTES) {
    throw new DumpError('dmesg-implausible', `${what} would be ${len} bytes (limit ${MAX_LOG_ARRAY_BYTES}): VMCOREINFO or the dump is corrupt`);
  }
  const b = Buffer.alloc(len);
  if (len > 0 && tr.readVirt(BigInt.asUintN(64, va), b, 0, len) !== len) {
    throw new DumpError('dmesg-read', `can't read ${what} (${len} bytes at ${hex(BigInt.asUintN(64, va))}): not mapped or not in the dump`);
  }
  return b;
}

function readU64(tr: VirtReader, va: bigint, what: string): bigint {
  return readBytes(tr, va, 8, what).readBigUInt64LE(0);
}

function readU32(tr: VirtReader, va: bigint, what: string): number {
  return readBytes(tr, va, 4, what).readUInt32LE(0);
}

function needSize(vi: VmcoreInfo, name: string): number {
  const v = vi.size(name);
  if (v === undefined) throw new DumpError('dmesg-no-layout', `VMCOREINFO has no SIZE(${name}): can't read the kernel log`);
  if (v <= 0 || v > MAX_STRUCT_SIZE) throw new DumpError('dmesg-implausible', `implausible SIZE(${name})=${v} in VMCOREINFO`);
  return v;
}

function needOffset(vi: VmcoreInfo, name: string): number {
  const v = vi.offset(name);
  if (v === undefined) throw new DumpError('dmesg-no-layout', `VMCOREINFO has no OFFSET(${name}): can't read the kernel log`);
  if (v < 0 || v > MAX_STRUCT_SIZE) throw new DumpError('dmesg-implausible', `implausible OFFSET(${name})=${v} in VMCOREINFO`);
  return v;
}

function needSymbol(vi: VmcoreInfo, name: string): bigint {
  const v = vi.symbol(name);
  if (v === undefined) throw new DumpError('dmesg-no-symbol', `VMCOREINFO has no SYMBOL(${name}): can't read the kernel log`);
  return v;
}

/** A field [off, off+width) must lie inside a structure of `size` bytes. */
function inside(off: number, width: number, size: number, what: string): number {
  if (off + width > size) {
    throw new DumpError('dmesg-implausible', `VMCOREINFO places ${what} at byte ${off}, outside its ${size}-byte structure`);
  }
  return off;
}

// ---------------------------------------------------------------------------------------
// lockless ring buffer (Linux 5.10+), dmesg.md §1

const ID_MASK = (1n << 62n) - 1n;
const STATE_COMMITTED = 1;
const STATE_FINALIZED = 2;
const MAX_COUNT_BITS = 26;
const MAX_SIZE_BITS = 30;

/** Where the lockless ring buffer's fields are, each checked to lie inside its struct. */
function locklessLayout(vi: VmcoreInfo) {
  const sizeRb = needSize(vi, 'printk_ringbuffer');
  const offDescRing = needOffset(vi, 'printk_ringbuffer.desc_ring');
  const offTextRing = needOffset(vi, 'printk_ringbuffer.text_data_ring');
  const counter = needOffset(vi, 'atomic_long_t.counter');
  const offCountBits = inside(offDescRing + needOffset(vi, 'prb_desc_ring.count_bits'), 4, sizeRb, 'prb_desc_ring.count_bits');
  const offDescs = inside(offDescRing + needOffset(vi, 'prb_desc_ring.descs'), 8, sizeRb, 'prb_desc_ring.descs');
  const offInfos = inside(offDescRing + needOffset(vi, 'prb_desc_ring.infos'), 8, sizeRb, 'prb_desc_ring.infos');
  const offHead = inside(offDescRing + needOffset(vi, 'prb_desc_ring.head_id') + counter, 8, sizeRb, 'prb_desc_ring.head_id');
  const offTail = inside(offDescRing + needOffset(vi, 'prb_desc_ring.tail_id') + counter, 8, sizeRb, 'prb_desc_ring.tail_id');
  const offSizeBits = inside(offTextRing + needOffset(vi, 'prb_data_ring.size_bits'), 4, sizeRb, 'prb_data_ring.size_bits');
  const offData = inside(offTextRing + needOffset(vi, 'prb_data_ring.data'), 8, sizeRb, 'prb_data_ring.data');
  const sizeDesc = needSize(vi, 'prb_desc');
  const offState = inside(needOffset(vi, 'prb_desc.state_var') + counter, 8, sizeDesc, 'prb_desc.state_var');
  const offBlk = needOffset(vi, 'prb_desc.text_blk_lpos');
  const offBegin = inside(offBlk + needOffset(vi, 'prb_data_blk_lpos.begin'), 8, sizeDesc, 'prb_data_blk_lpos.begin');
  const offNext = inside(offBlk + needOffset(vi, 'prb_data_blk_lpos.next'), 8, sizeDesc, 'prb_data_blk_lpos.next');
  const sizeInfo = needSize(vi, 'printk_info');
  const offTs = inside(needOffset(vi, 'printk_info.ts_nsec'), 8, sizeInfo, 'printk_info.ts_nsec');
  const offTextLen = inside(needOffset(vi, 'printk_info.text_len'), 2, sizeInfo, 'printk_info.text_len');
  return { sizeRb, offCountBits, offDescs, offInfos, offHead, offTail, offSizeBits, offData, sizeDesc, offState, offBegin, offNext, sizeInfo, offTs, offTextLen };
}

function dumpLockless(vi: VmcoreInfo, tr: VirtReader, partial: boolean, out: ChunkOut): void {
  const { sizeRb, offCountBits, offDescs, offInfos, offHead, offTail, offSizeBits, offData, sizeDesc, offState, offBegin, offNext, sizeInfo, offTs, offTextLen } = locklessLayout(vi);

  const rbVa = readU64(tr, needSymbol(vi, 'prb'), 'the prb pointer');
  const rb = readBytes(tr, rbVa, sizeRb, 'the printk ring buffer (prb)');

  const countBits = rb.readUInt32LE(offCountBits);
  if (countBits > MAX_COUNT_BITS) {
    throw new DumpError('dmesg-implausible', `printk descriptor ring of 2^${countBits} entries is implausible: the ring buffer is corrupt`);
  }
  const count = 2 ** countBits;
  const descs = readBytes(tr, rb.readBigUInt64LE(offDescs), count * sizeDesc, 'the printk descriptors (prb.desc_ring.descs)');
  const infos = readBytes(tr, rb.readBigUInt64LE(offInfos), count * sizeInfo, 'the printk record infos (prb.desc_ring.infos)');
  const sizeBits = rb.readUInt32LE(offSizeBits);
  if (sizeBits > MAX_SIZE_BITS) {
    throw new DumpError('dmesg-implausible', `printk text ring of 2^${sizeBits} bytes is implausible: the ring buffer is corrupt`);
  }
  const size = 2 ** sizeBits;
  const text = readBytes(tr, rb.readBigUInt64LE(offData), size, 'the printk text ring (prb.text_data_ring.data)');

  let tail = rb.readBigUInt64LE(offTail);
  const head = rb.readBigUInt64LE(offHead);
  const countBig = BigInt(count);
  if (partial && vi.has('SYMBOL(clear_seq)')) {
    const clearSym = needSymbol(vi, 'clear_seq');
    let clearSeq = readU64(tr, clearSym, 'clear_seq');
    if (vi.size('latched_seq') !== undefined) {
      // a latched_seq holds two copies; the low bit of the first word says which is valid
      const offVal = needOffset(vi, 'latched_seq.val');
      clearSeq = readU64(tr, clearSym + BigInt(offVal) + 8n * (clearSeq & 1n), 'the latched clear_seq');
    }
    tail = BigInt.asUintN(64, head - (head % countBig) + (clearSeq % countBig));
  }
  if (head > ID_MASK) {
    throw new DumpError('dmesg-corrupt', `printk ring buffer head id ${hex(head)} is not a descriptor id: the ring buffer is corrupt`);
  }
  // makedumpfile visits ids tail, tail+1, ... (wrapping at 2^62) up to and including head,
  // looking each up in slot id % count. A record is printed when its slot holds exactly that
  // id in a committed or finalized state. So the printed records are the slots whose id lies
  // in the range, in order of distance from tail: computed here in O(count), however long the
  // range (an id beyond 62 bits, as a first tail, matches nothing).
  const start = tail > ID_MASK ? (tail + 1n) & ID_MASK : tail;
  const span = (head - start) & ID_MASK;
  const cands: { d: bigint; slot: number }[] = [];
  for (let slot = 0; slot < count; slot++) {
    const at = slot * sizeDesc + offState;
    const state = descs.readUInt32LE(at + 4) >>> 30;
    if (state !== STATE_COMMITTED && state !== STATE_FINALIZED) continue;
    const id = descs.readBigUInt64LE(at) & ID_MASK;
    if (Number(id % countBig) !== slot) continue;
    const d = (id - start) & ID_MASK;
    if (d > span) continue;
    cands.push({ d, slot });
  }
  cands.sort((a, b) => (a.d < b.d ? -1 : a.d > b.d ? 1 : 0));

  for (const { slot } of cands) {
    const desc = slot * sizeDesc;
    // block positions modulo the ring size (a power of two no larger than 2^30)
    let begin = descs.readUInt32LE(desc + offBegin) % size;
    const next = descs.readUInt32LE(desc + offNext) % size;
    if (begin === next) continue; // data-less record
    const info = slot * sizeInfo;
    let textLen = infos.readUInt16LE(info + offTextLen);
    if (begin > next) begin = 0; // the block wrapped: its data is at the ring start
    begin += 8; // the block starts with the descriptor id
    if (next >= begin && next - begin < textLen) textLen = next - begin;
    const ts = infos.readBigUInt64LE(info + offTs);
    const end = Math.min(begin + textLen, size);
    out.record(ts, begin < end ? text.subarray(begin, end) : text.subarray(0, 0));
  }
}

// ---------------------------------------------------------------------------------------
// log_buf: structured records (3.5 .. 5.9) and the plain ring (< 3.5), dmesg.md §2

function dumpLogBuf(vi: VmcoreInfo, tr: VirtReader, kernelVersion: number, partial: boolean, out: ChunkOut): void {
  if (!vi.has('SYMBOL(log_buf)') || !vi.has('SYMBOL(log_buf_len)')) {
    throw new DumpError('dmesg-no-symbol',
      "VMCOREINFO has neither SYMBOL(prb) nor SYMBOL(log_buf) and SYMBOL(log_buf_len): can't locate the kernel log");
  }
  const structured = kernelVersion >= KERNEL_3_5;
  let firstIdx = 0;
  let nextIdx = 0;
  if (structured) {
    if (!vi.has('SYMBOL(log_first_idx)') || !vi.has('SYMBOL(log_next_idx)')) {
      throw new DumpError('dmesg-no-symbol',
        "VMCOREINFO has no SYMBOL(log_first_idx)/SYMBOL(log_next_idx): can't walk the kernel log records");
    }
    const firstSym = partial && vi.has('SYMBOL(clear_idx)') ? 'clear_idx' : 'log_first_idx';
    firstIdx = readU32(tr, needSymbol(vi, firstSym), firstSym);
    nextIdx = readU32(tr, needSymbol(vi, 'log_next_idx'), 'log_next_idx');
  }
  const logBuf = readU64(tr, needSymbol(vi, 'log_buf'), 'the log_buf pointer');
  let logEnd = 0n;
  if (!structured) {
    const endSym = needSymbol(vi, 'log_end');
    // log_end is an unsigned int from 2.6.25, an unsigned long before
    logEnd = kernelVersion >= KERNEL_2_6_25 ? BigInt(readU32(tr, endSym, 'log_end')) : readU64(tr, endSym, 'log_end');
  }
  const logBufLen = readBytes(tr, needSymbol(vi, 'log_buf_len'), 4, 'log_buf_len').readInt32LE(0);
  if (logBufLen <= 0 || logBufLen > MAX_LOG_ARRAY_BYTES) {
    throw new DumpError('dmesg-implausible', `log_buf_len=${logBufLen} is implausible: the kernel log is corrupt`);
  }

  if (!structured) {
    // plain character ring, written verbatim
    if (logEnd < BigInt(logBufLen)) {
      out.bytes(readBytes(tr, logBuf, Number(logEnd), 'the kernel log buffer'));
    } else {
      const index = Number(logEnd & BigInt(logBufLen - 1));
      out.bytes(readBytes(tr, logBuf + BigInt(index), logBufLen - index, 'the older part of the kernel log'));
      out.bytes(readBytes(tr, logBuf, index, 'the newer part of the kernel log'));
    }
    return;
  }

  const name = vi.size('printk_log') !== undefined ? 'printk_log' : 'log';
  const sizeLog = needSize(vi, name);
  const offTs = inside(needOffset(vi, `${name}.ts_nsec`), 8, sizeLog, `${name}.ts_nsec`);
  const offLen = inside(needOffset(vi, `${name}.len`), 2, sizeLog, `${name}.len`);
  const offTextLen = inside(needOffset(vi, `${name}.text_len`), 2, sizeLog, `${name}.text_len`);
  const buf = readBytes(tr, logBuf, logBufLen, 'the kernel log buffer (log_buf)');
  walkRecords(buf, { sizeLog, offTs, offLen, offTextLen }, firstIdx, nextIdx, logBuf, out);
}

export interface LogLayout {
  sizeLog: number;
  offTs: number;
  offLen: number;
  offTextLen: number;
}

/**
 * The record walk of makedumpfile 1.7.2 over a copied log_buf. A record with len 0 marks
 * the end of the used buffer: the record read in its place is the one at offset 0. The
 * walk runs from the first index to the next index; a repeated record (Brent's cycle
 * detection) or a next record outside the buffer stops it with an error, after writing
 * what makedumpfile writes: for a cycle, the records up to the cycle's start and the cycle
 * once; for an index outside the buffer, every record read so far.
 *
 * The walk is done twice: first without output, to learn how many records to write and how
 * it ends (bounded: the sequence of in-buffer offsets repeats within the buffer's length),
 * then to write them.
 */
export function walkRecords(buf: Buffer, L: LogLayout, firstIdx: number, nextIdx: number, logBufVa: bigint, out: {
  record(ts: bigint, text: Uint8Array): void;
}): void {
  const len = buf.length;
  const lastOk = len - L.sizeLog; // highest offset where a whole record header fits
  const msgLen = (p: number): number => buf.readUInt16LE(p + L.offLen);
  const fromPtr = (p: number): number => (msgLen(p) === 0 ? 0 : p);
  const next = (p: number): number => {
    const m = msgLen(p);
    return m === 0 ? msgLen(0) : p + m;
  };
  const corrupt = (what: string, idx: number): string =>
    `${what} in the kernel log buffer: log_buf is most likely corrupt (log_buf = ${hex(logBufVa)}, idx = ${hex(idx)})`;

  if (firstIdx === nextIdx) return;
  if (firstIdx > lastOk || lastOk < 0) {
    throw new DmesgCorruptError(corrupt('the first record lies outside the buffer', firstIdx));
  }

  // pass 1: how many records, and how the walk ends
  let count = 0;
  let ending: 'done' | 'outside' | 'cycle' = 'done';
  let badIdx = 0;
  {
    let ptr = firstIdx;
    let slow = firstIdx;
    let fast = firstIdx;
    let length = 0;
    let power = 2;
    while (ptr !== nextIdx) {
      count++; // the record at ptr is written
      if (length === power) {
        length = 0;
        power *= 2;
        slow = fast;
      }
      fast = next(fast);
      length++;
      if (slow === fast) {
        ending = 'cycle';
        ({ count, badIdx } = recordsUpToCycle(firstIdx, length, next, fromPtr));
        break;
      }
      if (fast < 0 || fast > lastOk) {
        ending = 'outside';
        badIdx = fast;
        break;
      }
      ptr = fast;
    }
  }

  // pass 2: write them
  let p = firstIdx;
  for (let k = 0; k < count; k++) {
    const lp = fromPtr(p);
    const textLen = buf.readUInt16LE(lp + L.offTextLen);
    const ts = buf.readBigUInt64LE(lp + L.offTs);
    const from = lp + L.sizeLog;
    out.record(ts, buf.subarray(from, Math.min(from + textLen, len)));
    if (k + 1 < count) p = next(p);
  }
  if (ending === 'cycle') throw new DmesgCorruptError(corrupt('a cycle of records', badIdx));
  if (ending === 'outside') throw new DmesgCorruptError(corrupt('a record index outside the buffer', badIdx));
}

/**
 * For a walk from firstIdx that runs into a cycle of `length` records: how many records
 * makedumpfile writes (those up to the cycle's first element, then one lap), and where it
 * stops.
 */
function recordsUpToCycle(firstIdx: number, length: number, next: (p: number) => number, fromPtr: (p: number) => number):
  { count: number; badIdx: number } {
  let s = firstIdx;
  let f = firstIdx;
  for (let k = 0; k < length; k++) f = next(f);
  let mu = 0;
  while (s !== f) {
    s = next(s);
    f = next(f);
    mu++;
  }
  const first = s;
  let remaining = length;
  let p = firstIdx;
  let inCycle = false;
  let count = 0;
  // makedumpfile counts down the lap from the first record *read as* the cycle's first
  // element; when no record is (a cycle that starts at an end marker) it would write
  // forever: stop after prefix + two laps.
  const limit = mu + 2 * length;
  while (remaining > 0 && count < limit) {
    const lp = fromPtr(p);
    count++;
    p = next(p);
    if (lp === first) inCycle = true;
    if (inCycle) remaining--;
  }
  return { count, badIdx: p };
}

// ---------------------------------------------------------------------------------------
// where the log lives (the pages a cut dump must hold for the log to be read: write order)

/** A range of kernel virtual memory, and what it holds. */
export interface VirtRange {
  va: bigint;
  len: number;
  what: string;
}

/**
 * The kernel memory the log readers above read, found the same way: the ring buffer (or
 * log_buf) pointer variables, the structures they point to and the arrays and text those
 * name. What cannot be read (a dump cut short) ends the list there.
 */
export function logRanges(km: KernelModel): VirtRange[] {
  const vi = km.vmcoreinfo;
  const tr = km.translator;
  const out: VirtRange[] = [];
  if (vi === undefined || tr === undefined) return out;
  const add = (va: bigint, len: number, what: string): void => {
    if (len > 0 && len <= MAX_LOG_ARRAY_BYTES) out.push({ va: BigInt.asUintN(64, va), len, what });
  };
  const sym = (name: string, len: number): void => {
    const v = vi.symbol(name);
    if (v !== undefined) add(v, len, name);
  };
  try {
    if (vi.has('SYMBOL(prb)')) {
      const L = locklessLayout(vi);
      const prb = needSymbol(vi, 'prb');
      add(prb, 8, 'prb');
      sym('printk_rb_static', L.sizeRb);
      sym('clear_seq', vi.size('latched_seq') ?? 8);
      const rbVa = readU64(tr, prb, 'the prb pointer');
      add(rbVa, L.sizeRb, 'printk_ringbuffer');
      const rb = readBytes(tr, rbVa, L.sizeRb, 'the printk ring buffer (prb)');
      const count = 2 ** Math.min(rb.readUInt32LE(L.offCountBits), MAX_COUNT_BITS);
      add(rb.readBigUInt64LE(L.offDescs), count * L.sizeDesc, 'prb descs');
      add(rb.readBigUInt64LE(L.offInfos), count * L.sizeInfo, 'prb infos');
      add(rb.readBigUInt64LE(L.offData), 2 ** Math.min(rb.readUInt32LE(L.offSizeBits), MAX_SIZE_BITS), 'prb text');
    } else if (vi.has('SYMBOL(log_buf)')) {
      for (const s of ['log_buf', 'log_buf_len', 'log_first_idx', 'log_next_idx', 'clear_idx', 'log_end']) sym(s, 8);
      const logBuf = readU64(tr, needSymbol(vi, 'log_buf'), 'the log_buf pointer');
      const len = readBytes(tr, needSymbol(vi, 'log_buf_len'), 4, 'log_buf_len').readInt32LE(0);
      add(logBuf, len, 'log_buf');
    }
  } catch {
    // a pointer that cannot be read: the ranges found so far are all there is
  }
  return out;
}

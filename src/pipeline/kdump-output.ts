// Pass 2 for the kdump-compressed format: headers, both bitmaps, then descriptors and page
// data strictly in pfn order while the pool reads and compresses the pages of later
// batches. Never more than a fixed number of batches in flight: a slow disk stalls the
// workers instead of growing memory. Spec: kdump-compressed.md §1-§7.
import { C_ZERO } from '../filter/dump-level';
import { PageDesc } from '../format/diskdump';
import { KdumpGeometry, dataStart, encodeMainHeader, encodeSubHeader, kdumpGeometry } from '../format/kdump-layout';
import type { DumpSink } from '../format/sink';
import { countPrstatus } from '../vmcore/notes';
import { DESC_LAYOUT, batchLoops } from './batch-loops';
import type { PageBatch, PageBatchResult } from './page-batch';
import type { DumpJob } from './prepare';
import { cycleBitmap, cycleBounds, cycleBuffer } from './scan-pass';
import { CODEC_FLAGS } from '../codec';
import { checkInterrupted } from '../util/interrupt';

/** dumpable pages per pass-2 batch: 4 MiB of input */
export const BATCH_PAGES = 1024;
/** batch data writes handed to libuv at once */
const MAX_WRITES_IN_FLIGHT = 4;
/**
 * Descriptor-table bytes taken (written as zeros) ahead of the descriptors at a time, and
 * descriptor bytes gathered before they are written: every write is a round trip through
 * the main thread's event loop, which costs more than the write itself for the 24 KiB of a
 * batch's descriptors (fewer, larger writes made pass 2 of `-d 1` without a codec much
 * faster: perf/RESULTS.md).
 */
const DESC_RESERVE_BYTES = 1 << 20;
const DESC_GROUP_BYTES = 192 << 10;

/** One batch's descriptors, waiting for the batch's data to be on disk. */
interface PendingDescriptors {
  bytes: Uint8Array;
  pos: number;
  /** descIndex after this batch */
  end: number;
  data: Promise<void>;
  /** set once the data is on disk */
  dataDone: boolean;
}

export interface KdumpWriteOptions {
  /** extra DUMP_DH_* status bits (e.g. 0x10 for -e) */
  extraStatus?: number;
  /** --split: this file's pfn range */
  split?: { startPfn: number; endPfn: number };
}

export interface KdumpWriteResult {
  geometry: KdumpGeometry;
  fileSize: number;
}

export class KdumpWriter {
  readonly g: KdumpGeometry;
  private readonly pageSize: number;
  private descIndex = 0;
  private dataPos = 0;
  private zeroOffset = -1;
  /** descriptors on disk (with their data), from the first */
  written = 0;
  /** end of the descriptor table, where page data starts */
  private descTableEnd = 0;
  /** descriptor-table bytes taken so far, and the write that took the last of them */
  private reservedTo = 0;
  private reservation: Promise<void> = Promise.resolve();
  private pendingDesc: PendingDescriptors[] = [];
  private pendingDescBytes = 0;
  private readonly descWrites: Promise<void>[] = [];
  /** the first failed descriptor write: the stream stops at it */
  failure: unknown;

  constructor(private readonly job: DumpJob, private readonly sink: DumpSink, private readonly o: KdumpWriteOptions = {}) {
    this.pageSize = job.pageSize;
    this.g = kdumpGeometry(job.pageSize, job.vm.noteBytes.length, job.maxMapnr);
  }

  get status(): number {
    return CODEC_FLAGS[this.job.workerSetup.codec] | (this.o.extraStatus ?? 0);
  }

  writeHeaders(): void {
    const job = this.job;
    const info = job.vm;
    this.sink.write(encodeMainHeader(this.g, {
      utsname: job.km.utsname, crashTime: job.km.crashTime, status: this.status, nrCpus: countPrstatus(info.notes),
    }), 0);
    if (info.noteBytes.length > 0) this.sink.write(info.noteBytes, this.g.blockSize + 104);
    this.sink.write(encodeSubHeader(this.g, {
      physBase: job.km.physBase, dumpLevel: job.dumpLevel, noteSize: info.noteBytes.length,
      vmcoreinfoDescOffset: info.vmcoreinfo?.descOffset ?? -1, vmcoreinfoSize: info.vmcoreinfo?.size ?? 0,
      split: this.o.split,
    }), this.g.blockSize);
  }

  /** The 1st bitmap, cycle by cycle from the PT_LOAD ranges (no scan needed). */
  writeMemoryBitmap(): void {
    const job = this.job;
    const bm = new Uint8Array(job.plan.cyclePfns / 8);
    for (let c = 0; c < job.numCycles; c++) {
      const cy = cycleBounds(job, c);
      const len = Math.ceil((cy.end - cy.start) / 8);
      const view = bm.subarray(0, len);
      view.fill(0);
      job.sets.fillMemory(view, cy.start);
      this.sink.write(view, this.g.offsetBitmap1 + cy.start / 8);
    }
  }

  /** Starts the page data area: the shared zero page first, when the level excludes zero pages. */
  startData(): void {
    this.dataPos = dataStart(this.g, this.job.numDumpable);
    this.descTableEnd = this.dataPos;
    this.reservedTo = this.g.offsetDesc;
    if (this.job.workerSetup.excludeZero) {
      this.zeroOffset = this.dataPos;
      this.sink.write(new Uint8Array(this.pageSize), this.dataPos);
      this.dataPos += this.pageSize;
    }
  }

  /** cycles whose 2nd bitmap pass 2 has written, from the first */
  bitmapCycles = 0;

  /** File offset of the 2nd-bitmap byte whose bit 0 is `pfn` (a multiple of 8). */
  bitmap2Offset(pfn: number): number {
    return this.g.offsetBitmap2 + pfn / 8;
  }

  /** This file's slice of a cycle's 2nd bitmap (every split file holds the whole bitmap). */
  writeBitmap2(view: Uint8Array, cycleStart: number): void {
    this.sink.write(view, this.bitmap2Offset(cycleStart));
    this.bitmapCycles++;
  }

  /** pfns whose pages go into this file */
  get range(): { start: number; end: number } {
    return this.o.split ? { start: this.o.split.startPfn, end: this.o.split.endPfn } : { start: 0, end: this.job.maxMapnr };
  }

  /** Page descriptors and data of every cycle, in pfn order (one file). */
  async writePages(): Promise<void> {
    await writePageStream(this.job, [this]);
  }

  /**
   * Turns a batch result into descriptors and writes both, data first: on ENOSPC no
   * descriptor on disk points at data that is not there. Positions are assigned here, in
   * call order. The returned promise settles when the batch's data is on disk (its buffer
   * may then be reused); its descriptors follow in groups (flushDescriptors).
   */
  writeBatch(r: PageBatchResult): Promise<void> {
    const desc = new Uint8Array(PageDesc.size * r.count);
    const batchDataPos = this.dataPos;
    const pos = batchLoops().encodeDescriptors(r.sizes, r.flags, r.count, this.dataPos, this.zeroOffset, this.pageSize, DESC_LAYOUT, desc);
    const descPos = this.g.offsetDesc + PageDesc.size * this.descIndex;
    this.dataPos = pos;
    this.descIndex += r.count;
    this.job.counts[C_ZERO] += r.zeroPages;
    this.job.stats.unreadPages += r.readErrors;
    this.job.progress.written(r.count, r.count * this.pageSize, r.dataLen + desc.length);
    const data = new Uint8Array(r.data, 0, r.dataLen);
    if (!this.sink.writeAsync) {
      if (r.dataLen > 0) this.sink.write(data, batchDataPos);
      this.sink.write(desc, descPos);
      this.written = this.descIndex;
      return Promise.resolve();
    }
    const writeAsync = this.sink.writeAsync.bind(this.sink);
    // the descriptors' blocks are taken (written as zeros) before the data: on a disk that
    // fills up, other batches' data cannot take the room these descriptors need after
    // their data is down, and a descriptor is never cut in half by ENOSPC
    this.reserveDescriptors(descPos + desc.length);
    const written = this.reservation.then(() => (r.dataLen > 0 ? writeAsync(data, batchDataPos) : undefined));
    const entry: PendingDescriptors = { bytes: desc, pos: descPos, end: this.descIndex, data: written, dataDone: false };
    written.then(() => { entry.dataDone = true; }, () => undefined);
    this.pendingDesc.push(entry);
    this.pendingDescBytes += desc.length;
    if (this.pendingDescBytes >= DESC_GROUP_BYTES) this.flushDescriptors();
    return written;
  }

  /** Takes the descriptor table's blocks up to `end`, a large step at a time. */
  private reserveDescriptors(end: number): void {
    if (!this.sink.reserve || end <= this.reservedTo) return;
    const from = this.reservedTo;
    const to = Math.min(this.descTableEnd, Math.max(end, from + DESC_RESERVE_BYTES));
    this.reservation = this.sink.reserve(from, to - from);
    this.reservedTo = to;
  }

  /**
   * Writes the gathered descriptors, as one write, once their batches' data is on disk. A
   * batch whose data failed stops the group there: the descriptors before it still go.
   */
  flushDescriptors(): void {
    const group = this.pendingDesc;
    if (group.length === 0) return;
    this.pendingDesc = [];
    this.pendingDescBytes = 0;
    const writeAsync = this.sink.writeAsync!.bind(this.sink);
    const p = Promise.allSettled(group.map((g) => g.data)).then(async (settled) => {
      let n = 0;
      while (n < settled.length && settled[n].status === 'fulfilled') n++;
      if (n > 0) {
        await writeAsync(joinDescriptors(group, n), group[0].pos);
        this.written = Math.max(this.written, group[n - 1].end);
      }
    }).catch((e) => { this.failure ??= e; });
    this.descWrites.push(p);
    // settled writes leave the list: it stays as short as the writes in flight
    p.then(() => { this.descWrites.splice(this.descWrites.indexOf(p), 1); });
  }

  /** Writes what is left of the descriptors and waits for every descriptor write. */
  async finishDescriptors(): Promise<void> {
    this.flushDescriptors();
    while (this.descWrites.length) await this.descWrites[0];
  }

  /**
   * For a forced exit, which cannot wait: the gathered descriptors whose data is already
   * on disk are written now, on this thread.
   */
  flushWrittenDescriptorsSync(): void {
    let n = 0;
    while (n < this.pendingDesc.length && this.pendingDesc[n].dataDone) n++;
    if (n === 0) return;
    try {
      this.sink.write(joinDescriptors(this.pendingDesc, n), this.pendingDesc[0].pos);
      this.written = Math.max(this.written, this.pendingDesc[n - 1].end);
    } catch {
      // the file is marked incomplete next; these pages read as lost
    }
    this.pendingDesc = this.pendingDesc.slice(n);
  }

  get fileEnd(): number {
    return this.dataPos;
  }
}

/**
 * Pass 2 for one or more files (--split): every cycle's 2nd bitmap goes to every file, its
 * dumpable pages go to the pool in batches cut at file boundaries, and results are written
 * in pfn order to the file whose range holds them. At most a fixed number of batches is in
 * flight: a slow disk stalls the workers instead of growing memory.
 */
export async function writePageStream(job: DumpJob, writers: KdumpWriter[]): Promise<void> {
  const t0 = Date.now();
  for (const w of writers) w.startData();
  job.progress.setWriteTotal(job.numDumpable);
  // with one thread a batch is done when compress() returns: results held back only take
  // buffers, each touched (page faults) the first time it is used. Three writes in flight
  // keep libuv's thread busy while the next batch is read (perf/RESULTS.md). With one
  // usable CPU the file sink writes on this thread instead (FileSinkOptions.syncWrites).
  const inline = job.executor.threads === 1;
  const window = inline ? 1 : job.executor.threads * 3;
  const maxWrites = inline ? 3 : MAX_WRITES_IN_FLIGHT;
  const inFlight: { writer: KdumpWriter; result: Promise<PageBatchResult> }[] = [];
  const writes: Promise<void>[] = [];
  const spare: ArrayBuffer[] = [];
  let seq = 0;
  // a failed write is kept here (or by its writer, for descriptors) and rethrown by the
  // coordinator, never left unhandled
  let writeFailure: unknown;
  const stopIfFailed = (): void => {
    const failed = writeFailure ?? writers.find((w) => w.failure !== undefined)?.failure;
    if (failed !== undefined) throw failed;
  };
  const drainOne = async (): Promise<void> => {
    const head = inFlight.shift()!;
    const r = await head.result;
    stopIfFailed();
    // the buffer goes back to the workers once its data is on disk
    writes.push(head.writer.writeBatch(r).then(() => { spare.push(r.data); }, (e) => { writeFailure ??= e; }));
    if (writes.length >= maxWrites) await writes.shift();
    stopIfFailed();
  };
  const bm = cycleBuffer(job);
  try {
    for (let c = 0; c < job.numCycles; c++) {
      const cy = await cycleBitmap(job, c, bm);
      const len = Math.ceil((cy.end - cy.start) / 8);
      const view = bm.subarray(0, len);
      for (const w of writers) w.writeBitmap2(view, cy.start);
      // a cycle without a dumpable page (a hole in a sparse physical map) has no batch
      if (job.cycleDumpable[c] === 0) continue;
      for (const w of writers) {
        const { start, end } = w.range;
        const from = Math.max(start, cy.start);
        const to = Math.min(end, cy.end);
        if (from >= to) continue;
        for (const batch of batchesOf(view, cy.start, cy.end, BATCH_PAGES, from, to)) {
          checkInterrupted();
          batch.seq = seq++;
          batch.out = spare.pop();
          const result = job.executor.compress(batch);
          // a batch that fails while earlier ones are awaited is reported when its turn
          // comes (or settled in the finally below), never as an unhandled rejection
          result.catch(() => undefined);
          inFlight.push({ writer: w, result });
          if (inFlight.length >= window) await drainOne();
        }
      }
    }
    while (inFlight.length) {
      checkInterrupted();
      await drainOne();
    }
    while (writes.length) await writes.shift();
    for (const w of writers) await w.finishDescriptors();
    stopIfFailed();
  } finally {
    // on failure, let the batches and writes still running end before the pool is torn
    // down and the file marked; the descriptors of pages already on disk are written
    await Promise.allSettled(inFlight.map((f) => f.result));
    await Promise.allSettled(writes);
    for (const w of writers) await w.finishDescriptors();
  }
  job.stats.writeMs = Date.now() - t0;
}

/** Cuts a cycle's bitmap into batches of at most `maxPages` dumpable pages, each starting at a multiple of 8 pfns. */
export function* batchesOf(bm: Uint8Array, start: number, end: number, maxPages: number,
  from = start, to = end): Generator<PageBatch> {
  // a split boundary need not fall on a byte: mask the partial bytes at both ends
  const firstByte = Math.floor((from - start) / 8);
  const nbytes = Math.ceil((to - start) / 8);
  const headMask = 0xff & (0xff << ((from - start) % 8));
  const tailBits = (to - start) % 8;
  const tailMask = tailBits === 0 ? 0xff : (1 << tailBits) - 1;
  const cutNext = batchLoops().cutBatch;
  const cut = new Int32Array(3);
  let byte = firstByte;
  while (cutNext(bm, byte, nbytes, maxPages, firstByte, headMask, tailMask, cut)) {
    const first = cut[0];
    byte = cut[1];
    const count = cut[2];
    const pfnStart = start + first * 8;
    const pfnEnd = Math.min(start + byte * 8, end);
    const bitmap = bm.slice(first, byte);
    if (first === firstByte) bitmap[0] &= headMask;
    if (byte === nbytes) bitmap[bitmap.length - 1] &= tailMask;
    yield { seq: 0, pfnStart, pfnEnd, bitmap, count };
  }
}

/** The descriptors of the first n pending batches (consecutive in the table) as one buffer. */
function joinDescriptors(group: PendingDescriptors[], n: number): Uint8Array {
  if (n === 1) return group[0].bytes;
  let len = 0;
  for (let k = 0; k < n; k++) len += group[k].bytes.length;
  const out = new Uint8Array(len);
  for (let k = 0, at = 0; k < n; k++) {
    out.set(group[k].bytes, at);
    at += group[k].bytes.length;
  }
  return out;
}

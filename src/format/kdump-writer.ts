// The kdump-compressed writer, for one file (a whole dump or one --split part): headers and
// the 1st bitmap, then each cycle's 2nd bitmap, the shared zero page, and page descriptors
// and data as batches come. A batch's descriptors go to their place in the table (the
// dump's page number of its first page says where), its data where the data written so
// far ends: the table stays in pfn order whatever order batches come in. Data is on the
// device (fdatasync) before the descriptors that point at it are written.
// Spec: kdump-compressed.md §1-§7.
import { DESC_LAYOUT, batchLoops } from './batch-loops';
import { DL_EXCLUDE_ZERO, DUMP_DH_COMPRESSED_INCOMPLETE, DiskDumpHeader, KdumpSubHeader, PageDesc } from './diskdump';
import type { CycleBitmap, DumpGeometry, DumpWriter, OutputBitmapStore, PageBatchWrite, SlotRun, StoredPages } from './dump-writer';
import { KdumpGeometry, dataStart, encodeMainHeader, encodeSubHeader, kdumpGeometry } from './kdump-layout';
import { DumpSink, setHeaderBits } from './sink';

/**
 * Descriptor-table bytes taken (written as zeros) ahead of the descriptors at a time, and
 * descriptor bytes gathered before they are written: every write is a round trip through
 * the main thread's event loop, which costs more than the write itself for the 24 KiB of a
 * batch's descriptors (perf/RESULTS.md: fewer, larger writes).
 */
const DESC_RESERVE_BYTES = 1 << 20;
const DESC_GROUP_BYTES = 192 << 10;

/** Everything in a kdump file's headers, and which pages it holds. */
export interface KdumpFileValues {
  pageSize: number;
  maxMapnr: number;
  utsname: Buffer;
  crashTime: number;
  nrCpus: number;
  /** DUMP_DH_* bits of the header status: the codec's, and DUMP_DH_EXCLUDED_VMEMMAP for -e */
  status: number;
  physBase: bigint;
  dumpLevel: number;
  /** the crashed kernel's note segment, copied after the sub-header */
  noteBytes: Buffer;
  /** where VMCOREINFO's descriptor is in noteBytes */
  vmcoreinfo?: { descOffset: number; size: number };
  /** --split: this part's pfns, and the dump's page number of the first page among them */
  split?: { startPfn: number; endPfn: number; firstIndex: number };
}

/** One batch's descriptors, waiting for the batch's data to be on disk. */
interface PendingDescriptors {
  bytes: Uint8Array;
  pos: number;
  count: number;
  data: Promise<void>;
  /** set once the data is on disk */
  dataDone: boolean;
}

export class KdumpWriter implements DumpWriter {
  readonly g: KdumpGeometry;
  readonly pageRanges: readonly { start: number; end: number }[];
  private readonly pageSize: number;
  private numDumpable = 0;
  private dataPos = 0;
  private zeroOffset = -1;
  /** descriptors on disk (with their data) */
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
  /** pfns below this have their 2nd bitmap written by pass 2 */
  private bitmapTo = 0;
  /** whether pass 1 kept any cycle of the 2nd bitmap in this file */
  private bitmapStored = false;

  constructor(private readonly sink: DumpSink, private readonly v: KdumpFileValues) {
    this.pageSize = v.pageSize;
    this.g = kdumpGeometry(v.pageSize, v.noteBytes.length, v.maxMapnr);
    this.pageRanges = [v.split ? { start: v.split.startPfn, end: v.split.endPfn } : { start: 0, end: v.maxMapnr }];
  }

  get stored(): boolean {
    return this.written > 0;
  }

  /** A file keeps pass 1's 2nd bitmap in its final place: no memory, no rescan. */
  bitmapStore(cyclePfns: number): OutputBitmapStore | undefined {
    const sink = this.sink;
    if (!sink.readBack) return undefined;
    return {
      write: (b, pos) => {
        sink.write(b, pos);
        this.bitmapStored = true;
      },
      read: (b, pos) => sink.readBack!(b, pos),
      offsetOf: (cycle) => this.bitmap2Offset(cycle * cyclePfns),
    };
  }

  /**
   * The headers, flagged incomplete, before pass 1 (they hold nothing pass 1 decides), and
   * the file as long as its bitmaps (a hole until they are written): readers that map the
   * bitmaps open a file killed in pass 1 and find no page in it. The length comes first and
   * the main header, with the signature, last (writeHeaders): a run killed at any instant
   * leaves a file that is no dump yet, or one whose headers and bitmaps can all be read.
   */
  start(): void {
    this.sink.write(new Uint8Array(1), this.g.offsetBitmap2 + this.g.bitmapLen - 1);
    this.writeHeaders();
  }

  /** the input file, when this writer's sink can copy page data from it (takesRuns) */
  private inputFd?: number;

  get takesRuns(): boolean {
    return this.inputFd !== undefined;
  }

  /** Pages without a codec may stay in the input: the sink copies them from inputFd. */
  useInput(fd: number | undefined): void {
    this.inputFd = fd !== undefined && this.sink.copyRuns ? fd : undefined;
  }

  begin(g: DumpGeometry): void {
    this.useInput(g.inputFd);
    this.numDumpable = g.numDumpable;
    if (!this.headersWritten) this.writeHeaders();
    this.writeMemoryBitmap(g);
    this.startData(g.numDumpable);
  }

  private headersWritten = false;

  /**
   * Notes, sub-header, then the main header (status flagged incomplete until seal()): the
   * signature is written last, in one write of one block, so a file that has it has the
   * rest of the headers too.
   */
  writeHeaders(): void {
    const v = this.v;
    if (v.noteBytes.length > 0) this.sink.write(v.noteBytes, this.g.blockSize + KdumpSubHeader.size);
    this.sink.write(encodeSubHeader(this.g, {
      physBase: v.physBase, dumpLevel: v.dumpLevel, noteSize: v.noteBytes.length,
      vmcoreinfoDescOffset: v.vmcoreinfo?.descOffset ?? -1, vmcoreinfoSize: v.vmcoreinfo?.size ?? 0, split: v.split,
    }), this.g.blockSize);
    this.writeMainHeader(v.status | DUMP_DH_COMPRESSED_INCOMPLETE);
    this.headersWritten = true;
  }

  private writeMainHeader(status: number): void {
    const v = this.v;
    this.sink.write(encodeMainHeader(this.g, { utsname: v.utsname, crashTime: v.crashTime, status, nrCpus: v.nrCpus }), 0);
  }

  /** The 1st bitmap, a cycle's worth at a time. */
  writeMemoryBitmap(g: DumpGeometry): void {
    const bm = new Uint8Array(g.cyclePfns / 8);
    const maxMapnr = this.v.maxMapnr;
    for (let start = 0; start < maxMapnr; start += g.cyclePfns) {
      const view = bm.subarray(0, Math.ceil((Math.min(start + g.cyclePfns, maxMapnr) - start) / 8));
      view.fill(0);
      g.fillMemory(view, start);
      this.sink.write(view, this.g.offsetBitmap1 + start / 8);
    }
  }

  /** Starts the page data area: the shared zero page first, when the level excludes zero pages. */
  startData(numDumpable: number): void {
    this.numDumpable = numDumpable;
    this.dataPos = dataStart(this.g, numDumpable);
    this.descTableEnd = this.dataPos;
    this.reservedTo = this.g.offsetDesc;
    if ((this.v.dumpLevel & DL_EXCLUDE_ZERO) !== 0) {
      this.zeroOffset = this.dataPos;
      this.sink.write(new Uint8Array(this.pageSize), this.dataPos);
      this.dataPos += this.pageSize;
    }
  }

  /** File offset of the 2nd-bitmap byte whose bit 0 is `pfn` (a multiple of 8). */
  bitmap2Offset(pfn: number): number {
    return this.g.offsetBitmap2 + pfn / 8;
  }

  /** Every file of a split set holds the whole 2nd bitmap. */
  bitmap(c: CycleBitmap): void {
    this.sink.write(c.bits, this.bitmap2Offset(c.start));
    this.bitmapTo = c.end;
  }

  pages(b: PageBatchWrite): Promise<void> {
    const first = this.v.split?.firstIndex ?? 0;
    const runs = b.runs ? b.runs.map((r) => ({ slot: r.slot - first, count: r.count })) : [{ slot: b.index - first, count: b.pages.count }];
    return this.writeBatch(b.pages, runs);
  }

  /**
   * Turns a batch's stored pages into descriptors at table slot `slot` on and writes both,
   * data first: on ENOSPC no descriptor on disk points at data that is not there. The
   * returned promise settles when the batch's data is on disk (its buffer may then be
   * reused); its descriptors follow in groups (flushDescriptors).
   */
  writeBatch(r: StoredPages, runs: readonly SlotRun[]): Promise<void> {
    const desc = new Uint8Array(PageDesc.size * r.count);
    const batchDataPos = this.dataPos;
    this.dataPos = batchLoops().encodeDescriptors(r.sizes, r.flags, r.count, this.dataPos, this.zeroOffset, this.pageSize, DESC_LAYOUT, desc);
    // each run's descriptors, and where they go in the table
    const parts: { bytes: Uint8Array; pos: number; count: number }[] = [];
    let at = 0;
    for (const run of runs) {
      parts.push({ bytes: desc.subarray(at * PageDesc.size, (at + run.count) * PageDesc.size), pos: this.g.offsetDesc + PageDesc.size * run.slot, count: run.count });
      at += run.count;
    }
    const data = new Uint8Array(r.data, 0, r.dataLen);
    if (!this.sink.writeAsync) {
      if (r.dataLen > 0 && r.inputRuns) this.copyInput(r, batchDataPos);
      else if (r.dataLen > 0) this.sink.write(data, batchDataPos);
      for (const p of parts) this.sink.write(p.bytes, p.pos);
      this.written += r.count;
      return Promise.resolve();
    }
    const writeAsync = this.sink.writeAsync.bind(this.sink);
    const put = (): void | Promise<void> => (r.inputRuns ? this.copyInput(r, batchDataPos) : writeAsync(data, batchDataPos));
    // the descriptors' blocks are taken (written as zeros) before the data: on a disk that
    // fills up, other batches' data cannot take the room these descriptors need after
    // their data is down, and a descriptor is never cut in half by ENOSPC
    this.reserveDescriptors(Math.max(...parts.map((p) => p.pos + p.bytes.length)));
    const written = this.reservation.then(() => (r.dataLen > 0 ? put() : undefined));
    for (const p of parts) {
      const entry: PendingDescriptors = { ...p, data: written, dataDone: false };
      written.then(() => { entry.dataDone = true; }, () => undefined);
      this.pendingDesc.push(entry);
      this.pendingDescBytes += p.bytes.length;
    }
    if (this.pendingDescBytes >= DESC_GROUP_BYTES) this.flushDescriptors();
    return written;
  }

  /** A batch whose kept pages are still in the input (StoredPages.inputRuns): the sink copies them, on this thread. */
  private copyInput(r: StoredPages, pos: number): void {
    this.sink.copyRuns!(this.inputFd!, r.inputRuns!, r.inputRunCount ?? 0, pos);
  }

  /**
   * Takes the descriptor table's blocks up to `end`, a large step at a time, each step one
   * write of at most DESC_RESERVE_BYTES (the default write order's first batches reach far
   * into the table: one write would need a buffer of zeros as large as the table).
   */
  private reserveDescriptors(end: number): void {
    if (!this.sink.reserve || end <= this.reservedTo) return;
    const reserve = this.sink.reserve.bind(this.sink);
    const to = Math.min(this.descTableEnd, Math.max(end, this.reservedTo + DESC_RESERVE_BYTES));
    let p = reserve(this.reservedTo, Math.min(DESC_RESERVE_BYTES, to - this.reservedTo));
    for (let from = this.reservedTo + DESC_RESERVE_BYTES; from < to; from += DESC_RESERVE_BYTES) {
      const at = from;
      p = p.then(() => reserve(at, Math.min(DESC_RESERVE_BYTES, to - at)));
    }
    this.reservation = p;
    this.reservedTo = to;
  }

  /**
   * Writes the gathered descriptors once their batches' data is on the device, each run of
   * neighbouring table slots as one write. A batch whose data failed stops the group
   * there: the descriptors before it still go.
   */
  private flushDescriptors(): void {
    const group = this.pendingDesc;
    if (group.length === 0) return;
    this.pendingDesc = [];
    this.pendingDescBytes = 0;
    const writeAsync = this.sink.writeAsync!.bind(this.sink);
    const p = Promise.allSettled(group.map((g) => g.data)).then(async (settled) => {
      let n = 0;
      while (n < settled.length && settled[n].status === 'fulfilled') n++;
      // the data on the device before the descriptors that point at it reach the page
      // cache: after a power cut a page reads as missing, never as the zeros or the end of
      // file its descriptor would otherwise point at (docs/cut-dumps.md)
      if (n > 0 && this.sink.syncAsync) await this.sink.syncAsync();
      // all at once, not one after the other: each would otherwise wait for a turn of the
      // event loop and queue behind the data writes issued meanwhile (the default order's
      // first pages have their slots all over the table: hundreds of runs)
      await Promise.all(slotRuns(group, n).map((run) => writeAsync(run.bytes, run.pos).then(() => { this.written += run.count; })));
      if (n > 0) this.sink.writeback?.();
    }).catch((e) => { this.failure ??= e; });
    this.descWrites.push(p);
    // settled writes leave the list: it stays as short as the writes in flight
    p.then(() => { this.descWrites.splice(this.descWrites.indexOf(p), 1); });
  }

  /** The descriptors gathered so far go out as soon as their data is down (DumpWriter.checkpoint). */
  checkpoint(): void {
    this.flushDescriptors();
  }

  /** Writes what is left of the descriptors and waits for every descriptor write. */
  async settle(): Promise<void> {
    this.flushDescriptors();
    while (this.descWrites.length) await this.descWrites[0];
  }

  async finish(): Promise<void> {
    await this.finishData();
    this.seal();
  }

  /** Every page and descriptor written; the header still says incomplete. */
  async finishData(): Promise<void> {
    await this.settle();
    if (this.failure !== undefined) throw this.failure;
  }

  /**
   * The last write of a finished dump: once the data is on the device, the main header
   * without the incomplete flag (makedumpfile's header, byte for byte).
   */
  seal(): void {
    this.sink.sync?.();
    this.writeMainHeader(this.v.status);
  }

  /**
   * For a forced exit, which cannot wait: the gathered descriptors whose data is already
   * written are written now, on this thread, without a sync (the machine stays up: the
   * page cache reaches the device in time).
   */
  private flushWrittenDescriptorsSync(): void {
    let n = 0;
    while (n < this.pendingDesc.length && this.pendingDesc[n].dataDone) n++;
    try {
      for (const run of slotRuns(this.pendingDesc, n)) {
        this.sink.write(run.bytes, run.pos);
        this.written += run.count;
      }
    } catch {
      // the file is marked incomplete next; these pages read as lost
    }
    this.pendingDesc = this.pendingDesc.slice(n);
  }

  markIncomplete(): number {
    this.flushWrittenDescriptorsSync();
    repairShortWrites(this.sink, this.g, this.numDumpable);
    this.clearUnwrittenBitmap2();
    return markKdumpIncomplete(this.sink) ? 1 : 0;
  }

  /**
   * When pass 1 kept the 2nd bitmap in the file, the cycles pass 2 never reached still have
   * their bits set, with no descriptor written for them. They are cleared, so that an
   * unfinished file says what it always said: those pages are not in the dump.
   */
  private clearUnwrittenBitmap2(): void {
    if (!this.bitmapStored) return;
    const end = this.g.offsetBitmap2 + this.g.bitmapLen;
    const from = this.bitmapTo < this.v.maxMapnr ? this.bitmap2Offset(this.bitmapTo) : end;
    const zeros = new Uint8Array(Math.min(end - from, 1 << 20));
    try {
      for (let pos = from; pos < end; pos += zeros.length) this.sink.write(zeros.subarray(0, Math.min(zeros.length, end - pos)), pos);
    } catch {
      // the blocks are taken already; a failure here leaves bits readers find no descriptor for
    }
  }
}

/** Sets DUMP_DH_COMPRESSED_INCOMPLETE in a written header (makedumpfile does the same on ENOSPC). */
export function markKdumpIncomplete(sink: DumpSink): boolean {
  return setHeaderBits(sink, DiskDumpHeader.offsets.status, DUMP_DH_COMPRESSED_INCOMPLETE);
}

/**
 * A full disk stops a write at a block boundary, and one in the descriptor table can leave
 * a page descriptor half written: an offset without its size, or a size without its flags,
 * which readers would take for a raw page. Such a descriptor is cleared (its bytes are in
 * a block already allocated, so the rewrite needs no space): offset 0 says "data lost",
 * as makedumpfile's cleared slots do (spec kdump-compressed.md §7). Returns how many.
 */
export function repairShortWrites(sink: DumpSink, g: KdumpGeometry, numDumpable: number): number {
  if (!sink.shortWrites) return 0;
  const tableEnd = g.offsetDesc + PageDesc.size * numDumpable;
  let repaired = 0;
  for (const w of sink.shortWrites) {
    const cut = w.pos + w.done;
    if (cut <= g.offsetDesc || cut >= tableEnd) continue;
    const descStart = g.offsetDesc + Math.floor((cut - g.offsetDesc) / PageDesc.size) * PageDesc.size;
    if (descStart === cut) continue;
    const from = Math.max(descStart, w.pos);
    try {
      sink.write(new Uint8Array(cut - from), from);
      repaired++;
    } catch {
      // cannot be cleared: readers will find a descriptor that fails their checks
    }
  }
  return repaired;
}

/**
 * The descriptors of the first n pending batches as writes of neighbouring table slots:
 * one write for batches in pfn order.
 */
function slotRuns(group: PendingDescriptors[], n: number): { bytes: Uint8Array; pos: number; count: number }[] {
  const runs: { bytes: Uint8Array; pos: number; count: number }[] = [];
  let k = 0;
  while (k < n) {
    let end = k + 1;
    let len = group[k].bytes.length;
    let count = group[k].count;
    while (end < n && group[end].pos === group[k].pos + len) {
      len += group[end].bytes.length;
      count += group[end].count;
      end++;
    }
    let bytes = group[k].bytes;
    if (end - k > 1) {
      bytes = new Uint8Array(len);
      for (let j = k, at = 0; j < end; at += group[j].bytes.length, j++) bytes.set(group[j].bytes, at);
    }
    runs.push({ bytes, pos: group[k].pos, count });
    k = end;
  }
  return runs;
}

// Pass 2 for the kdump-compressed format: headers, both bitmaps, then descriptors and page
// data strictly in pfn order while the pool reads and compresses the pages of later
// batches. Never more than a fixed number of batches in flight: a slow disk stalls the
// workers instead of growing memory. Spec: kdump-compressed.md §1-§7.
import { C_ZERO } from '../filter/dump-level';
import { PageDesc } from '../format/diskdump';
import { KdumpGeometry, dataStart, encodeMainHeader, encodeSubHeader, kdumpGeometry } from '../format/kdump-layout';
import type { DumpSink } from '../format/sink';
import { countPrstatus } from '../vmcore/notes';
import type { PageBatch, PageBatchResult } from './page-batch';
import type { DumpJob } from './prepare';
import { cycleBitmap, cycleBounds, cycleBuffer } from './scan-pass';
import { CODEC_FLAGS } from '../codec';

/** dumpable pages per pass-2 batch: 4 MiB of input */
export const BATCH_PAGES = 1024;

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
  private descBuf = new Uint8Array(0);
  /** first descriptor whose data is not yet known to be on disk */
  written = 0;

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

  /** Page descriptors and data of every cycle, in pfn order. */
  async writePages(): Promise<void> {
    const job = this.job;
    const t0 = Date.now();
    this.dataPos = dataStart(this.g, job.numDumpable);
    if (job.workerSetup.excludeZero) {
      this.zeroOffset = this.dataPos;
      this.sink.write(new Uint8Array(this.pageSize), this.dataPos);
      this.dataPos += this.pageSize;
    }
    job.progress.setWriteTotal(job.numDumpable);
    const window = Math.max(2, job.executor.threads * 3);
    const inFlight: Promise<PageBatchResult>[] = [];
    const spare: ArrayBuffer[] = [];
    let seq = 0;
    const drainOne = async (): Promise<void> => {
      const r = await inFlight.shift()!;
      this.writeBatch(r);
      spare.push(r.data);
    };
    const bm = cycleBuffer(job);
    try {
      for (let c = 0; c < job.numCycles; c++) {
        const cy = await cycleBitmap(job, c, bm);
        const len = Math.ceil((cy.end - cy.start) / 8);
        this.sink.write(bm.subarray(0, len), this.g.offsetBitmap2 + cy.start / 8);
        for (const batch of batchesOf(bm.subarray(0, len), cy.start, cy.end, BATCH_PAGES)) {
          batch.seq = seq++;
          batch.out = spare.pop();
          inFlight.push(job.executor.compress(batch));
          if (inFlight.length >= window) await drainOne();
        }
      }
      while (inFlight.length) await drainOne();
    } finally {
      // on failure, let the batches still running end before the pool is torn down
      await Promise.allSettled(inFlight);
    }
    job.stats.writeMs = Date.now() - t0;
  }

  private writeBatch(r: PageBatchResult): void {
    // page_desc as six little-endian u32 words: offset lo/hi, size, flags, page_flags lo/hi
    const need = PageDesc.size * r.count;
    if (this.descBuf.length < need) this.descBuf = new Uint8Array(need * 2);
    const desc = this.descBuf.subarray(0, need);
    const w = new Uint32Array(desc.buffer, desc.byteOffset, need >> 2);
    w.fill(0);
    const batchDataPos = this.dataPos;
    let pos = this.dataPos;
    for (let k = 0, i = 0; k < r.count; k++, i += 6) {
      const size = r.sizes[k];
      if (size === 0) {
        w[i] = this.zeroOffset % 0x100000000;
        w[i + 1] = Math.floor(this.zeroOffset / 0x100000000);
        w[i + 2] = this.pageSize;
      } else if (size > 0) {
        w[i] = pos % 0x100000000;
        w[i + 1] = Math.floor(pos / 0x100000000);
        w[i + 2] = size;
        w[i + 3] = r.flags[k];
        pos += size;
      }
      // size < 0: the page could not be read; an all-zero descriptor means "data lost"
    }
    // data before its descriptors: on ENOSPC no descriptor points at unwritten data
    if (r.dataLen > 0) this.sink.write(new Uint8Array(r.data, 0, r.dataLen), batchDataPos);
    this.sink.write(desc, this.g.offsetDesc + PageDesc.size * this.descIndex);
    this.dataPos = pos;
    this.descIndex += r.count;
    this.written = this.descIndex;
    this.job.counts[C_ZERO] += r.zeroPages;
    this.job.progress.written(r.count, r.count * this.pageSize, r.dataLen + desc.length);
  }

  get fileEnd(): number {
    return this.dataPos;
  }
}

/** Cuts a cycle's bitmap into batches of at most `maxPages` dumpable pages, each starting at a multiple of 8 pfns. */
export function* batchesOf(bm: Uint8Array, start: number, end: number, maxPages: number): Generator<PageBatch> {
  const nbytes = Math.ceil((end - start) / 8);
  let byte = 0;
  while (byte < nbytes) {
    while (byte < nbytes && bm[byte] === 0) byte++;
    if (byte >= nbytes) break;
    const first = byte;
    let count = 0;
    while (byte < nbytes) {
      const n = POP[bm[byte]];
      if (count + n > maxPages && count > 0) break;
      count += n;
      byte++;
    }
    const pfnStart = start + first * 8;
    const pfnEnd = Math.min(start + byte * 8, end);
    yield { seq: 0, pfnStart, pfnEnd, bitmap: bm.slice(first, byte), count };
  }
}

const POP = new Uint8Array(256);
for (let i = 0; i < 256; i++) POP[i] = (i & 1) + POP[i >> 1];

// kdump-compressed input: a dump written by makedumpfile or cyclodump, read back for
// refiltering, --reassemble, `cyclodump info` and the tests. Spec: kdump-compressed.md
// §1-§8 (the reader checks of crash and libkdumpfile).
import { PageDecoders } from '../codec';
import {
  DL_EXCLUDE_ZERO, DUMP_DH_COMPRESSED_INCOMPLETE, DUMP_DH_EXCLUDED_VMEMMAP, DiskDumpHeaderValue, KdumpSubHeaderValue, PageDesc,
  codecOfStatus, isKdumpSignature,
} from '../format/diskdump';
import { Architecture, architectureOfUtsMachine } from '../translate';
import { decodeKdumpField, readKdumpHeaders } from '../format/kdump-header';
import { DumpError } from '../util/errors';
import { closeInput, openForReading, preadFull } from '../util/file';
import { ElfNote, parseNotes, vmcoreinfoNoteText } from './notes';
import type { InputDescription } from './describe';
import type { EarlierDump, LoadSegment, PhysicalMemory } from './physical';

/** descriptors fetched per read when walking the table */
const DESC_CHUNK = 4096;

/** Whether `head` (the file's first bytes) is a kdump-compressed dump's. */
export function isKdumpCompressed(head: Uint8Array): boolean {
  return isKdumpSignature(head);
}

export interface PageRecord {
  pfn: number;
  offset: number;
  size: number;
  flags: number;
}

export class KdumpVmcore implements PhysicalMemory {
  readonly kind = 'kdump' as const;
  readonly header: DiskDumpHeaderValue;
  readonly sub: KdumpSubHeaderValue;
  readonly pageSize: number;
  /** the crashed machine's architecture, from the header's utsname (none for a dump made without VMCOREINFO) */
  readonly arch?: Architecture;
  readonly maxMapnr: number;
  readonly bitmapLen: number;
  readonly offsetBitmap1: number;
  readonly offsetDesc: number;
  readonly bitmap1: Buffer;
  readonly bitmap2: Buffer;
  readonly noteBytes: Buffer;
  readonly notes: ElfNote[];
  readonly vmcoreinfo?: { descOffset: number; size: number; text: string };
  readonly loads: LoadSegment[];
  readonly fileSize: number;
  /** set bits of the 2nd bitmap before each 4096-pfn block: descriptor index look-up */
  private readonly rank: Float64Array;
  private readonly decoders = new PageDecoders();
  private readonly raw: Buffer;

  private constructor(readonly path: string, readonly fd: number) {
    const h = readKdumpHeaders(fd, path);
    this.fileSize = h.fileSize;
    this.header = h.header;
    this.sub = h.sub;
    const bs = h.blockSize;
    this.pageSize = bs;
    this.arch = architectureOfUtsMachine(this.header.machine);
    this.maxMapnr = h.maxMapnr;
    this.bitmapLen = h.bitmapLen;
    this.offsetBitmap1 = h.offsetBitmap1;
    this.offsetDesc = h.offsetDesc;
    this.bitmap1 = Buffer.alloc(this.bitmapLen);
    this.bitmap2 = Buffer.alloc(this.bitmapLen);
    preadFull(fd, this.bitmap1, 0, this.bitmapLen, this.offsetBitmap1);
    preadFull(fd, this.bitmap2, 0, this.bitmapLen, this.offsetBitmap1 + this.bitmapLen);
    // notes (v4+), VMCOREINFO from them or from offset_vmcoreinfo (v3)
    const sizeNote = this.header.header_version >= 4 ? this.sub.size_note : 0;
    this.noteBytes = Buffer.alloc(sizeNote);
    if (sizeNote > 0) preadFull(fd, this.noteBytes, 0, sizeNote, this.sub.offset_note);
    this.notes = parseNotes(this.noteBytes);
    const vi = vmcoreinfoNoteText(this.notes, this.noteBytes, path);
    if (vi && vi.note.descOffset + vi.note.descSize <= sizeNote) {
      this.vmcoreinfo = { descOffset: vi.note.descOffset, size: vi.note.descSize, text: vi.text };
    } else if (this.header.header_version >= 3 && this.sub.size_vmcoreinfo > 0) {
      const t = Buffer.alloc(this.sub.size_vmcoreinfo);
      preadFull(fd, t, 0, t.length, this.sub.offset_vmcoreinfo);
      this.vmcoreinfo = { descOffset: -1, size: t.length, text: t.toString('latin1') };
    }
    // rank table over the 2nd bitmap
    const blocks = Math.ceil(this.maxMapnr / 4096) + 1;
    this.rank = new Float64Array(blocks);
    let n = 0;
    for (let b = 0; b < blocks; b++) {
      this.rank[b] = n;
      const from = b * 512;
      const to = Math.min(from + 512, this.bitmap2.length);
      for (let i = from; i < to; i++) n += POP[this.bitmap2[i]];
    }
    // present memory as one load per run of the 1st bitmap
    this.loads = [];
    let p = 0;
    while (p < this.maxMapnr) {
      while (p < this.maxMapnr && !this.inMemory(p)) p++;
      if (p >= this.maxMapnr) break;
      const s = p;
      while (p < this.maxMapnr && this.inMemory(p)) p++;
      this.loads.push({ paddr: s * bs, memsz: (p - s) * bs, filesz: (p - s) * bs, fileOffset: -1, vaddr: 0n });
    }
    this.raw = Buffer.alloc(bs);
    this.pageBuf = Buffer.alloc(bs);
  }

  static open(path: string): KdumpVmcore {
    const fd = openForReading(path);
    try {
      return new KdumpVmcore(path, fd);
    } catch (e) {
      closeInput(fd);
      throw e;
    }
  }

  close(): void {
    closeInput(this.fd);
  }

  get isSplit(): boolean {
    return this.header.header_version >= 2 && this.sub.split !== 0;
  }

  get splitRange(): { start: number; end: number } {
    if (!this.isSplit) return { start: 0, end: this.maxMapnr };
    if (this.header.header_version >= 6) return { start: this.sub.start_pfn_64, end: this.sub.end_pfn_64 };
    return { start: this.sub.start_pfn, end: this.sub.end_pfn };
  }

  /** What refiltering keeps from this dump: its level, bitmaps and phys_base. */
  get earlierDump(): EarlierDump {
    return {
      dumpLevel: this.sub.dump_level, maxMapnr: this.maxMapnr, physBase: this.sub.phys_base,
      bitmap1: this.bitmap1, bitmap2: this.bitmap2,
    };
  }

  describe(): InputDescription {
    const h = this.header;
    const { start, end } = this.splitRange;
    return {
      format: 'kdump-compressed', headerVersion: h.header_version, fileSize: this.fileSize,
      kernel: { release: h.release, version: h.version, machine: h.machine, nodename: h.nodename },
      crashTime: Number(h.tv_sec) || null,
      dumpLevel: this.sub.dump_level,
      codec: codecOfStatus(h.status),
      complete: !this.incomplete,
      excludedVmemmap: (h.status & DUMP_DH_EXCLUDED_VMEMMAP) !== 0,
      split: this.isSplit ? { startPfn: start, endPfn: end } : null,
      pageSize: this.pageSize,
      pages: this.pageCounts(),
    };
  }

  /** Pages by the bitmaps, and by this file's descriptors: those sharing the zero page, and lost ones. */
  private pageCounts(): InputDescription['pages'] {
    const total = this.maxMapnr;
    let present = 0;
    for (let pfn = 0; pfn < total; pfn += 8) present += POP[this.bitmap1[pfn >> 3] & (total - pfn >= 8 ? 0xff : (1 << (total - pfn)) - 1)];
    const dumped = this.rankOf(total);
    const inThisFile = this.isSplit ? this.rankOf(Math.min(this.splitRange.end, total)) - this.rankOf(Math.min(this.splitRange.start, total)) : dumped;
    // the shared zero page is the first object of the data area (whole-set descriptor table)
    const zeroOffset = (this.sub.dump_level & DL_EXCLUDE_ZERO) !== 0 ? this.offsetDesc + PageDesc.size * dumped : -1;
    let zeroDescriptors = 0;
    let lost = 0;
    const buf = Buffer.alloc(DESC_CHUNK * PageDesc.size);
    for (let i = 0; i < inThisFile; i += DESC_CHUNK) {
      const n = Math.min(DESC_CHUNK, inThisFile - i);
      const got = Math.floor(preadFull(this.fd, buf, 0, n * PageDesc.size, this.offsetDesc + i * PageDesc.size) / PageDesc.size);
      lost += n - got;
      for (let k = 0; k < got; k++) {
        const at = k * PageDesc.size;
        const offset = Number(buf.readBigInt64LE(at));
        const size = buf.readUInt32LE(at + 8);
        if (offset === 0 || size === 0 || offset + size > this.fileSize) lost++;
        else if (offset === zeroOffset) zeroDescriptors++;
      }
    }
    return { total, present, dumped, inThisFile, zeroDescriptors, excluded: present - dumped, lost };
  }

  get incomplete(): boolean {
    return (this.header.status & DUMP_DH_COMPRESSED_INCOMPLETE) !== 0;
  }

  inMemory(pfn: number): boolean {
    return (this.bitmap1[pfn >> 3] & (1 << (pfn & 7))) !== 0;
  }

  isDumpable(pfn: number): boolean {
    return (this.bitmap2[pfn >> 3] & (1 << (pfn & 7))) !== 0;
  }

  /** Descriptor index of a dumpable pfn (rank among set 2nd-bitmap bits, from the split start). */
  descIndex(pfn: number): number {
    const b = Math.floor(pfn / 4096);
    let n = this.rank[b];
    for (let i = b * 512; i < pfn >> 3; i++) n += POP[this.bitmap2[i]];
    n += POP[this.bitmap2[pfn >> 3] & ((1 << (pfn & 7)) - 1)];
    if (this.isSplit) n -= this.rankOf(this.splitRange.start);
    return n;
  }

  private rankOf(pfn: number): number {
    const b = Math.floor(pfn / 4096);
    let n = this.rank[b];
    for (let i = b * 512; i < pfn >> 3; i++) n += POP[this.bitmap2[i]];
    return n + POP[this.bitmap2[pfn >> 3] & ((1 << (pfn & 7)) - 1)];
  }

  readDesc(index: number): PageRecord & { pfn: -1 } {
    const b = Buffer.alloc(PageDesc.size);
    if (preadFull(this.fd, b, 0, b.length, this.offsetDesc + index * PageDesc.size) < b.length) {
      return { pfn: -1, offset: 0, size: 0, flags: 0 };
    }
    const d = decodeKdumpField(() => PageDesc.decode(b), this.path, `page descriptor ${index}`);
    return { pfn: -1, offset: d.offset, size: d.size, flags: d.flags };
  }

  holds(pfn: number): 'stored' | 'excluded' | 'lost' {
    if (pfn >= this.maxMapnr || !this.isDumpable(pfn)) return 'excluded';
    const d = this.readDesc(this.descIndex(pfn));
    return d.offset === 0 || d.size === 0 || d.offset + d.size > this.fileSize ? 'lost' : 'stored';
  }

  /**
   * Reads the page of `pfn` into buf. Returns 'ok', 'excluded' (no descriptor: filtered
   * out or a memory hole) or 'lost' (descriptor zeroed: an incomplete dump).
   */
  readPage(pfn: number, buf: Uint8Array, off = 0): 'ok' | 'excluded' | 'lost' {
    if (pfn >= this.maxMapnr || !this.isDumpable(pfn)) return 'excluded';
    const d = this.readDesc(this.descIndex(pfn));
    return this.loadPage(d, buf, off);
  }

  private loadPage(d: { offset: number; size: number; flags: number }, buf: Uint8Array, off: number): 'ok' | 'lost' {
    const dst = buf.subarray(off, off + this.pageSize);
    if (d.offset === 0 || d.size === 0) return 'lost';
    if (d.size > this.pageSize) throw new DumpError('bad-kdump', `${this.path}: page descriptor with size ${d.size}`);
    const src = d.flags === 0 ? dst : this.raw.subarray(0, d.size);
    if (preadFull(this.fd, src, 0, d.size, d.offset) < d.size) return 'lost';
    if (d.flags !== 0) this.decoders.decode(d.flags, src, dst);
    else if (d.size !== this.pageSize) throw new DumpError('bad-kdump', `${this.path}: raw page of ${d.size} bytes`);
    return 'ok';
  }

  /** Every descriptor in pfn order (the range of a split part), read in large chunks. */
  *records(): Generator<PageRecord> {
    const { start, end } = this.splitRange;
    const chunk = Buffer.alloc(DESC_CHUNK * PageDesc.size);
    let index = 0;
    let have = 0;
    let base = 0;
    for (let pfn = start; pfn < Math.min(end, this.maxMapnr); pfn++) {
      if (this.bitmap2[pfn >> 3] === 0 && (pfn & 7) === 0) { pfn += 7; continue; }
      if (!this.isDumpable(pfn)) continue;
      if (index >= base + have) {
        base = index;
        const got = preadFull(this.fd, chunk, 0, chunk.length, this.offsetDesc + index * PageDesc.size);
        have = Math.floor(got / PageDesc.size);
        if (have === 0) {
          yield { pfn, offset: 0, size: 0, flags: 0 };
          index++;
          continue;
        }
      }
      const at = (index - base) * PageDesc.size;
      yield {
        pfn,
        offset: Number(chunk.readBigInt64LE(at)),
        size: chunk.readUInt32LE(at + 8),
        flags: chunk.readUInt32LE(at + 12),
      };
      index++;
    }
  }

  /** Decodes a record's page into buf. */
  loadRecord(r: PageRecord, buf: Uint8Array, off = 0): 'ok' | 'lost' {
    return this.loadPage(r, buf, off);
  }

  fileOffset(): number {
    return -1;
  }

  private readonly pageBuf: Buffer;

  /**
   * A page this dump lost (its descriptor zeroed, empty or pointing past the end of the
   * file) is not a page of zeros: reading it throws, so that what reads it keeps it as
   * lost (a lost page in the output, a struct page that cannot be read) instead of
   * inventing its contents. Pages the dump left out read as zeros, as memory holes do.
   */
  read(pa: number, buf: Uint8Array, off: number, len: number): boolean {
    let any = false;
    const page = this.pageBuf;
    let p = pa;
    let o = off;
    const end = pa + len;
    while (p < end) {
      const pfn = Math.floor(p / this.pageSize);
      const inPage = p - pfn * this.pageSize;
      const n = Math.min(end - p, this.pageSize - inPage);
      if (pfn < this.maxMapnr && this.inMemory(pfn)) any = true;
      // whole page: decode straight into the caller's buffer
      const whole = inPage === 0 && n === this.pageSize;
      const got = whole ? this.readPage(pfn, buf, o) : this.readPage(pfn, page);
      if (got === 'lost') throw new DumpError('lost-page', `${this.path}: the page of pfn 0x${pfn.toString(16)} was lost in this dump`);
      if (got === 'excluded') buf.fill(0, o, o + n);
      else if (!whole) page.copy(buf, o, inPage, inPage + n);
      p += n;
      o += n;
    }
    return any;
  }
}

const POP = new Uint8Array(256);
for (let i = 0; i < 256; i++) POP[i] = (i & 1) + POP[i >> 1];

// --reassemble: the split parts of one kdump-compressed dump (--split) joined back into a
// single dump, with makedumpfile 1.7.2's rules (spec flattened-and-split.md §2.3): every
// part's 464-byte dump header identical; parts ordered by start pfn and their ranges
// chaining from 0 to max_mapnr; header, sub-header (split fields zeroed), notes and both
// bitmaps from the first part; descriptors renumbered into one table; the shared zero
// page re-pointed; stored page bytes copied unchanged (compressed pages stay compressed);
// eraseinfo blobs concatenated after the data. Page data is streamed through fixed-size
// buffers: memory is the 2nd bitmap plus a few MiB, whatever the dump size.
//
// Stricter than makedumpfile, only where it would write a broken file: parts whose
// sub-headers or (for complete dumps) bitmaps disagree, reversed pfn ranges, descriptors
// larger than a page or pointing outside their part, notes outside the sub-header area,
// and an output that is one of the inputs are refused. Two deliberate differences: a
// descriptor marked lost (offset 0, in an incomplete dump) stays lost instead of becoming
// a 0-byte page, and each part's eraseinfo is taken from that part even when the parts are
// given out of order (makedumpfile pairs them by argument position).
import { DumpError, writeFailure } from '../util/errors';
import { OutputFile, closeInput, openForReading, openOutputFile, preadFull, pwriteFull, releaseOutput, syncOutput } from '../util/file';
import { IncompleteGuard } from './incomplete-guard';
import { DISK_DUMP_HEADER_BLOCKS, DL_EXCLUDE_ZERO, DUMP_DH_COMPRESSED_INCOMPLETE, KdumpSubHeader, PageDesc } from './diskdump';
import { KdumpHeaders, readKdumpHeaders } from './kdump-header';

export interface ReassembleOptions {
  /** overwrite an existing output file (-f) */
  force: boolean;
}

export interface ReassembleResult {
  /** size of the reassembled file */
  bytes: number;
  /** page descriptors written */
  pages: number;
}

const COPY_CHUNK = 8 << 20;
const DESC_BATCH = 65536;

interface Part {
  path: string;
  fd: number;
  size: number;
  headers: KdumpHeaders;
  start: number;
  end: number;
  offsetEraseinfo: number;
  sizeEraseinfo: number;
  index: number;
}

function hexPfn(n: number): string {
  return '0x' + n.toString(16);
}

function openPart(path: string, index: number): Part {
  const fd = openForReading(path);
  try {
    const headers = readKdumpHeaders(fd, path);
    const { header: h, sub } = headers;
    const v6 = h.header_version >= 6;
    return {
      path, fd, size: headers.fileSize, headers, index,
      start: v6 ? sub.start_pfn_64 : sub.start_pfn,
      end: v6 ? sub.end_pfn_64 : sub.end_pfn,
      offsetEraseinfo: h.header_version >= 5 ? sub.offset_eraseinfo : 0,
      sizeEraseinfo: h.header_version >= 5 ? sub.size_eraseinfo : 0,
    };
  } catch (e) {
    closeInput(fd);
    throw e;
  }
}

/** Sub-header bytes that every part of one dump shares (all but the split range and eraseinfo). */
function sharedSubBytes(raw: Buffer): Buffer {
  const b = Buffer.from(raw);
  KdumpSubHeader.encode({ split: 0, start_pfn: 0, end_pfn: 0, start_pfn_64: 0, end_pfn_64: 0, offset_eraseinfo: 0, size_eraseinfo: 0 }, b);
  return b;
}

class Output {
  readonly file: OutputFile;
  /** the header is written flagged incomplete until finish() */
  private readonly guard = new IncompleteGuard();

  constructor(readonly path: string, force: boolean) {
    this.file = openOutputFile(path, { force, what: 'dump file' });
  }

  get fd(): number {
    return this.file.fd;
  }

  write(buf: Uint8Array, pos: number): void {
    const g = this.guard.pass(Buffer.from(buf.buffer, buf.byteOffset, buf.length), pos);
    this.pwrite(g.data, pos);
    if (g.flag) this.pwrite(g.flag, g.flagAt);
  }

  /** The data synced, then the header as the parts have it: the file is complete. */
  finish(): void {
    const w = this.guard.finalWord();
    if (!w) return;
    syncOutput(this.fd, this.path);
    this.pwrite(w.bytes, w.at);
  }

  private pwrite(buf: Uint8Array, pos: number): void {
    try {
      pwriteFull(this.fd, buf, 0, buf.length, pos);
    } catch (e) {
      throw writeFailure(e, this.path);
    }
  }
}

/** Sequential output at a moving offset, gathered into large writes. */
class SeqWriter {
  private readonly buf: Buffer;
  private len = 0;

  constructor(private readonly out: Output, public pos: number, size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** offset the next byte will have */
  get at(): number {
    return this.pos + this.len;
  }

  put(data: Uint8Array): void {
    if (this.len + data.length > this.buf.length) this.flush();
    if (data.length > this.buf.length) {
      this.out.write(data, this.pos);
      this.pos += data.length;
      return;
    }
    this.buf.set(data, this.len);
    this.len += data.length;
  }

  flush(): void {
    if (this.len === 0) return;
    this.out.write(this.buf.subarray(0, this.len), this.pos);
    this.pos += this.len;
    this.len = 0;
  }
}

/** Reads of a part's page data through a large window (the data is stored in pfn order). */
class WindowReader {
  private readonly buf = Buffer.allocUnsafe(COPY_CHUNK);
  private from = 0;
  private len = 0;

  constructor(private readonly part: Part) {}

  get(offset: number, size: number): Buffer | undefined {
    if (offset < this.from || offset + size > this.from + this.len) {
      this.from = offset;
      this.len = preadFull(this.part.fd, this.buf, 0, this.buf.length, offset);
      if (size > this.len) return undefined;
    }
    return this.buf.subarray(offset - this.from, offset - this.from + size);
  }
}

/** Copies `len` bytes from one file position to another, in large chunks. */
function copyRange(src: Part, srcPos: number, out: Output, dstPos: number, len: number, what: string): void {
  const buf = Buffer.allocUnsafe(Math.min(COPY_CHUNK, Math.max(len, 1)));
  let done = 0;
  while (done < len) {
    const n = Math.min(buf.length, len - done);
    if (preadFull(src.fd, buf, 0, n, srcPos + done) < n) {
      throw new DumpError('truncated', `${src.path} is truncated: its ${what} (${len} bytes at offset ${srcPos}) runs past the end of the file`);
    }
    out.write(buf.subarray(0, n), dstPos + done);
    done += n;
  }
}

function sameRange(a: Part, b: Part, pos: number, len: number): boolean {
  const x = Buffer.allocUnsafe(Math.min(COPY_CHUNK, Math.max(len, 1)));
  const y = Buffer.allocUnsafe(x.length);
  for (let done = 0; done < len;) {
    const n = Math.min(x.length, len - done);
    const gx = preadFull(a.fd, x, 0, n, pos + done);
    const gy = preadFull(b.fd, y, 0, n, pos + done);
    if (gx !== gy || !x.subarray(0, gx).equals(y.subarray(0, gy))) return false;
    if (gx < n) return true; // both end here; a truncated part is reported when it is read
    done += n;
  }
  return true;
}

const POP = new Uint8Array(256);
for (let i = 0; i < 256; i++) POP[i] = (i & 1) + POP[i >> 1];

/** Every part has the first's dump header and shared sub-header fields (and bitmaps, when complete). */
function checkSameDump(parts: Part[]): void {
  const first = parts[0];
  const notSame = (p: Part, what: string): DumpError =>
    new DumpError('split-mismatch', `${p.path} is not a part of the same split dump as ${first.path}: their ${what} differ`);
  for (const p of parts.slice(1)) {
    if (!p.headers.rawHeader.equals(first.headers.rawHeader)) throw notSame(p, 'dump headers');
    if (!sharedSubBytes(p.headers.rawSub).equals(sharedSubBytes(first.headers.rawSub))) {
      throw notSame(p, 'sub-headers');
    }
  }
  const g = first.headers;
  if ((g.header.status & DUMP_DH_COMPRESSED_INCOMPLETE) !== 0) return;
  for (const p of parts.slice(1)) {
    if (!sameRange(p, first, g.offsetBitmap1, 2 * g.bitmapLen)) throw notSame(p, 'bitmaps');
  }
}

/** The parts in pfn order, their ranges chaining from 0 to max_mapnr. */
function chainParts(parts: Part[], maxMapnr: number): Part[] {
  // an empty range before a non-empty one starting at the same pfn
  const sorted = parts.slice().sort((a, b) => a.start - b.start || a.end - b.end || a.index - b.index);
  for (const p of sorted) {
    if (p.end < p.start) {
      throw new DumpError('split-range', `${p.path}: its pfn range ${hexPfn(p.start)}-${hexPfn(p.end)} is reversed`);
    }
  }
  const gap = (from: number, to: number, why = ''): DumpError =>
    new DumpError('split-gap', `no split dump file holds pfns ${hexPfn(from)}-${hexPfn(to)}${why}`);
  if (sorted[0].start !== 0) throw gap(0, sorted[0].start);
  let endPfn = sorted[0].end;
  for (const p of sorted.slice(1)) {
    if (p.start !== endPfn) throw gap(endPfn, p.start, p.start < endPfn ? ` (${p.path} overlaps the part before it)` : '');
    endPfn = p.end;
  }
  if (endPfn !== maxMapnr) throw gap(endPfn, maxMapnr);
  return sorted;
}

/** The 2nd bitmap of the set (from its first part) and the number of its set bits below max_mapnr. */
function readBitmap2(src: Part): { bitmap2: Buffer; numDumpable: number } {
  const { bitmapLen, offsetBitmap1, maxMapnr } = src.headers;
  const bitmap2 = Buffer.alloc(bitmapLen);
  if (preadFull(src.fd, bitmap2, 0, bitmapLen, offsetBitmap1 + bitmapLen) < bitmapLen) {
    throw new DumpError('truncated', `${src.path} is truncated: its bitmaps run past the end of the file`);
  }
  let numDumpable = 0;
  const fullBytes = Math.floor(maxMapnr / 8);
  for (let i = 0; i < fullBytes; i++) numDumpable += POP[bitmap2[i]];
  for (let pfn = fullBytes * 8; pfn < maxMapnr; pfn++) if (bitmap2[pfn >> 3] & (1 << (pfn & 7))) numDumpable++;
  return { bitmap2, numDumpable };
}

/** Main header, sub-header with the split fields cleared, notes, bitmaps; returns that sub-header. */
function writeHeadersAndBitmaps(out: Output, src: Part): Buffer {
  const { header: h, sub: sub0, blockSize: bs, offsetBitmap1, bitmapLen } = src.headers;
  out.write(src.headers.rawHeader, 0);
  const sub = Buffer.from(src.headers.rawSub);
  KdumpSubHeader.encode({ split: 0, start_pfn: 0, end_pfn: 0, start_pfn_64: 0, end_pfn_64: 0 }, sub);
  out.write(sub, bs * DISK_DUMP_HEADER_BLOCKS);
  const copies: { off: number; len: number; what: string }[] = [];
  if (h.header_version >= 4 && sub0.offset_note !== 0 && sub0.size_note !== 0) {
    copies.push({ off: sub0.offset_note, len: sub0.size_note, what: 'note segment' });
  }
  if (h.header_version >= 3 && sub0.offset_vmcoreinfo !== 0 && sub0.size_vmcoreinfo !== 0) {
    copies.push({ off: sub0.offset_vmcoreinfo, len: sub0.size_vmcoreinfo, what: 'VMCOREINFO' });
  }
  for (const c of copies) {
    if (c.off < bs * DISK_DUMP_HEADER_BLOCKS || c.off + c.len > offsetBitmap1) {
      throw new DumpError('bad-kdump', `${src.path}: its ${c.what} (${c.len} bytes at offset ${c.off}) lies outside the sub-header area`);
    }
    copyRange(src, c.off, out, c.off, c.len, c.what);
  }
  copyRange(src, offsetBitmap1, out, offsetBitmap1, 2 * bitmapLen, 'bitmaps');
  return sub;
}

/** Where the joined descriptors and page data go, and the descriptors every part shares. */
interface JoinedTable {
  descs: SeqWriter;
  data: SeqWriter;
  bitmap2: Buffer;
  /** the shared zero page's offset in the parts and in the output (all parts have the same), or -1 */
  zeroOffset: number;
  zeroDesc: Buffer;
  blockSize: number;
  offsetDesc: number;
}

/** One part's descriptors renumbered into the joined table, its page bytes copied; returns how many. */
function joinPart(p: Part, t: JoinedTable): number {
  const reader = new WindowReader(p);
  const inDesc = Buffer.allocUnsafe(DESC_BATCH * PageDesc.size);
  const outDesc = Buffer.alloc(PageDesc.size);
  const lostDesc = Buffer.alloc(PageDesc.size);
  const { bitmap2 } = t;
  let k = 0; // descriptor index inside this part
  let have = 0; // descriptors in inDesc
  let base = 0; // index of inDesc's first descriptor
  for (let pfn = p.start; pfn < p.end; pfn++) {
    if ((pfn & 7) === 0 && bitmap2[pfn >> 3] === 0 && pfn + 8 <= p.end) {
      pfn += 7;
      continue;
    }
    if ((bitmap2[pfn >> 3] & (1 << (pfn & 7))) === 0) continue;
    if (k >= base + have) {
      base = k;
      have = Math.floor(preadFull(p.fd, inDesc, 0, inDesc.length, t.offsetDesc + k * PageDesc.size) / PageDesc.size);
      if (have === 0) {
        throw new DumpError('truncated', `${p.path} is truncated: no page descriptor for pfn ${hexPfn(pfn)} (descriptor ${k})`);
      }
    }
    const at = (k - base) * PageDesc.size;
    k++;
    const offset = inDesc.readBigInt64LE(at);
    const size = inDesc.readUInt32LE(at + 8);
    if (t.zeroOffset >= 0 && offset === BigInt(t.zeroOffset)) {
      t.descs.put(t.zeroDesc);
      continue;
    }
    if (offset === 0n) {
      // lost in an incomplete dump: stays lost
      t.descs.put(lostDesc);
      continue;
    }
    if (offset < 0n || size > t.blockSize) {
      throw new DumpError('bad-kdump',
        `${p.path}: the page descriptor of pfn ${hexPfn(pfn)} (offset ${offset}, size ${size}) is corrupt`);
    }
    const bytes = offset + BigInt(size) > BigInt(p.size) ? undefined : reader.get(Number(offset), size);
    if (!bytes) throw new DumpError('truncated', `${p.path} is truncated: the page data of pfn ${hexPfn(pfn)} is missing`);
    inDesc.copy(outDesc, 0, at, at + PageDesc.size);
    outDesc.writeBigInt64LE(BigInt(t.data.at), 0);
    t.descs.put(outDesc);
    t.data.put(bytes);
  }
  return k;
}

/** Descriptors and page data of every part, in pfn order; returns the pages and where the data ends. */
function joinPages(out: Output, sorted: Part[], bitmap2: Buffer, numDumpable: number): { pages: number; dataEnd: number } {
  const { offsetDesc, blockSize: bs, sub } = sorted[0].headers;
  const dataStart = offsetDesc + PageDesc.size * numDumpable;
  const t: JoinedTable = {
    descs: new SeqWriter(out, offsetDesc, DESC_BATCH * PageDesc.size),
    data: new SeqWriter(out, dataStart, COPY_CHUNK),
    bitmap2, zeroOffset: -1, zeroDesc: Buffer.alloc(PageDesc.size), blockSize: bs, offsetDesc,
  };
  if ((sub.dump_level & DL_EXCLUDE_ZERO) !== 0) {
    t.zeroOffset = dataStart;
    PageDesc.encode({ offset: dataStart, size: bs, flags: 0, page_flags: 0n }, t.zeroDesc);
    t.data.put(Buffer.alloc(bs));
  }
  let pages = 0;
  for (const p of sorted) pages += joinPart(p, t);
  if (pages !== numDumpable) {
    throw new DumpError('split-mismatch', `the parts hold ${pages} pages, the bitmap says ${numDumpable}`);
  }
  t.descs.flush();
  t.data.flush();
  return { pages, dataEnd: t.data.at };
}

/** Each part's eraseinfo, in pfn order, after the data; the sub-header says where. Returns the file's end. */
function appendEraseinfo(out: Output, sorted: Part[], sub: Buffer, offsetEraseinfo: number): number {
  let sizeEraseinfo = 0;
  for (const p of sorted) {
    if (p.sizeEraseinfo === 0) continue;
    copyRange(p, p.offsetEraseinfo, out, offsetEraseinfo + sizeEraseinfo, p.sizeEraseinfo, 'eraseinfo');
    sizeEraseinfo += p.sizeEraseinfo;
  }
  if (sizeEraseinfo > 0) {
    KdumpSubHeader.encode({ offset_eraseinfo: offsetEraseinfo, size_eraseinfo: sizeEraseinfo }, sub);
    out.write(sub, sorted[0].headers.blockSize * DISK_DUMP_HEADER_BLOCKS);
  }
  return offsetEraseinfo + sizeEraseinfo;
}

/**
 * makedumpfile --reassemble PARTS... OUTPUT. Synchronous; the output is deleted when it
 * cannot be completed.
 */
export function reassemble(parts: string[], output: string, opts: ReassembleOptions): ReassembleResult {
  if (parts.length === 0) throw new DumpError('usage', 'no split dump files to reassemble');
  const opened: Part[] = [];
  let out: Output | undefined;
  let ok = false;
  try {
    parts.forEach((p, i) => opened.push(openPart(p, i)));
    checkSameDump(opened);
    const sorted = chainParts(opened, opened[0].headers.maxMapnr);
    const { bitmap2, numDumpable } = readBitmap2(sorted[0]);
    out = new Output(output, opts.force);
    const sub = writeHeadersAndBitmaps(out, sorted[0]);
    const { pages, dataEnd } = joinPages(out, sorted, bitmap2, numDumpable);
    const bytes = appendEraseinfo(out, sorted, sub, dataEnd);
    out.finish();
    ok = true;
    return { bytes, pages };
  } finally {
    for (const p of opened) closeInput(p.fd);
    if (out) releaseOutput(out.file, !ok);
  }
}

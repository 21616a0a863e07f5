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
import * as fs from 'fs';
import { DumpError, NoSpaceError, isNoSpace } from '../util/errors';
import { preadFull, pwriteFull } from '../util/file';
import {
  DISK_DUMP_HEADER_BLOCKS, DUMP_DH_COMPRESSED_INCOMPLETE, DiskDumpHeader, KDUMP_SIGNATURE, KdumpSubHeader, PageDesc,
} from './diskdump';

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

/** dump level bit 1: zero pages share one stored page */
const DL_EXCLUDE_ZERO = 1;
const COPY_CHUNK = 8 << 20;
const DESC_BATCH = 65536;
const MAX_BITMAP_BYTES = 1 << 30;

interface Part {
  path: string;
  fd: number;
  size: number;
  rawHeader: Buffer;
  rawSub: Buffer;
  start: number;
  end: number;
  offsetEraseinfo: number;
  sizeEraseinfo: number;
  index: number;
}

function hexPfn(n: number): string {
  return '0x' + n.toString(16);
}

function decodeOr<T>(fn: () => T, path: string, what: string): T {
  try {
    return fn();
  } catch (e) {
    throw new DumpError('bad-kdump', `${path}: invalid ${what}: ${(e as Error).message}`);
  }
}

function openPart(path: string, index: number): Part {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (e) {
    throw new DumpError('open-failed', `can't open ${path}: ${(e as Error).message}`);
  }
  try {
    const size = fs.fstatSync(fd).size;
    const rawHeader = Buffer.alloc(DiskDumpHeader.size);
    if (preadFull(fd, rawHeader, 0, rawHeader.length, 0) < rawHeader.length) {
      throw new DumpError('not-kdump', `${path} is not a kdump-compressed dump: too short for a dump header`);
    }
    if (rawHeader.subarray(0, 8).toString('latin1') !== KDUMP_SIGNATURE) {
      throw new DumpError('not-kdump', `${path} is not a kdump-compressed dump (no "KDUMP" signature)`);
    }
    const h = decodeOr(() => DiskDumpHeader.decode(rawHeader), path, 'dump header');
    const bs = h.block_size;
    if (bs < 4096 || bs > 262144 || (bs & (bs - 1)) !== 0) {
      throw new DumpError('bad-kdump', `${path}: invalid block size ${bs}`);
    }
    if (h.header_version < 1) {
      throw new DumpError('bad-kdump', `${path}: header version ${h.header_version} has no dump level`);
    }
    const rawSub = Buffer.alloc(KdumpSubHeader.size);
    if (preadFull(fd, rawSub, 0, rawSub.length, bs * DISK_DUMP_HEADER_BLOCKS) < rawSub.length) {
      throw new DumpError('truncated', `${path} is truncated: no complete sub-header`);
    }
    const sub = decodeOr(() => KdumpSubHeader.decode(rawSub), path, 'sub-header');
    const v6 = h.header_version >= 6;
    return {
      path, fd, size, rawHeader, rawSub, index,
      start: v6 ? sub.start_pfn_64 : sub.start_pfn,
      end: v6 ? sub.end_pfn_64 : sub.end_pfn,
      offsetEraseinfo: h.header_version >= 5 ? sub.offset_eraseinfo : 0,
      sizeEraseinfo: h.header_version >= 5 ? sub.size_eraseinfo : 0,
    };
  } catch (e) {
    fs.closeSync(fd);
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
  readonly fd: number;

  constructor(readonly path: string, force: boolean) {
    try {
      this.fd = fs.openSync(path, force ? 'w' : 'wx', 0o600);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') {
        throw new DumpError('output-exists', `can't open the dump file ${path}: file exists (use -f to overwrite)`);
      }
      throw new DumpError('output-open', `can't open the dump file ${path}: ${(e as Error).message}`);
    }
  }

  write(buf: Uint8Array, pos: number): void {
    try {
      pwriteFull(this.fd, buf, 0, buf.length, pos);
    } catch (e) {
      if (isNoSpace(e)) throw new NoSpaceError(`no space left on the device holding ${this.path}`);
      throw new DumpError('write-error', `can't write the dump file ${this.path}: ${(e as Error).message}`);
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
    // the output must not be one of the inputs (opening it would truncate a part)
    let outStat: fs.Stats | undefined;
    try {
      outStat = fs.statSync(output);
    } catch {
      outStat = undefined;
    }
    for (const p of opened) {
      const st = fs.fstatSync(p.fd);
      if (outStat && st.dev === outStat.dev && st.ino === outStat.ino) {
        throw new DumpError('usage', `the output ${output} is one of the split dump files`);
      }
    }
    const first = opened[0];
    for (const p of opened.slice(1)) {
      if (!p.rawHeader.equals(first.rawHeader)) {
        throw new DumpError('split-mismatch',
          `${p.path} is not a part of the same split dump as ${first.path}: their dump headers differ`);
      }
      if (!sharedSubBytes(p.rawSub).equals(sharedSubBytes(first.rawSub))) {
        throw new DumpError('split-mismatch',
          `${p.path} is not a part of the same split dump as ${first.path}: their sub-headers differ (dump level, notes or max_mapnr)`);
      }
    }
    const h = DiskDumpHeader.decode(first.rawHeader);
    const sub0 = KdumpSubHeader.decode(first.rawSub);
    const bs = h.block_size;
    const maxMapnr = h.header_version >= 6 ? sub0.max_mapnr_64 : h.max_mapnr;
    const dumpLevel = sub0.dump_level;

    // order by start pfn (an empty range before a non-empty one starting at the same pfn)
    const sorted = opened.slice().sort((a, b) => a.start - b.start || a.end - b.end || a.index - b.index);
    for (const p of sorted) {
      if (p.end < p.start) {
        throw new DumpError('split-range', `${p.path}: its pfn range ${hexPfn(p.start)}-${hexPfn(p.end)} is reversed`);
      }
    }
    if (sorted[0].start !== 0) {
      throw new DumpError('split-gap', `no split dump file holds pfns ${hexPfn(0)}-${hexPfn(sorted[0].start)}`);
    }
    let endPfn = sorted[0].end;
    for (const p of sorted.slice(1)) {
      if (p.start !== endPfn) {
        throw new DumpError('split-gap', `no split dump file holds pfns ${hexPfn(endPfn)}-${hexPfn(p.start)}${p.start < endPfn ? ` (${p.path} overlaps the part before it)` : ''}`);
      }
      endPfn = p.end;
    }
    if (endPfn !== maxMapnr) {
      throw new DumpError('split-gap', `no split dump file holds pfns ${hexPfn(endPfn)}-${hexPfn(maxMapnr)}`);
    }

    // geometry, from the (identical) headers
    const offsetBitmap1 = (DISK_DUMP_HEADER_BLOCKS + h.sub_hdr_size) * bs;
    const bitmapsLen = h.bitmap_blocks * bs;
    const bitmapLen = bitmapsLen / 2;
    if (h.sub_hdr_size < 1 || bitmapLen * 8 < maxMapnr || bitmapLen > MAX_BITMAP_BYTES || !Number.isInteger(bitmapLen)) {
      throw new DumpError('bad-kdump', `${first.path}: bitmaps of ${h.bitmap_blocks} blocks do not fit max_mapnr ${maxMapnr}`);
    }
    const offsetDesc = offsetBitmap1 + bitmapsLen;
    const complete = (h.status & DUMP_DH_COMPRESSED_INCOMPLETE) === 0;
    if (complete) {
      for (const p of opened.slice(1)) {
        if (!sameRange(p, first, offsetBitmap1, bitmapsLen)) {
          throw new DumpError('split-mismatch', `${p.path} is not a part of the same split dump as ${first.path}: their bitmaps differ`);
        }
      }
    }
    const src0 = sorted[0];
    const bitmap2 = Buffer.alloc(bitmapLen);
    if (preadFull(src0.fd, bitmap2, 0, bitmapLen, offsetBitmap1 + bitmapLen) < bitmapLen) {
      throw new DumpError('truncated', `${src0.path} is truncated: its bitmaps run past the end of the file`);
    }
    const isDumpable = (pfn: number): boolean => (bitmap2[pfn >> 3] & (1 << (pfn & 7))) !== 0;
    let numDumpable = 0;
    const fullBytes = Math.floor(maxMapnr / 8);
    for (let i = 0; i < fullBytes; i++) numDumpable += POP[bitmap2[i]];
    for (let pfn = fullBytes * 8; pfn < maxMapnr; pfn++) if (isDumpable(pfn)) numDumpable++;

    out = new Output(output, opts.force);
    // main header, sub-header with the split fields cleared, notes, bitmaps
    out.write(src0.rawHeader, 0);
    const sub = Buffer.from(src0.rawSub);
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
        throw new DumpError('bad-kdump', `${src0.path}: its ${c.what} (${c.len} bytes at offset ${c.off}) lies outside the sub-header area`);
      }
      copyRange(src0, c.off, out, c.off, c.len, c.what);
    }
    copyRange(src0, offsetBitmap1, out, offsetBitmap1, bitmapsLen, 'bitmaps');

    // descriptors and page data
    const dataStart = offsetDesc + PageDesc.size * numDumpable;
    const descs = new SeqWriter(out, offsetDesc, DESC_BATCH * PageDesc.size);
    const data = new SeqWriter(out, dataStart, COPY_CHUNK);
    const zeroDesc = Buffer.alloc(PageDesc.size);
    const lostDesc = Buffer.alloc(PageDesc.size);
    const excludeZero = (dumpLevel & DL_EXCLUDE_ZERO) !== 0;
    if (excludeZero) {
      PageDesc.encode({ offset: dataStart, size: bs, flags: 0, page_flags: 0n }, zeroDesc);
      data.put(Buffer.alloc(bs));
    }
    const inDesc = Buffer.allocUnsafe(DESC_BATCH * PageDesc.size);
    const outDesc = Buffer.alloc(PageDesc.size);
    let written = 0;
    for (const p of sorted) {
      const reader = new WindowReader(p);
      let k = 0; // descriptor index inside this part
      let have = 0; // descriptors in inDesc
      let base = 0; // index of inDesc's first descriptor
      for (let pfn = p.start; pfn < p.end; pfn++) {
        if ((pfn & 7) === 0 && bitmap2[pfn >> 3] === 0 && pfn + 8 <= p.end) {
          pfn += 7;
          continue;
        }
        if (!isDumpable(pfn)) continue;
        if (k >= base + have) {
          base = k;
          const got = preadFull(p.fd, inDesc, 0, inDesc.length, offsetDesc + k * PageDesc.size);
          have = Math.floor(got / PageDesc.size);
          if (have === 0) {
            throw new DumpError('truncated', `${p.path} is truncated: no page descriptor for pfn ${hexPfn(pfn)} (descriptor ${k})`);
          }
        }
        const at = (k - base) * PageDesc.size;
        k++;
        written++;
        const offset = inDesc.readBigInt64LE(at);
        const size = inDesc.readUInt32LE(at + 8);
        if (excludeZero && offset === BigInt(dataStart)) {
          descs.put(zeroDesc);
          continue;
        }
        if (offset === 0n) {
          // lost in an incomplete dump: stays lost
          descs.put(lostDesc);
          continue;
        }
        if (offset < 0n || size > bs) {
          throw new DumpError('bad-kdump',
            `${p.path}: the page descriptor of pfn ${hexPfn(pfn)} (offset ${offset}, size ${size}) is corrupt`);
        }
        const bytes = offset + BigInt(size) > BigInt(p.size) ? undefined : reader.get(Number(offset), size);
        if (!bytes) {
          throw new DumpError('truncated', `${p.path} is truncated: the page data of pfn ${hexPfn(pfn)} is missing`);
        }
        inDesc.copy(outDesc, 0, at, at + PageDesc.size);
        outDesc.writeBigInt64LE(BigInt(data.at), 0);
        descs.put(outDesc);
        data.put(bytes);
      }
    }
    if (written !== numDumpable) {
      throw new DumpError('split-mismatch', `the parts hold ${written} pages, the bitmap says ${numDumpable}`);
    }
    descs.flush();
    data.flush();

    // eraseinfo, each part's own, in pfn order
    const offsetEraseinfo = data.at;
    let sizeEraseinfo = 0;
    for (const p of sorted) {
      if (p.sizeEraseinfo === 0) continue;
      copyRange(p, p.offsetEraseinfo, out, offsetEraseinfo + sizeEraseinfo, p.sizeEraseinfo, 'eraseinfo');
      sizeEraseinfo += p.sizeEraseinfo;
    }
    if (sizeEraseinfo > 0) {
      KdumpSubHeader.encode({ offset_eraseinfo: offsetEraseinfo, size_eraseinfo: sizeEraseinfo }, sub);
      out.write(sub, bs * DISK_DUMP_HEADER_BLOCKS);
    }
    const bytes = offsetEraseinfo + sizeEraseinfo;
    fs.closeSync(out.fd);
    ok = true;
    return { bytes, pages: written };
  } finally {
    for (const p of opened) fs.closeSync(p.fd);
    if (!ok && out) {
      try {
        fs.closeSync(out.fd);
      } catch {
        // already closed
      }
      fs.rmSync(output, { force: true });
    }
  }
}

// The two headers of a kdump-compressed file, read and checked in one place for every
// reader: refiltering and `info` (src/vmcore/kdump-vmcore.ts) and --reassemble.
// Spec: kdump-compressed.md §2-§3 (the checks of crash and libkdumpfile).
import * as fs from 'fs';
import { DumpError } from '../util/errors';
import { preadFull } from '../util/file';
import {
  DISK_DUMP_HEADER_BLOCKS, DiskDumpHeader, DiskDumpHeaderValue, KdumpSubHeader, KdumpSubHeaderValue, isKdumpSignature,
} from './diskdump';

export interface KdumpHeaders {
  header: DiskDumpHeaderValue;
  sub: KdumpSubHeaderValue;
  /** both headers as stored (--reassemble compares and copies them) */
  rawHeader: Buffer;
  rawSub: Buffer;
  blockSize: number;
  /** from the sub-header from version 6 on, else from the main header */
  maxMapnr: number;
  fileSize: number;
  /** bytes of one bitmap; where the 1st bitmap and the descriptor table start */
  bitmapLen: number;
  offsetBitmap1: number;
  offsetDesc: number;
}

/** Bitmaps larger than this (8 Gi pfns, 32 TiB of 4 KiB pages) are taken for corruption. */
const MAX_BITMAP_BYTES = 1 << 30;

/** A field no dump can have (an offset beyond 2^53) is bad input, said in one line. */
export function decodeKdumpField<T>(decode: () => T, path: string, what: string): T {
  try {
    return decode();
  } catch (e) {
    throw new DumpError('bad-kdump', `${path}: ${what}: ${(e as Error).message}`);
  }
}

/** Notes copied into a dump larger than this are taken for corruption (a vmcore's PT_NOTE has the same bound). */
const MAX_NOTE_BYTES = 64 << 20;

/** The notes or the VMCOREINFO the sub-header points at: inside the file and of a size a kernel writes, before anything is allocated for them. */
function checkCopiedBlock(path: string, what: string, offset: number, size: number, fileSize: number): void {
  if (size === 0) return;
  if (size > MAX_NOTE_BYTES) throw new DumpError('bad-kdump', `${path}: sub-header gives ${what} of ${size} bytes, more than any kernel writes`);
  if (offset + size > fileSize) {
    throw new DumpError('truncated', `${path} is truncated: the ${what} end at ${offset + size}, file has ${fileSize} bytes`);
  }
}

export function readKdumpHeaders(fd: number, path: string): KdumpHeaders {
  const fileSize = fs.fstatSync(fd).size;
  const rawHeader = Buffer.alloc(DiskDumpHeader.size);
  const got = preadFull(fd, rawHeader, 0, rawHeader.length, 0);
  if (got < 8 || !isKdumpSignature(rawHeader)) {
    throw new DumpError('not-kdump', `${path} is not a kdump-compressed dump (no KDUMP or DISKDUMP signature)`);
  }
  if (got < rawHeader.length) throw new DumpError('truncated', `${path} is truncated: no complete dump header`);
  const header = decodeKdumpField(() => DiskDumpHeader.decode(rawHeader), path, 'dump header');
  const bs = header.block_size;
  if (bs < 4096 || bs > 262144 || (bs & (bs - 1)) !== 0) throw new DumpError('bad-kdump', `${path}: invalid block size ${bs}`);
  if (header.header_version < 1) throw new DumpError('bad-kdump', `${path}: unsupported header version ${header.header_version}`);
  const rawSub = Buffer.alloc(KdumpSubHeader.size);
  if (preadFull(fd, rawSub, 0, rawSub.length, bs * DISK_DUMP_HEADER_BLOCKS) < rawSub.length) {
    throw new DumpError('truncated', `${path} is truncated: no complete sub-header`);
  }
  const sub = decodeKdumpField(() => KdumpSubHeader.decode(rawSub), path, 'sub-header');
  const maxMapnr = header.header_version >= 6 ? sub.max_mapnr_64 : header.max_mapnr;
  const bitmapLen = (header.bitmap_blocks * bs) / 2;
  if (header.sub_hdr_size < 1 || bitmapLen * 8 < maxMapnr || !Number.isInteger(bitmapLen)) {
    throw new DumpError('bad-kdump', `${path}: bitmaps of ${header.bitmap_blocks} blocks do not fit max_mapnr ${maxMapnr}`);
  }
  const offsetBitmap1 = (DISK_DUMP_HEADER_BLOCKS + header.sub_hdr_size) * bs;
  const offsetDesc = offsetBitmap1 + 2 * bitmapLen;
  if (offsetDesc > fileSize) throw new DumpError('truncated', `${path} is truncated: bitmaps end past the end of the file`);
  if (bitmapLen > MAX_BITMAP_BYTES) throw new DumpError('bad-kdump', `${path}: implausible bitmap size`);
  if (header.header_version >= 4) checkCopiedBlock(path, 'notes', sub.offset_note, sub.size_note, fileSize);
  if (header.header_version >= 3) checkCopiedBlock(path, 'VMCOREINFO', sub.offset_vmcoreinfo, sub.size_vmcoreinfo, fileSize);
  return { header, sub, rawHeader, rawSub, blockSize: bs, maxMapnr, fileSize, bitmapLen, offsetBitmap1, offsetDesc };
}

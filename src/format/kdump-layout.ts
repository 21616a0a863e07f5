// Where everything goes in a kdump-compressed file, and the two headers' contents.
// Spec: kdump-compressed.md §1-§3 (upstream: makedumpfile write_kdump_header).
import {
  DISK_DUMP_HEADER_BLOCKS, DiskDumpHeader, KDUMP_HEADER_VERSION, KDUMP_SIGNATURE, KdumpSubHeader, PageDesc,
  bitmapBytes,
} from './diskdump';

export interface KdumpGeometry {
  blockSize: number;
  maxMapnr: number;
  /** blocks taken by the sub-header and the copied notes */
  subHdrSize: number;
  /** bytes of one bitmap */
  bitmapLen: number;
  bitmapBlocks: number;
  offsetBitmap1: number;
  offsetBitmap2: number;
  /** start of the page descriptor table */
  offsetDesc: number;
}

export function kdumpGeometry(blockSize: number, noteSize: number, maxMapnr: number): KdumpGeometry {
  const subHdrSize = Math.ceil((KdumpSubHeader.size + noteSize) / blockSize);
  const bitmapLen = bitmapBytes(maxMapnr, blockSize);
  const bitmapBlocks = (2 * bitmapLen) / blockSize;
  const offsetBitmap1 = (DISK_DUMP_HEADER_BLOCKS + subHdrSize) * blockSize;
  return {
    blockSize, maxMapnr, subHdrSize, bitmapLen, bitmapBlocks, offsetBitmap1,
    offsetBitmap2: offsetBitmap1 + bitmapLen,
    offsetDesc: offsetBitmap1 + 2 * bitmapLen,
  };
}

/** Page data starts right after the descriptors, unaligned. */
export function dataStart(g: KdumpGeometry, numDumpable: number): number {
  return g.offsetDesc + PageDesc.size * numDumpable;
}

export interface MainHeaderFields {
  utsname: Buffer;
  crashTime: number;
  status: number;
  nrCpus: number;
}

/** The 464-byte disk_dump_header (x86_64 layout). */
export function encodeMainHeader(g: KdumpGeometry, f: MainHeaderFields): Buffer {
  const b = Buffer.alloc(DiskDumpHeader.size);
  DiskDumpHeader.encode({
    signature: KDUMP_SIGNATURE,
    header_version: KDUMP_HEADER_VERSION,
    utsname: f.utsname,
    tv_sec: f.crashTime,
    tv_usec: 0,
    status: f.status,
    block_size: g.blockSize,
    sub_hdr_size: g.subHdrSize,
    bitmap_blocks: g.bitmapBlocks,
    max_mapnr: Math.min(g.maxMapnr, 0xffffffff),
    total_ram_blocks: 0,
    device_blocks: 0,
    written_blocks: 0,
    current_cpu: 0,
    nr_cpus: f.nrCpus,
  }, b);
  return b;
}

export interface SubHeaderFields {
  physBase: bigint;
  dumpLevel: number;
  /** size of the copied PT_NOTE segment; 0 when the input had none */
  noteSize: number;
  /** offset of the VMCOREINFO descriptor inside the note segment, or -1 */
  vmcoreinfoDescOffset: number;
  vmcoreinfoSize: number;
  split?: { startPfn: number; endPfn: number };
  eraseinfo?: { offset: number; size: number };
}

export function encodeSubHeader(g: KdumpGeometry, f: SubHeaderFields): Buffer {
  const b = Buffer.alloc(KdumpSubHeader.size);
  const offsetNote = f.noteSize > 0 ? g.blockSize * DISK_DUMP_HEADER_BLOCKS + KdumpSubHeader.size : 0;
  KdumpSubHeader.encode({
    phys_base: f.physBase,
    dump_level: f.dumpLevel,
    split: f.split ? 1 : 0,
    start_pfn: f.split ? Math.min(f.split.startPfn, 0xffffffff) : 0,
    end_pfn: f.split ? Math.min(f.split.endPfn, 0xffffffff) : 0,
    offset_vmcoreinfo: f.noteSize > 0 && f.vmcoreinfoDescOffset >= 0 ? offsetNote + f.vmcoreinfoDescOffset : 0,
    size_vmcoreinfo: f.noteSize > 0 && f.vmcoreinfoDescOffset >= 0 ? f.vmcoreinfoSize : 0,
    offset_note: offsetNote,
    size_note: f.noteSize,
    offset_eraseinfo: f.eraseinfo?.offset ?? 0,
    size_eraseinfo: f.eraseinfo?.size ?? 0,
    start_pfn_64: f.split?.startPfn ?? 0,
    end_pfn_64: f.split?.endPfn ?? 0,
    max_mapnr_64: g.maxMapnr,
  }, b);
  return b;
}

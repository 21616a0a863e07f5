// kdump-compressed ("diskdump") on-disk structures, x86_64 layout.
// Spec: kdump-compressed.md §2-§4 (upstream: makedumpfile diskdump_mod.h).
import { Struct } from './struct';

export const KDUMP_SIGNATURE = 'KDUMP   ';
export const DISKDUMP_SIGNATURE = 'DISKDUMP';
export const KDUMP_HEADER_VERSION = 6;
export const DISK_DUMP_HEADER_BLOCKS = 1;

/** Same numeric space for the header's status and a page descriptor's flags. */
export const DUMP_DH_COMPRESSED_ZLIB = 0x01;
export const DUMP_DH_COMPRESSED_LZO = 0x02;
export const DUMP_DH_COMPRESSED_SNAPPY = 0x04;
export const DUMP_DH_COMPRESSED_INCOMPLETE = 0x08;
export const DUMP_DH_EXCLUDED_VMEMMAP = 0x10;
export const DUMP_DH_COMPRESSED_ZSTD = 0x20;

/**
 * The sub-header's dump_level: a bit mask of the page classes left out (makedumpfile's
 * DL_EXCLUDE_*; spec page-filtering.md §1). With DL_EXCLUDE_ZERO every all-zero page shares
 * one stored page, the first of the data area.
 */
export const DL_EXCLUDE_ZERO = 1;
export const DL_EXCLUDE_CACHE = 2;
export const DL_EXCLUDE_CACHE_PRI = 4;
export const DL_EXCLUDE_USER_DATA = 8;
export const DL_EXCLUDE_FREE = 16;
export const MAX_DUMP_LEVEL = 31;

const CODEC_BITS: [number, string][] = [
  [DUMP_DH_COMPRESSED_ZLIB, 'zlib'], [DUMP_DH_COMPRESSED_LZO, 'lzo'], [DUMP_DH_COMPRESSED_SNAPPY, 'snappy'], [DUMP_DH_COMPRESSED_ZSTD, 'zstd'],
];

/** The codec named by a header status word ("none": pages stored raw). */
export function codecOfStatus(status: number): string {
  const names = CODEC_BITS.filter(([bit]) => (status & bit) !== 0).map(([, n]) => n);
  return names.length ? names.join('+') : 'none';
}

/** utsname fields are 65 bytes each (NEW_UTS_LEN + 1) */
export const UTS_FIELD = 65;
export const UTSNAME_SIZE = 6 * UTS_FIELD;

export const DiskDumpHeader = new Struct('disk_dump_header', 464, [
  { name: 'signature', type: 'cstring', offset: 0, size: 8 },
  { name: 'header_version', type: 'i32', offset: 8 },
  { name: 'sysname', type: 'cstring', offset: 12, size: UTS_FIELD },
  { name: 'nodename', type: 'cstring', offset: 77, size: UTS_FIELD },
  { name: 'release', type: 'cstring', offset: 142, size: UTS_FIELD },
  { name: 'version', type: 'cstring', offset: 207, size: UTS_FIELD },
  { name: 'machine', type: 'cstring', offset: 272, size: UTS_FIELD },
  { name: 'domainname', type: 'cstring', offset: 337, size: UTS_FIELD },
  /** the six utsname fields as raw bytes, as copied from init_uts_ns */
  { name: 'utsname', type: 'bytes', offset: 12, size: UTSNAME_SIZE },
  { name: 'tv_sec', type: 'i64n', offset: 408 },
  { name: 'tv_usec', type: 'i64n', offset: 416 },
  { name: 'status', type: 'u32', offset: 424 },
  { name: 'block_size', type: 'i32', offset: 428 },
  { name: 'sub_hdr_size', type: 'i32', offset: 432 },
  { name: 'bitmap_blocks', type: 'u32', offset: 436 },
  { name: 'max_mapnr', type: 'u32', offset: 440 },
  { name: 'total_ram_blocks', type: 'u32', offset: 444 },
  { name: 'device_blocks', type: 'u32', offset: 448 },
  { name: 'written_blocks', type: 'u32', offset: 452 },
  { name: 'current_cpu', type: 'u32', offset: 456 },
  { name: 'nr_cpus', type: 'i32', offset: 460 },
] as const);

export const KdumpSubHeader = new Struct('kdump_sub_header', 104, [
  { name: 'phys_base', type: 'i64', offset: 0 },
  { name: 'dump_level', type: 'i32', offset: 8 },
  { name: 'split', type: 'i32', offset: 12 },
  { name: 'start_pfn', type: 'u64n', offset: 16 },
  { name: 'end_pfn', type: 'u64n', offset: 24 },
  { name: 'offset_vmcoreinfo', type: 'u64n', offset: 32 },
  { name: 'size_vmcoreinfo', type: 'u64n', offset: 40 },
  { name: 'offset_note', type: 'u64n', offset: 48 },
  { name: 'size_note', type: 'u64n', offset: 56 },
  { name: 'offset_eraseinfo', type: 'u64n', offset: 64 },
  { name: 'size_eraseinfo', type: 'u64n', offset: 72 },
  { name: 'start_pfn_64', type: 'u64n', offset: 80 },
  { name: 'end_pfn_64', type: 'u64n', offset: 88 },
  { name: 'max_mapnr_64', type: 'u64n', offset: 96 },
] as const);

export const PageDesc = new Struct('page_desc', 24, [
  { name: 'offset', type: 'i64n', offset: 0 },
  { name: 'size', type: 'u32', offset: 8 },
  { name: 'flags', type: 'u32', offset: 12 },
  { name: 'page_flags', type: 'u64', offset: 16 },
] as const);

export type DiskDumpHeaderValue = ReturnType<typeof DiskDumpHeader.decode>;
export type KdumpSubHeaderValue = ReturnType<typeof KdumpSubHeader.decode>;

/** Whether a file starts with the signature of a kdump-compressed dump (KDUMP, or DISKDUMP of old diskdump). */
export function isKdumpSignature(head: Uint8Array): boolean {
  const sig = Buffer.from(head.buffer, head.byteOffset, Math.min(8, head.length)).toString('latin1');
  return sig === KDUMP_SIGNATURE || sig === DISKDUMP_SIGNATURE;
}

/** Byte length of one bitmap: whole blocks covering max_mapnr bits (makedumpfile prepare_bitmap2_buffer). */
export function bitmapBytes(maxMapnr: number, blockSize: number): number {
  return Math.ceil(Math.ceil(maxMapnr / 8) / blockSize) * blockSize;
}

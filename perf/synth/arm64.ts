// The arm64 machine of the synthetic vmcore: a Linux 6.1 arm64 kernel with 4 KiB pages and
// 48-bit VAs (Debian's configuration) on a QEMU virt-like board. What differs from
// x86_64: RAM from 1 GiB up, the flipped VA layout (linear map at 0xffff000000000000,
// vmemmap at 0xfffffc0000000000, the image at KIMAGE_VADDR + KASLR offset), the
// swapper_pg_dir tables with arm64 descriptors, the VMCOREINFO keys arm64 exports, and
// its 392-byte NT_PRSTATUS. Layout fields keep their x86_64 meaning where they can:
// pageOffsetBase + pa is a pa's linear-map address, vmemmapBase + 64 * pfn its struct page.

import { Rng } from './prng';
import type { Layout, RamRange } from './layout';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const PAGE = 4096;
/** the virt board's RAM starts here */
export const ARM64_RAM_START = GiB;
/** PAGE_OFFSET with 48-bit VAs, 5.4+ (the linear map in the lower half) */
export const ARM64_PAGE_OFFSET = 0xffff000000000000n;
export const ARM64_VMEMMAP_START = 0xfffffc0000000000n;
/** KIMAGE_VADDR: MODULES_END, where the image sits before its KASLR offset */
export const ARM64_KIMAGE_VADDR = 0xffff800008000000n;
/** KASLR moves the image within the vmalloc area: offsets up to 2^46 in 2 MiB steps (6.1 keeps them below half of it) */
const KASLR_STEPS = 2 ** 24;
const U64 = (1n << 64n) - 1n;

/** RAM ranges of a virt-like board: from 1 GiB, NUMA nodes (16 GiB and more) with holes between them. */
export function ramRangesArm64(ramBytes: number, nodes: number, rng: Rng): RamRange[] {
  if (ramBytes < 256 * MiB) throw new Error('--ram must be at least 256 MiB');
  if (ramBytes % (2 * MiB) !== 0) throw new Error('--ram must be a multiple of 2 MiB');
  if (nodes <= 1) return [{ start: ARM64_RAM_START, end: ARM64_RAM_START + ramBytes, node: 0 }];
  const unit = 128 * MiB;
  const ranges: RamRange[] = [];
  let at = ARM64_RAM_START;
  let left = ramBytes;
  for (let n = 0; n < nodes && left > 0; n++) {
    const share = n === nodes - 1 ? left : Math.min(Math.max(Math.floor(ramBytes / nodes / unit) * unit, unit), left);
    // a hole of 2 GiB (whole sections without memmap) plus 0..3 x 64 MiB (sections partly backed)
    if (n > 0) at += 2 * GiB + 64 * MiB * rng.below(4);
    ranges.push({ start: at, end: at + share, node: n });
    at += share;
    left -= share;
  }
  return ranges;
}

/**
 * Where the kernel's virtual regions sit: PHYS_OFFSET (memstart_addr: RAM's start, or
 * 1 GiB below it when KASLR moved the linear map), and the image's KASLR offset.
 */
export function arm64Bases(layout: Layout, rng: Rng): void {
  const physOffset = ARM64_RAM_START - GiB * rng.below(2);
  layout.physOffset = physOffset;
  layout.pageOffsetBase = (ARM64_PAGE_OFFSET - BigInt(physOffset)) & U64;
  layout.vmemmapBase = (ARM64_VMEMMAP_START - BigInt(physOffset / PAGE) * 64n) & U64;
  layout.kernelOffset = 2 * MiB * rng.below(KASLR_STEPS);
}

/** The image's physical place: 2 MiB steps in node 0's first GiB (where the EFI stub or QEMU puts it). */
export function arm64TextPhys(layout: Layout, rng: Rng, kernelImageBytes: number): number {
  const first = layout.ranges[0];
  const limit = Math.min(first.end, first.start + GiB) - kernelImageBytes;
  const slots = Math.floor((limit - first.start - 2 * MiB) / (2 * MiB));
  if (slots < 1) throw new Error('not enough RAM for the kernel image');
  return first.start + 2 * MiB * (1 + rng.below(slots));
}

export function arm64ImageVirt(layout: Layout): bigint {
  return ARM64_KIMAGE_VADDR + BigInt(layout.kernelOffset);
}

// ---- page tables (swapper_pg_dir): VMSAv8-64 descriptors, 4 KiB granule, 4 levels

const TABLE = 3n;
/** block and page attributes: AF, inner shareable, normal memory (AttrIndx 4), UXN */
const BLOCK = 0x0040000000000711n;
const PAGE_DESC = 0x0040000000000713n;
const PXN = 1n << 53n;

/** arm64 kernel page tables as the synthetic kernel builds them. */
export class Arm64Tables {
  readonly tables = new Map<number, BigUint64Array>();

  constructor(readonly root: number, private readonly alloc: () => number) {
    this.tables.set(root, new BigUint64Array(512));
  }

  private table(phys: number): BigUint64Array {
    let t = this.tables.get(phys);
    if (!t) {
      t = new BigUint64Array(512);
      this.tables.set(phys, t);
    }
    return t;
  }

  /** Maps one 1 GiB (level 1), 2 MiB (level 2) or 4 KiB (level 3) block at va. */
  map(va: bigint, pa: number, level: 1 | 2 | 3, exec = false): void {
    let t = this.root;
    for (let l = 0; l < level; l++) {
      const idx = Number((va >> BigInt(39 - 9 * l)) & 511n);
      const e = this.table(t)[idx];
      if (e === 0n) {
        const child = this.alloc();
        this.table(t)[idx] = BigInt(child) | TABLE;
        this.table(child);
        t = child;
      } else if ((e & 3n) !== TABLE) {
        throw new Error(`page-table conflict at 0x${va.toString(16)}`);
      } else {
        t = Number(e & 0x0000fffffffff000n);
      }
    }
    const idx = Number((va >> BigInt(39 - 9 * level)) & 511n);
    this.table(t)[idx] = BigInt(pa) | (level === 3 ? PAGE_DESC : BLOCK) | (exec ? 0n : PXN);
  }
}

/**
 * The kernel's mappings: the image with 2 MiB blocks, the linear map with 1 GiB blocks
 * except its first GiB (2 MiB blocks) and first 2 MiB (pages), so that every descriptor
 * kind is walked, and the vmemmap with one 2 MiB block per present section.
 */
export function mapArm64Kernel(layout: Layout, tables: Arm64Tables, imageBytes: number, textBytes: number): void {
  const image = arm64ImageVirt(layout);
  for (let off = 0; off < imageBytes; off += 2 * MiB) tables.map(image + BigInt(off), layout.textPhys + off, 2, off < textBytes);
  const lin = (pa: number): bigint => (layout.pageOffsetBase + BigInt(pa)) & U64;
  const gigs = new Set<number>();
  for (const r of layout.ranges) for (let g = Math.floor(r.start / GiB); g * GiB < r.end; g++) gigs.add(g);
  const first = Math.min(...gigs);
  for (const g of [...gigs].sort((a, b) => a - b)) {
    if (g !== first) {
      tables.map(lin(g * GiB), g * GiB, 1);
      continue;
    }
    for (let m = 0; m < GiB; m += 2 * MiB) {
      if (m !== 0) tables.map(lin(g * GiB + m), g * GiB + m, 2);
      else for (let p = 0; p < 2 * MiB; p += PAGE) tables.map(lin(g * GiB + p), g * GiB + p, 3);
    }
  }
  for (const s of layout.sections) {
    tables.map(layout.vmemmapBase + BigInt(s) * 2n * BigInt(MiB), layout.memmapPhys.get(s) as number, 2);
  }
}

/** Page-table pages the arm64 mappings need beyond what the x86_64 estimate counts. */
export function arm64ExtraTablePages(): number {
  // the first GiB's level 2 table and the first 2 MiB's level 3 table, the image's tables
  return 8;
}

/** struct elf_prstatus of arm64 (392 bytes): pr_pid at 32, pr_reg (x0-x30, sp, pc, pstate) at 112. */
export function arm64Prstatus(cpu: number, pc: bigint, sp: bigint): Buffer {
  const d = Buffer.alloc(392);
  d.writeUInt32LE(cpu === 0 ? 1 : 0, 32);
  const reg = (i: number, v: bigint): void => {
    d.writeBigUInt64LE(BigInt.asUintN(64, v), 112 + 8 * i);
  };
  reg(29, sp + 0x40n); // x29, the frame pointer
  reg(31, sp);
  reg(32, pc);
  reg(33, 0x600003c5n); // pstate: EL1h, interrupts masked
  d.writeUInt32LE(1, 384); // pr_fpvalid
  return d;
}

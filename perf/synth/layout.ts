// Physical and virtual layout of the synthetic machine: RAM ranges (one PT_LOAD
// each), NUMA nodes, memory sections, KASLR bases, and where the kernel keeps
// its own structures (kernel image, memblock pool, vmemmap backing).
//
// Physical addresses and sizes are JS numbers (exact below 2^53 = 8 PiB); kernel
// virtual addresses are bigint.

import { arm64Bases, arm64ImageVirt, arm64TextPhys, ramRangesArm64 } from './arm64';
import { Rng } from './prng';

export const PAGE = 4096;
export const MiB = 2 ** 20;
export const GiB = 2 ** 30;
export const SECTION_PFNS = 32768; // 2^(SECTION_SIZE_BITS 27 - PAGE_SHIFT 12)
export const SECTION_BYTES = SECTION_PFNS * PAGE;
export const STRUCT_PAGE = 64;
/** vmemmap of one section: 32768 × 64 bytes = one 2 MiB PMD mapping */
export const MEMMAP_BLOCK = SECTION_PFNS * STRUCT_PAGE;
export const START_KERNEL_MAP = 0xffffffff80000000n;
/** offset of _text from __START_KERNEL_map before KASLR (CONFIG_PHYSICAL_START 16 MiB) */
export const TEXT_BASE_OFFSET = 0x1000000;

export type MemoryModel = 'sparse-extreme' | 'sparse' | 'flat';
export type SynthArch = 'x86_64' | 'arm64';

export interface RamRange {
  start: number; // bytes, page aligned
  end: number;
  node: number;
}

export interface Reservation {
  startPfn: number;
  endPfn: number;
  what: 'kernel' | 'pool' | 'memmap';
  /** memmap: the section whose struct pages live here */
  section?: number;
}

export interface LayoutOptions {
  arch?: SynthArch;
  ramBytes: number;
  model: MemoryModel;
  levels: 4 | 5;
  nodes?: number;
  seed: number;
}

export interface Layout {
  arch: SynthArch;
  model: MemoryModel;
  levels: 4 | 5;
  ranges: RamRange[];
  nodes: number;
  ramPages: number;
  maxMapnr: number;
  /** present sections (contain RAM), ascending */
  sections: number[];
  sectionNode: Map<number, number>;
  maxPhysmemBits: number;
  pageOffsetBase: bigint;
  vmemmapBase: bigint;
  kernelOffset: number; // KERNELOFFSET (bytes, 2 MiB multiple)
  textPhys: number; // physical address of _text
  physBase: number; // may be negative
  /** arm64: PHYS_OFFSET (memstart_addr), the physical address the linear map starts at */
  physOffset: number;
  kernelImageBytes: number;
  poolStart: number; // physical
  poolBytes: number;
  /** physical address of the vmemmap block of each present section */
  memmapPhys: Map<number, number>;
  /** sorted by startPfn */
  reservations: Reservation[];
}

const LOW_RANGE_START = 0x1000;
const LOW_RANGE_END = 0xa0000;
const ONE_MIB = 0x100000;
const FOUR_GIB = 4 * GiB;
/** QEMU's pc machine keeps at most 3 GiB below 4 GiB (PCI hole above it) */
const BELOW_4G_MAX = 3 * GiB;

function roundDown(v: number, a: number): number {
  return Math.floor(v / a) * a;
}
function roundUp(v: number, a: number): number {
  return Math.ceil(v / a) * a;
}

export function defaultNodes(ramBytes: number): number {
  if (ramBytes < 16 * GiB) return 1;
  return Math.max(2, Math.min(8, Math.ceil(ramBytes / (128 * GiB))));
}

/** RAM ranges like QEMU's e820 for `-m SIZE`, split into NUMA nodes with gaps between them. */
export function ramRanges(ramBytes: number, nodes: number, rng: Rng): RamRange[] {
  if (ramBytes < 256 * MiB) throw new Error('--ram must be at least 256 MiB');
  if (ramBytes % (2 * MiB) !== 0) throw new Error('--ram must be a multiple of 2 MiB');
  const low = Math.min(ramBytes, BELOW_4G_MAX);
  const ranges: RamRange[] = [
    { start: LOW_RANGE_START, end: LOW_RANGE_END, node: 0 },
    { start: ONE_MIB, end: low, node: 0 },
  ];
  let high = ramBytes - low;
  if (high === 0) return ranges;
  if (nodes <= 1) {
    ranges.push({ start: FOUR_GIB, end: FOUR_GIB + high, node: 0 });
    return ranges;
  }
  // Node shares in 128 MiB units; node 0 already has the memory below 4 GiB.
  const unit = 128 * MiB;
  const perNode = ramBytes / nodes;
  let at = FOUR_GIB;
  for (let n = 0; n < nodes && high > 0; n++) {
    let share = n === nodes - 1 ? high : roundDown(n === 0 ? Math.max(perNode - low, unit) : perNode, unit);
    share = Math.min(Math.max(share, unit), high);
    if (n > 0) {
      // A hole of 2 GiB (whole sections without memmap) plus 0..3 × 64 MiB
      // (sections only partly backed by RAM).
      at += 2 * GiB + 64 * MiB * rng.below(4);
    }
    ranges.push({ start: at, end: at + share, node: n });
    at += share;
    high -= share;
  }
  return ranges;
}

export function buildLayout(opts: LayoutOptions, rng: Rng, poolBytesFor: (l: Layout) => number): Layout {
  const arch = opts.arch ?? 'x86_64';
  if (arch === 'arm64' && (opts.model !== 'sparse-extreme' || opts.levels !== 4)) {
    throw new Error('arm64: the synthetic kernel is SPARSEMEM_EXTREME with 48-bit VAs (--layout sparse-extreme, --levels 4)');
  }
  // FLATMEM kernels are !NUMA (x86 allows FLATMEM only without NUMA): one node.
  const nodes = opts.model === 'flat' ? 1 : opts.nodes ?? defaultNodes(opts.ramBytes);
  const ranges = arch === 'arm64' ? ramRangesArm64(opts.ramBytes, nodes, rng) : ramRanges(opts.ramBytes, nodes, rng);
  const nodeCount = Math.max(...ranges.map((r) => r.node)) + 1;
  let ramPages = 0;
  for (const r of ranges) ramPages += (r.end - r.start) / PAGE;
  const maxMapnr = ranges[ranges.length - 1].end / PAGE;
  const sectionNode = new Map<number, number>();
  for (const r of ranges) {
    for (let s = Math.floor(r.start / SECTION_BYTES); s * SECTION_BYTES < r.end; s++) {
      if (!sectionNode.has(s)) sectionNode.set(s, r.node);
    }
  }
  const sections = [...sectionNode.keys()].sort((a, b) => a - b);
  const maxPhysmemBits = arch === 'arm64' ? 48 : opts.levels === 5 ? 52 : 46;
  if (ranges[ranges.length - 1].end > 2 ** maxPhysmemBits) throw new Error('RAM beyond MAX_PHYSMEM_BITS');

  // CONFIG_RANDOMIZE_MEMORY: bases move in 1 GiB steps.
  const pageOffsetBase = opts.levels === 5
    ? 0xff11000000000000n + BigInt(rng.below(1 << 20)) * BigInt(GiB)
    : 0xffff888000000000n + BigInt(rng.below(1 << 14)) * BigInt(GiB);
  const vmemmapBase = opts.levels === 5
    ? 0xffd4000000000000n + BigInt(rng.below(1 << 20)) * BigInt(GiB)
    : 0xffffd40000000000n + BigInt(rng.below(1 << 14)) * BigInt(GiB);

  const kernelImageBytes = kernelImageSize(opts.model, sections);
  // KASLR: virtual offset and physical load address are drawn independently
  // (2 MiB steps, CONFIG_PHYSICAL_ALIGN); the image must end below
  // __START_KERNEL_map + KERNEL_IMAGE_SIZE (1 GiB).
  const maxOffsetSteps = (GiB - TEXT_BASE_OFFSET - kernelImageBytes) / (2 * MiB);
  const kernelOffset = 2 * MiB * rng.below(maxOffsetSteps);

  const layout: Layout = {
    arch, model: opts.model, levels: opts.levels, ranges, nodes: nodeCount, ramPages, maxMapnr, sections,
    sectionNode, maxPhysmemBits, pageOffsetBase, vmemmapBase, kernelOffset, textPhys: 0, physBase: 0, physOffset: 0,
    kernelImageBytes, poolStart: 0, poolBytes: 0, memmapPhys: new Map(), reservations: [],
  };
  if (arch === 'arm64') arm64Bases(layout, rng);

  // Physical placement: the kernel first (decompressor's choice), then memblock
  // allocations top-down in each node: the pool in node 0, then the vmemmap blocks.
  const free = ranges.map((r) => ({ start: roundUp(r.start, 2 * MiB), end: roundDown(r.end, 2 * MiB), node: r.node }))
    .filter((r) => r.end > r.start);
  const memmapTotal = sections.length * MEMMAP_BLOCK;
  const poolBytes = roundUp(poolBytesFor(layout), 2 * MiB);
  if (arch === 'arm64') {
    layout.textPhys = arm64TextPhys(layout, rng, kernelImageBytes);
  } else {
    const lowRange = free.find((r) => r.start <= ONE_MIB * 2 && r.end > 16 * MiB);
    if (!lowRange) throw new Error('no low RAM range for the kernel');
    // Keep the kernel out of the top of low memory, where node 0's memblock
    // allocations may land when there is no RAM above 4 GiB.
    const lowLimit = Math.min(lowRange.end - (nodeCount === 1 && ranges.length === 2 ? poolBytes + memmapTotal : 0), GiB + 16 * MiB);
    const kernelSlots = Math.floor((lowLimit - 16 * MiB - kernelImageBytes) / (2 * MiB));
    if (kernelSlots < 1) throw new Error('not enough low memory for the kernel image');
    layout.textPhys = 16 * MiB + 2 * MiB * rng.below(kernelSlots);
  }
  layout.physBase = layout.textPhys - TEXT_BASE_OFFSET - layout.kernelOffset;
  const reservations: Reservation[] = [];
  reserve(free, layout.textPhys, kernelImageBytes);
  reservations.push({ startPfn: layout.textPhys / PAGE, endPfn: (layout.textPhys + kernelImageBytes) / PAGE, what: 'kernel' });

  layout.poolBytes = poolBytes;
  layout.poolStart = allocTop(free, 0, poolBytes);
  reservations.push({ startPfn: layout.poolStart / PAGE, endPfn: (layout.poolStart + poolBytes) / PAGE, what: 'pool' });

  for (const s of sections) {
    const node = sectionNode.get(s) as number;
    const at = allocTop(free, node, MEMMAP_BLOCK);
    layout.memmapPhys.set(s, at);
    reservations.push({ startPfn: at / PAGE, endPfn: (at + MEMMAP_BLOCK) / PAGE, what: 'memmap', section: s });
  }
  reservations.sort((a, b) => a.startPfn - b.startPfn);
  layout.reservations = reservations;
  return layout;
}

/** Bytes from _text to the end of the image (text, rodata, data, bss, and for plain
 * SPARSEMEM the static mem_section array at the end of bss). */
export function kernelImageSize(model: MemoryModel, sections: number[]): number {
  const base = 48 * MiB + 2 * MiB; // the template's symbols span about 48 MiB from _stext
  let extra = 0;
  if (model === 'sparse') {
    const numSection = sections[sections.length - 1] + 1;
    extra = roundUp(numSection * 32, 2 * MiB);
  }
  return base + extra;
}

function reserve(free: { start: number; end: number; node: number }[], start: number, size: number): void {
  const end = start + size;
  for (let i = 0; i < free.length; i++) {
    const r = free[i];
    if (end <= r.start || start >= r.end) continue;
    if (start < r.start || end > r.end) throw new Error('reservation crosses a RAM range');
    const parts = [];
    if (r.start < start) parts.push({ start: r.start, end: start, node: r.node });
    if (end < r.end) parts.push({ start: end, end: r.end, node: r.node });
    free.splice(i, 1, ...parts);
    return;
  }
  throw new Error('reservation outside RAM');
}

function allocTop(free: { start: number; end: number; node: number }[], node: number, size: number): number {
  for (let i = free.length - 1; i >= 0; i--) {
    const r = free[i];
    if (r.node !== node || r.end - r.start < size) continue;
    const at = r.end - size;
    reserve(free, at, size);
    return at;
  }
  throw new Error(`node ${node} has no room for ${size} bytes of kernel memory`);
}

// ---- virtual addresses ----

export function directMap(l: Layout, phys: number): bigint {
  return BigInt.asUintN(64, l.pageOffsetBase + BigInt(phys));
}

/** virtual address of the image's first byte (_text) */
export function textVirt(l: Layout): bigint {
  return l.arch === 'arm64' ? arm64ImageVirt(l) : START_KERNEL_MAP + BigInt(TEXT_BASE_OFFSET + l.kernelOffset);
}

/** a physical address inside the kernel image, as the image mapping sees it */
export function kernelVirt(l: Layout, phys: number): bigint {
  return textVirt(l) + BigInt(phys - l.textPhys);
}

/** kimage_voffset: image virtual minus physical address */
export function kimageVoffset(l: Layout): bigint {
  return BigInt.asUintN(64, textVirt(l) - BigInt(l.textPhys));
}

export function structPageVirt(l: Layout, pfn: number): bigint {
  return l.vmemmapBase + BigInt(pfn) * 64n;
}

export function zoneOf(pfn: number): number {
  if (pfn < 4096) return 0; // ZONE_DMA, below 16 MiB
  if (pfn < 0x100000) return 1; // ZONE_DMA32, below 4 GiB
  return 2; // ZONE_NORMAL
}

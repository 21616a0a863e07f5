// Where each pfn's struct page lives: the memory model (SPARSEMEM, SPARSEMEM_EXTREME
// with or without vmemmap, FLATMEM) decoded from VMCOREINFO and kernel memory.
// Spec: vmcoreinfo-and-translation.md §3-§4 (upstream: makedumpfile get_mem_map,
// get_mm_sparsemem, validate_mem_section, get_mm_flatmem).
import { DumpError } from '../util/errors';
import type { Translator } from '../translate';
import { VmcoreInfo } from './vmcoreinfo';

export type MemoryModel = 'SPARSEMEM_EX' | 'SPARSEMEM' | 'FLATMEM';

/**
 * One contiguous run of pfns whose struct pages are virtually contiguous: a memory
 * section (SPARSEMEM) or the whole of memory (FLATMEM). Ranges without a mem_map are
 * not listed.
 */
export interface MemMapRange {
  pfnStart: number;
  pfnEnd: number;
  /** kernel virtual address of pfnStart's struct page */
  memMap: bigint;
}

export interface MemMapTable {
  model: MemoryModel;
  /** pfns per range: 2^(SECTION_SIZE_BITS - PAGE_SHIFT); ranges start at multiples of it */
  pagesPerSection: number;
  ranges: MemMapRange[];
  /** the kernel memory read to find the ranges (mem_section roots and sections, the mem_map pointer) */
  read: { va: bigint; len: number }[];
}

/** SECTION_MAP_LAST_BIT is 1 << 5: the low five bits of section_mem_map are flags. */
const SECTION_FLAG_MASK = 0x1fn;
const SECTION_MARKED_PRESENT = 1n;
const U64 = (1n << 64n) - 1n;

/** What the architecture assumes where VMCOREINFO is silent, and the page size. */
export interface SectionDefaults {
  pageSize: number;
  /** MAX_PHYSMEM_BITS without NUMBER(MAX_PHYSMEM_BITS) */
  physmemBits: number;
  /** SECTION_SIZE_BITS without NUMBER(SECTION_SIZE_BITS) */
  sectionSizeBits: number;
}

export function detectMemoryModel(vi: VmcoreInfo, d: SectionDefaults): MemoryModel | undefined {
  if (vi.symbol('mem_section') !== undefined && vi.size('mem_section') !== undefined
      && vi.offset('mem_section.section_mem_map') !== undefined) {
    return isSparsemExtreme(vi, d) ? 'SPARSEMEM_EX' : 'SPARSEMEM';
  }
  if (vi.symbol('mem_map') !== undefined) return 'FLATMEM';
  return undefined;
}

function sectionGeometry(vi: VmcoreInfo, d: SectionDefaults) {
  const pageShift = Math.log2(d.pageSize);
  const sectionSizeBits = vi.number('SECTION_SIZE_BITS') ?? d.sectionSizeBits;
  const maxPhysmemBits = vi.number('MAX_PHYSMEM_BITS') ?? d.physmemBits;
  // a section holds a whole number of bitmap bytes (8 pfns) or more: the scan cuts its work
  // at section boundaries
  if (sectionSizeBits < pageShift + 3 || sectionSizeBits > 40 || maxPhysmemBits > 52 || maxPhysmemBits <= sectionSizeBits) {
    throw new DumpError('bad-vmcoreinfo',
      `implausible memory section geometry: SECTION_SIZE_BITS=${sectionSizeBits} MAX_PHYSMEM_BITS=${maxPhysmemBits}`);
  }
  return { sectionSizeBits, maxPhysmemBits, nrMemSections: 2 ** (maxPhysmemBits - sectionSizeBits) };
}

/** makedumpfile is_sparsemem_extreme: LENGTH(mem_section) is the number of root pointers */
function isSparsemExtreme(vi: VmcoreInfo, d: SectionDefaults): boolean {
  const len = vi.length('mem_section');
  if (len === undefined) return true;
  const size = vi.size('mem_section') ?? 0;
  const { nrMemSections } = sectionGeometry(vi, d);
  if (size <= 0) return false;
  return len === Math.ceil(nrMemSections / Math.floor(d.pageSize / size));
}

export interface MemMapContext extends SectionDefaults {
  vi: VmcoreInfo;
  tr: Translator;
  /** addresses below this are not kernel addresses (makedumpfile is_kvaddr) */
  kernelBase: bigint;
  /** max_mapnr from the PT_LOADs */
  maxMapnr: number;
  warn(msg: string): void;
}

export function buildMemMapTable(ctx: MemMapContext): MemMapTable {
  const model = detectMemoryModel(ctx.vi, ctx);
  if (model === undefined) {
    throw new DumpError('no-memory-model', "can't tell the memory model: VMCOREINFO has neither SYMBOL(mem_section) nor SYMBOL(mem_map)");
  }
  if (model === 'FLATMEM') return flatmem(ctx);
  return sparsemem(ctx, model);
}

function flatmem(ctx: MemMapContext): MemMapTable {
  const sym = ctx.vi.symbol('mem_map')!;
  const memMap = ctx.tr.readU64(sym);
  if (memMap === undefined || memMap === 0n) {
    throw new DumpError('bad-mem-map', `can't read the address of mem_map at ${sym.toString(16)}`);
  }
  if (memMap < ctx.kernelBase) {
    throw new DumpError('bad-mem-map', `mem_map pointer ${memMap.toString(16)} is not a kernel address`);
  }
  // One array covers all memory. It is listed in section-sized pieces so that the scan can
  // be cut into independent slices; makedumpfile scans it as one range, which differs only
  // when a free or compound block straddles a 128 MiB boundary (impossible for aligned blocks).
  const pageShift = Math.log2(ctx.pageSize);
  const sectionSizeBits = ctx.vi.number('SECTION_SIZE_BITS') ?? ctx.sectionSizeBits;
  if (sectionSizeBits < pageShift + 3 || sectionSizeBits > 40) {
    throw new DumpError('bad-vmcoreinfo', `implausible memory section size: SECTION_SIZE_BITS=${sectionSizeBits}`);
  }
  const pagesPerSection = 2 ** (sectionSizeBits - pageShift);
  const sizePage = BigInt(ctx.vi.size('page') ?? 0);
  const ranges: MemMapRange[] = [];
  for (let p = 0; p < ctx.maxMapnr; p += pagesPerSection) {
    ranges.push({ pfnStart: p, pfnEnd: Math.min(p + pagesPerSection, ctx.maxMapnr), memMap: memMap + BigInt(p) * sizePage });
  }
  return { model: 'FLATMEM', pagesPerSection, ranges, read: [{ va: sym, len: 8 }] };
}

/** The sizes a walk of mem_section needs, checked before any is trusted. */
function sectionWalkSizes(ctx: MemMapContext): { sizeMemSection: number; offSectionMemMap: number; sizePage: number; pagesPerSection: number; numSection: number } {
  const { vi } = ctx;
  const { sectionSizeBits, nrMemSections } = sectionGeometry(vi, ctx);
  const sizeMemSection = vi.size('mem_section')!;
  const offSectionMemMap = vi.offset('mem_section.section_mem_map')!;
  if (sizeMemSection < 8 || sizeMemSection > ctx.pageSize || offSectionMemMap < 0 || offSectionMemMap + 8 > sizeMemSection) {
    throw new DumpError('bad-vmcoreinfo', `implausible SIZE(mem_section)=${sizeMemSection} / OFFSET(mem_section.section_mem_map)=${offSectionMemMap}`);
  }
  const sizePage = vi.size('page') ?? 0;
  if (sizePage <= 0) throw new DumpError('no-page-layout', 'VMCOREINFO lacks SIZE(page)');
  const pagesPerSection = 2 ** (sectionSizeBits - Math.log2(ctx.pageSize));
  const numSection = Math.ceil(ctx.maxMapnr / pagesPerSection);
  if (numSection > nrMemSections) {
    throw new DumpError('bad-vmcoreinfo', `memory reaches pfn ${ctx.maxMapnr}, beyond MAX_PHYSMEM_BITS`);
  }
  return { sizeMemSection, offSectionMemMap, sizePage, pagesPerSection, numSection };
}

function sparsemem(ctx: MemMapContext, model: MemoryModel): MemMapTable {
  const { vi, tr } = ctx;
  const { sizeMemSection, offSectionMemMap, sizePage, pagesPerSection, numSection } = sectionWalkSizes(ctx);
  const extreme = model === 'SPARSEMEM_EX';
  const sectionsPerRoot = extreme ? Math.floor(ctx.pageSize / sizeMemSection) : 1;
  const memSectionSym = vi.symbol('mem_section')!;

  let read: { va: bigint; len: number }[] = [];
  const attempt = (rootArray: bigint): (bigint | null)[] | null => {
    const maps: (bigint | null)[] = new Array(numSection).fill(null);
    read = [];
    let anyPresent = false;
    const sect = new Uint8Array(sizeMemSection * sectionsPerRoot);
    const dv = new DataView(sect.buffer);
    let roots: BigUint64Array | null = null;
    if (extreme) {
      const nRoots = Math.ceil(numSection / sectionsPerRoot);
      const rb = new Uint8Array(nRoots * 8);
      if (tr.readVirt(rootArray, rb, 0, rb.length) !== rb.length) return null;
      read.push({ va: rootArray, len: rb.length });
      roots = new BigUint64Array(rb.buffer);
    }
    for (let base = 0; base < numSection; base += sectionsPerRoot) {
      const count = Math.min(sectionsPerRoot, numSection - base);
      let addr: bigint;
      if (roots) {
        const root = roots[base / sectionsPerRoot];
        if (root === 0n) continue;
        addr = root;
      } else {
        addr = (rootArray + BigInt(base * sizeMemSection)) & U64;
      }
      if (addr < ctx.kernelBase) continue;
      // read the whole root page (or, for plain SPARSEMEM, this one section) at once;
      // a section that can't be read has no mem_map, as in makedumpfile
      const got = tr.readVirt(addr, sect, 0, count * sizeMemSection);
      read.push({ va: addr, len: count * sizeMemSection });
      for (let i = 0; i < count; i++) {
        if ((i + 1) * sizeMemSection > got) break;
        const v = dv.getBigUint64(i * sizeMemSection + offSectionMemMap, true);
        if (!(v & SECTION_MARKED_PRESENT)) continue;
        const nr = base + i;
        const memMap = ((v & ~SECTION_FLAG_MASK) + BigInt(nr) * BigInt(pagesPerSection) * BigInt(sizePage)) & U64;
        if (memMap < ctx.kernelBase) return null;
        maps[nr] = memMap;
        anyPresent = true;
      }
    }
    return anyPresent ? maps : null;
  };

  let maps = attempt(memSectionSym);
  if (!maps && extreme) {
    // 4.15+ vmlinux symbols name the pointer to the root array; follow it once
    const ptr = tr.readU64(memSectionSym);
    if (ptr !== undefined) maps = attempt(ptr);
    if (maps) read.push({ va: memSectionSym, len: 8 });
  }
  if (!maps) {
    throw new DumpError('bad-mem-section', `can't find any memory section with a mem_map (mem_section at ${memSectionSym.toString(16)})`);
  }
  const ranges: MemMapRange[] = [];
  for (let nr = 0; nr < numSection; nr++) {
    const m = maps[nr];
    if (m === null) continue;
    ranges.push({ pfnStart: nr * pagesPerSection, pfnEnd: Math.min((nr + 1) * pagesPerSection, ctx.maxMapnr), memMap: m });
  }
  return { model, pagesPerSection, ranges, read };
}

/** max_mapnr lowered to the end of the last range with a mem_map (makedumpfile get_mem_map). */
export function adjustMaxMapnr(maxMapnr: number, table: MemMapTable): number {
  if (table.ranges.length === 0) return maxMapnr;
  let hi = 0;
  for (const r of table.ranges) hi = Math.max(hi, r.pfnEnd);
  return Math.min(maxMapnr, hi);
}

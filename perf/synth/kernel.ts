// The kernel's own memory in the synthetic machine: the kernel image (with
// init_top_pgt, init_uts_ns, node_online_map, ...), and the memblock pool
// (page tables of the direct map and vmemmap, the mem_section arrays).
// makedumpfile reads all of it through the page tables (spec
// vmcoreinfo-and-translation.md §4-5), so everything it needs is mapped.

import { Arm64Tables, arm64ExtraTablePages, mapArm64Kernel } from './arm64';
import { C, ContentPools } from './content';
import {
  GiB, Layout, MiB, PAGE, directMap, kernelVirt, textVirt,
} from './layout';
import { KernelFacts, kernelSymbol } from './vmcoreinfo';

const TABLE_FLAGS = 0x63n; // present, rw, accessed, dirty
const TOP_TABLE_FLAGS = 0x67n; // + user (PTI keeps the kernel half of the top level like this)
const LEAF_DATA = 0x80000000000001e3n; // NX, global, PSE, dirty, accessed, rw, present
const LEAF_TEXT = 0x1e1n; // global, PSE, dirty, accessed, present: read-only, executable
/** SECTION_MARKED_PRESENT | SECTION_HAS_MEM_MAP | SECTION_IS_ONLINE | SECTION_IS_EARLY */
const SECTION_FLAGS = 0xfn;
const USAGE_BYTES = 56; // struct mem_section_usage (subsection map + pageblock flags), as in 6.1
const TEXT_BYTES = 16 * MiB;
const RODATA_END = 26 * MiB;
const DATA_END = 30 * MiB;
const BSS_END = 48 * MiB;

export interface KernelSymbols {
  /** the page-table root: init_top_pgt (x86_64), swapper_pg_dir (arm64) */
  initTopPgt: bigint;
  memSection?: bigint;
  lengthMemSection?: number;
  memMap?: bigint;
  contigPageData?: bigint;
}

export interface KernelMemory {
  image: Buffer;
  pool: Buffer;
  symbols: KernelSymbols;
  pageTablePages: number;
}

/** Upper bound of the memblock pool size for a layout (bytes). */
export function poolBytesFor(l: Layout): number {
  const pages = (b: number): number => Math.ceil(b / PAGE);
  const span = l.maxMapnr * PAGE;
  let n = 4; // misc
  // direct map: one PUD table per 512 GiB, one P4D for 5-level
  n += Math.ceil(span / (512 * GiB)) + 2;
  // vmemmap: PMD tables (1 GiB of vmemmap each), PUD tables (512 GiB each)
  const vspan = l.maxMapnr * 64;
  n += Math.min(Math.ceil(vspan / GiB) + 2, l.sections.length + 2) + Math.ceil(vspan / (512 * GiB)) + 2;
  if (l.model === 'sparse-extreme') {
    n += pages(lengthMemSectionExtreme(l) * 8);
    n += Math.ceil((l.sections[l.sections.length - 1] + 1) / 128) + 1;
  }
  n += pages(l.sections.length * USAGE_BYTES);
  if (l.arch === 'arm64') n += arm64ExtraTablePages();
  return (n + 16) * PAGE;
}

export function lengthMemSectionExtreme(l: Layout): number {
  // NR_SECTION_ROOTS = NR_MEM_SECTIONS / SECTIONS_PER_ROOT (PAGE_SIZE / sizeof(struct mem_section))
  return 2 ** (l.maxPhysmemBits - 27) / (PAGE / 32);
}

class Tables {
  readonly tables = new Map<number, BigUint64Array>();
  constructor(private readonly levels: 4 | 5, readonly root: number, private readonly alloc: () => number) {
    this.tables.set(root, new BigUint64Array(512));
  }

  table(phys: number): BigUint64Array {
    let t = this.tables.get(phys);
    if (!t) {
      t = new BigUint64Array(512);
      this.tables.set(phys, t);
    }
    return t;
  }

  /** Sets entry `index` of table `phys` to point at a table at `child` (created if new). */
  link(phys: number, index: number, child: number, flags = TABLE_FLAGS): void {
    this.table(phys)[index] = BigInt(child) | flags;
    this.table(child);
  }

  /** Maps a 1 GiB (leafShift 30) or 2 MiB (21) page. */
  map(va: bigint, pa: number, leafShift: 30 | 21, leafFlags: bigint): void {
    const shifts = this.levels === 5 ? [48n, 39n, 30n, 21n] : [39n, 30n, 21n];
    let t = this.root;
    for (const sh of shifts) {
      const idx = Number((va >> sh) & 511n);
      const table = this.table(t);
      if (Number(sh) === leafShift) {
        table[idx] = BigInt(pa) | leafFlags;
        return;
      }
      let e = table[idx];
      if (e === 0n) {
        const child = this.alloc();
        table[idx] = BigInt(child) | (t === this.root ? TOP_TABLE_FLAGS : TABLE_FLAGS);
        this.table(child);
        e = table[idx];
      } else if (e & 0x80n) {
        throw new Error(`page-table conflict at 0x${va.toString(16)}`);
      }
      t = Number(e & 0x000ffffffffff000n);
    }
  }
}

export function buildKernelMemory(
  layout: Layout, facts: KernelFacts, pools: ContentPools,
  utsIn: { nodename: string; release: string; version: string },
): KernelMemory {
  const image = Buffer.alloc(layout.kernelImageBytes);
  const pool = Buffer.alloc(layout.poolBytes);
  const imageOff = (va: bigint): number => {
    const off = Number(va - textVirt(layout));
    if (off < 0 || off >= image.length) throw new Error(`0x${va.toString(16)} is outside the kernel image`);
    return off;
  };

  // Image contents by region (text, rodata, data, mostly-zero bss); structures are patched in below.
  const textPfn0 = layout.textPhys / PAGE;
  for (let off = 0; off < image.length; off += PAGE) {
    const pfn = textPfn0 + off / PAGE;
    let kind: number = C.ZERO;
    if (off < TEXT_BYTES) kind = C.CODE;
    else if (off < RODATA_END) kind = (pfn & 3) === 0 ? C.KSTRUCT : C.TEXT;
    else if (off < DATA_END) kind = C.KSTRUCT;
    else if (off < BSS_END) kind = (pfn % 7) < 2 ? C.KSTRUCT : C.ZERO;
    if (kind !== C.ZERO) pools.fill(image, off, kind, pfn);
  }

  let poolNext = layout.poolStart;
  const poolAlloc = (bytes: number): number => {
    const at = poolNext;
    poolNext += Math.ceil(bytes / PAGE) * PAGE;
    if (poolNext > layout.poolStart + layout.poolBytes) throw new Error('memblock pool too small');
    return at;
  };

  const arm64 = layout.arch === 'arm64';
  const initTopPgt = kernelSymbol(layout, arm64 ? 'swapper_pg_dir' : 'init_top_pgt');
  const rootPhys = layout.textPhys + imageOff(initTopPgt);
  const tables = arm64
    ? new Arm64Tables(rootPhys, () => poolAlloc(PAGE))
    : mapX86_64Kernel(layout, new Tables(layout.levels, rootPhys, () => poolAlloc(PAGE)), image.length);
  if (tables instanceof Arm64Tables) mapArm64Kernel(layout, tables, image.length, TEXT_BYTES);

  const symbols: KernelSymbols = { initTopPgt };
  const usage = poolAlloc(layout.sections.length * USAGE_BYTES);
  const usageIndex = new Map<number, number>();
  layout.sections.forEach((s, i) => usageIndex.set(s, i));
  const writeSection = (buf: Buffer, at: number, s: number): void => {
    buf.writeBigUInt64LE(layout.vmemmapBase | SECTION_FLAGS, at);
    buf.writeBigUInt64LE(directMap(layout, usage + (usageIndex.get(s) as number) * USAGE_BYTES), at + 8);
  };
  for (let i = 0; i < layout.sections.length; i++) {
    // subsection_map: all 64 subsections present; pageblock flags: movable
    const at = usage - layout.poolStart + i * USAGE_BYTES;
    pool.writeBigUInt64LE(0xffffffffffffffffn, at);
    for (let j = 8; j < USAGE_BYTES; j += 8) pool.writeBigUInt64LE(0x2424242424242424n, at + j);
  }

  if (layout.model === 'sparse-extreme') {
    const length = lengthMemSectionExtreme(layout);
    const root = poolAlloc(length * 8);
    const perRoot = PAGE / facts.sizeMemSection;
    const rootPages = new Map<number, number>();
    for (const s of layout.sections) {
      const r = Math.floor(s / perRoot);
      let page = rootPages.get(r);
      if (page === undefined) {
        page = poolAlloc(PAGE);
        rootPages.set(r, page);
        pool.writeBigUInt64LE(directMap(layout, page), root - layout.poolStart + r * 8);
      }
      writeSection(pool, page - layout.poolStart + (s % perRoot) * facts.sizeMemSection, s);
    }
    symbols.memSection = directMap(layout, root);
    symbols.lengthMemSection = length;
  } else if (layout.model === 'sparse') {
    // Static `struct mem_section mem_section[NR_MEM_SECTIONS]` at the end of .bss.
    const numSection = layout.sections[layout.sections.length - 1] + 1;
    const bytes = Math.ceil((numSection * facts.sizeMemSection) / (2 * MiB)) * 2 * MiB;
    const off = image.length - bytes;
    image.fill(0, off);
    for (const s of layout.sections) writeSection(image, off + s * facts.sizeMemSection, s);
    symbols.memSection = kernelVirt(layout, layout.textPhys + off);
    symbols.lengthMemSection = 2 ** (layout.maxPhysmemBits - 27);
  } else {
    // FLATMEM: `struct page *mem_map` points at the struct page of pfn 0; the
    // vmemmap mapping doubles as the (virtually contiguous) mem_map array.
    const memMap = kernelSymbol(layout, 'node_data');
    image.writeBigUInt64LE(layout.vmemmapBase, imageOff(memMap));
    symbols.memMap = memMap;
    symbols.contigPageData = memMap + 0x1000n;
  }

  // init_uts_ns.name: six 65-byte fields
  const uts = imageOff(kernelSymbol(layout, 'init_uts_ns')) + facts.utsNameOffset;
  const fields = ['Linux', utsIn.nodename, utsIn.release, utsIn.version, arm64 ? 'aarch64' : 'x86_64', '(none)'];
  image.fill(0, uts, uts + 6 * 65);
  fields.forEach((f, i) => image.write(f.slice(0, 64), uts + i * 65, 'latin1'));

  if (layout.model !== 'flat') {
    const nm = imageOff(kernelSymbol(layout, 'node_online_map'));
    image.fill(0, nm, nm + facts.nodemaskBytes);
    for (let n = 0; n < layout.nodes; n++) image[nm + (n >> 3)] |= 1 << (n & 7);
  }

  // Serialise the page tables into the image or the pool.
  let pageTablePages = 0;
  for (const [phys, t] of tables.tables) {
    const bytes = Buffer.from(t.buffer, t.byteOffset, PAGE);
    if (phys >= layout.textPhys && phys < layout.textPhys + image.length) {
      bytes.copy(image, phys - layout.textPhys);
    } else if (phys >= layout.poolStart && phys < layout.poolStart + layout.poolBytes) {
      bytes.copy(pool, phys - layout.poolStart);
    } else {
      throw new Error('page table outside the kernel image and pool');
    }
    pageTablePages++;
  }
  // PTI user half of the top-level table: not used here, keep it empty.
  if (!arm64) image.fill(0, rootPhys + PAGE - layout.textPhys, rootPhys + 2 * PAGE - layout.textPhys);
  return { image, pool, symbols, pageTablePages };
}

/**
 * x86_64: kernel-image tables in .data right after init_top_pgt (and its PTI user half),
 * the image with 2 MiB pages, the direct map with 1 GiB pages over every GiB that holds
 * RAM, the vmemmap with one 2 MiB page per present section.
 */
function mapX86_64Kernel(layout: Layout, tables: Tables, imageBytes: number): Tables {
  const rootPhys = tables.root;
  const level4 = rootPhys + 0x2000;
  const level3 = rootPhys + 0x3000;
  const level2 = rootPhys + 0x4000;
  if (layout.levels === 5) {
    tables.link(rootPhys, 511, level4, TOP_TABLE_FLAGS);
    tables.link(level4, 511, level3);
  } else {
    tables.link(rootPhys, 511, level3, TOP_TABLE_FLAGS);
  }
  tables.link(level3, 510, level2);
  const text = textVirt(layout);
  for (let off = 0; off < imageBytes; off += 2 * MiB) {
    tables.map(text + BigInt(off), layout.textPhys + off, 21, off < TEXT_BYTES ? LEAF_TEXT : LEAF_DATA);
  }
  const gigs = new Set<number>();
  for (const r of layout.ranges) {
    for (let g = Math.floor(r.start / GiB); g * GiB < r.end; g++) gigs.add(g);
  }
  for (const g of [...gigs].sort((a, b) => a - b)) tables.map(directMap(layout, g * GiB), g * GiB, 30, LEAF_DATA);
  for (const s of layout.sections) {
    tables.map(layout.vmemmapBase + BigInt(s) * 2n * BigInt(MiB), layout.memmapPhys.get(s) as number, 21, LEAF_DATA);
  }
  return tables;
}

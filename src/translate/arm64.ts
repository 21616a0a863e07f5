// arm64 (AArch64) virtual-to-physical translation by walking the crashed kernel's
// swapper_pg_dir, for 4, 16 and 64 KiB granules, 2 to 5 levels, 48-bit physical addresses
// or the 52-bit descriptor formats (LPA with 64 KiB pages, LPA2 with 4 and 16 KiB), and
// how the walk is set up from VMCOREINFO alone: VA_BITS, TCR_EL1_T1SZ, kimage_voffset,
// PHYS_OFFSET, MAX_PHYSMEM_BITS, _stext.
// Spec: docs/arm64.md (upstream: makedumpfile arch/arm64.c; the
// descriptor formats are the Arm ARM's VMSAv8-64 ones).
import { EM_AARCH64 } from '../format/elf';
import { DumpError } from '../util/errors';
import type { PhysicalMemory } from '../vmcore/physical';
import type { AddressingOptions, Architecture, KernelAddressing, KernelKeys } from './arch';
import { PageWalker, Translation, TranslatorDesc, WalkStep } from './page-walker';

const U64 = (1n << 64n) - 1n;
const DESC_VALID = 1n;
/** bits[1:0] of a level 0-2 descriptor: 01 block, 11 table */
const DESC_TYPE_MASK = 3n;
const DESC_BLOCK = 1n;
/** the arm64 kernel's SECTION_SIZE_BITS before it exported NUMBER(SECTION_SIZE_BITS) (makedumpfile's default) */
const SECTION_SIZE_BITS_DEFAULT = 30;

/** How a descriptor holds its output address (Arm ARM VMSAv8-64 descriptor formats). */
export type OutputAddressFormat = 'v8' | 'lpa' | 'lpa2';

export interface Arm64Desc extends TranslatorDesc {
  arch: 'arm64';
  /** physical address of the top-level table (swapper_pg_dir) */
  rootPa: number;
  /** log2 of the translation granule: 12, 14 or 16 */
  pageShift: number;
  /** table levels walked, 2..5; the last is level 3 */
  levels: number;
  /** VA bits the top-level table indexes (its entries: 2^(topIndexBits - its shift)) */
  topIndexBits: number;
  format: OutputAddressFormat;
}

/** Bits of VA that one table entry at `level` maps (level 3: a page). */
function levelShift(pageShift: number, level: number): number {
  return (pageShift - 3) * (3 - level) + pageShift;
}

/** Table levels a VA size needs with this granule (the kernel's ARM64_HW_PGTABLE_LEVELS). */
export function tableLevels(pageShift: number, vaBits: number): number {
  return Math.ceil((vaBits - pageShift) / (pageShift - 3));
}

const LEVEL_NAMES: Record<number, string[]> = {
  2: ['PGD', 'PTE'],
  3: ['PGD', 'PMD', 'PTE'],
  4: ['PGD', 'PUD', 'PMD', 'PTE'],
  5: ['PGD', 'P4D', 'PUD', 'PMD', 'PTE'],
};

export class Arm64Translator extends PageWalker {
  private readonly topLevel: number;
  private readonly lowMask: bigint;

  constructor(mem: PhysicalMemory, readonly d: Arm64Desc) {
    super(mem, 1 << d.pageShift);
    this.topLevel = 4 - d.levels;
    // output address bits kept in place: [47:pageShift] (v8, lpa) or [49:pageShift] (lpa2)
    const top = d.format === 'lpa2' ? 50n : 48n;
    this.lowMask = ((1n << top) - 1n) & ~((1n << BigInt(d.pageShift)) - 1n);
  }

  get desc(): Arm64Desc {
    return this.d;
  }

  /** The output address of a descriptor, in whichever format the kernel uses. */
  private outputAddress(e: bigint): bigint {
    const low = e & this.lowMask;
    if (this.d.format === 'lpa') return low | (((e >> 12n) & 0xfn) << 48n);
    if (this.d.format === 'lpa2') return low | (((e >> 8n) & 3n) << 50n);
    return low;
  }

  private index(va: bigint, level: number): number {
    const shift = levelShift(this.d.pageShift, level);
    const bits = level === this.topLevel ? this.d.topIndexBits - shift : this.d.pageShift - 3;
    return Number((va >> BigInt(shift)) & ((1n << BigInt(bits)) - 1n));
  }

  translate(va: bigint): Translation | undefined {
    let table = this.d.rootPa;
    for (let level = this.topLevel; level <= 3; level++) {
      const e = this.entryAt(table + this.index(va, level) * 8);
      if (e === undefined || !(e & DESC_VALID)) return undefined;
      const oa = this.outputAddress(e);
      if (level === 3 || (e & DESC_TYPE_MASK) === DESC_BLOCK) {
        const size = 2 ** levelShift(this.d.pageShift, level);
        const off = Number(va & BigInt(size - 1));
        return { pa: Number(oa & ~BigInt(size - 1)) + off, span: size - off };
      }
      table = Number(oa);
    }
    return undefined;
  }

  /** Every table below swapper_pg_dir, depth first: valid table descriptors of levels above 3. */
  tablePages(limit: number): number[] {
    const granule = 2 ** this.d.pageShift;
    const pageOf = (pa: number): number => pa - (pa % granule);
    const seen = new Set<number>([pageOf(this.d.rootPa)]);
    const out = [pageOf(this.d.rootPa)];
    const visit = (table: number, level: number): void => {
      if (level === 3) return;
      const page = pageOf(table);
      const entries = this.tableAt(page);
      if (!entries) return;
      const first = (table - page) / 8;
      const n = level === this.topLevel
        ? 2 ** (this.d.topIndexBits - levelShift(this.d.pageShift, level))
        : granule / 8;
      for (let i = first; i < Math.min(first + n, entries.length) && out.length < limit; i++) {
        const e = entries[i];
        if (!(e & DESC_VALID) || (e & DESC_TYPE_MASK) === DESC_BLOCK) continue;
        const child = Number(this.outputAddress(e));
        if (seen.has(pageOf(child))) continue;
        seen.add(pageOf(child));
        out.push(pageOf(child));
        visit(child, level + 1);
      }
    };
    visit(this.d.rootPa, this.topLevel);
    return out;
  }

  walk(va: bigint): { steps: WalkStep[]; pa: number } {
    const steps: WalkStep[] = [];
    const names = LEVEL_NAMES[this.d.levels];
    let table = this.d.rootPa;
    for (let level = this.topLevel; level <= 3; level++) {
      const at = table + this.index(va, level) * 8;
      const e = this.entryAt(at);
      if (e === undefined) return { steps, pa: -1 };
      steps.push([names[level - this.topLevel], at, e]);
      if (!(e & DESC_VALID)) return { steps, pa: -1 };
      if (level === 3 || (e & DESC_TYPE_MASK) === DESC_BLOCK) break;
      table = Number(this.outputAddress(e));
    }
    return { steps, pa: this.vtop(va) };
  }
}

/** VA_BITS values arm64 kernels are configured with (arch/arm64/Kconfig) */
const KNOWN_VA_BITS = [36, 39, 42, 47, 48, 52];

/** The VA sizes: configured (VA_BITS) and in use (64 - TCR_EL1.T1SZ), as makedumpfile tells them. */
function vaSizes(vi: KernelKeys, pageShift: number): { vaBits: number; vaBitsActual: number } {
  const vaBits = vi.number('VA_BITS');
  if (vaBits === undefined) {
    throw new DumpError('no-va-bits', 'VMCOREINFO has no NUMBER(VA_BITS): cannot translate arm64 kernel addresses');
  }
  if (!KNOWN_VA_BITS.includes(vaBits)) {
    throw new DumpError('bad-vmcoreinfo', `NUMBER(VA_BITS)=${vaBits} in VMCOREINFO is not an arm64 virtual address size`);
  }
  let vaBitsActual = vaBits;
  const t1sz = vi.number('TCR_EL1_T1SZ');
  if (t1sz !== undefined) {
    vaBitsActual = 64 - t1sz;
  } else if (vaBits === 52) {
    // 5.4-5.10 export no T1SZ; a mem_section root array in the 48-bit linear map means
    // the kernel fell back to 48-bit VA (makedumpfile's guess)
    const ms = vi.symbol('mem_section');
    if (ms !== undefined) vaBitsActual = (ms >> 51n) & 1n ? 48 : 52;
  }
  if (vaBitsActual > vaBits || vaBitsActual < pageShift + (pageShift - 3) || vaBitsActual > 52) {
    throw new DumpError('bad-vmcoreinfo',
      `NUMBER(TCR_EL1_T1SZ)=${t1sz} in VMCOREINFO gives ${vaBitsActual}-bit addresses, which VA_BITS=${vaBits} with ${2 ** pageShift}-byte pages cannot have`);
  }
  return { vaBits, vaBitsActual };
}

/** Page-table root, phys_base and the linear map from VMCOREINFO (docs/arm64.md §2-§4). */
function addressing(mem: PhysicalMemory, vi: KernelKeys, opts: AddressingOptions): KernelAddressing {
  // 12, 14 or 16: the kernel model has checked PAGESIZE against pageSizes
  const pageShift = Math.log2(opts.pageSize);
  const { vaBits, vaBitsActual } = vaSizes(vi, pageShift);
  const levels = tableLevels(pageShift, vaBitsActual);
  // With as many levels as VA_BITS needs, the kernel indexes its top table with all of
  // VA_BITS and points TTBR1 into it (TTBR1_BADDR_4852_OFFSET); with fewer, the top level
  // is folded at run time and the table is indexed with the bits in use.
  const topIndexBits = tableLevels(pageShift, vaBits) === levels ? vaBits : vaBitsActual;
  const physmemBits = vi.number('MAX_PHYSMEM_BITS') ?? (vaBits === 52 ? 52 : 48);
  // 52-bit output addresses: 64 KiB pages keep OA[51:48] in bits [15:12] whenever the kernel
  // is built for them (LPA); 4 and 16 KiB pages use LPA2 (OA[51:50] in bits [9:8]) exactly
  // when the kernel runs with 52-bit VAs, which it enables only together with LPA2
  const format: OutputAddressFormat = pageShift === 16
    ? (physmemBits === 52 ? 'lpa' : 'v8')
    : (vaBitsActual === 52 ? 'lpa2' : 'v8');

  // The linear map sits in the lower half of the kernel VA range from 5.4 on ("flipped"),
  // which _stext above the old linear map's end tells (makedumpfile get_page_offset_arm64)
  const pageEnd = BigInt.asUintN(64, -(1n << BigInt(Math.min(vaBits, 48) - 1)));
  const stext = vi.symbol('_stext');
  const flipped = stext !== undefined && stext > pageEnd;
  const pageOffset = BigInt.asUintN(64, -(1n << BigInt(flipped ? vaBitsActual : vaBitsActual - 1)));
  const kernelBase = flipped ? pageOffset : (U64 << BigInt(vaBits)) & U64;
  const linearBit = 1n << BigInt(vaBitsActual - 1);
  const isLinear = (va: bigint): boolean => ((va & linearBit) === 0n) === flipped;

  const physBase = physOffset(mem, vi, pageOffset, opts.physBase);
  const swapper = vi.symbol('swapper_pg_dir');
  if (swapper === undefined) {
    throw new DumpError('no-page-table', 'VMCOREINFO has no SYMBOL(swapper_pg_dir): cannot translate kernel addresses');
  }
  const kimageVoffset = vi.numberBig('kimage_voffset');
  let rootPa: bigint;
  let from: string;
  if (isLinear(swapper)) {
    rootPa = (swapper & ~pageOffset & U64) + physBase;
    from = 'SYMBOL(swapper_pg_dir) in the linear map and PHYS_OFFSET';
  } else if (kimageVoffset === undefined) {
    throw new DumpError('no-page-table',
      'VMCOREINFO has no NUMBER(kimage_voffset): cannot find swapper_pg_dir, a kernel-image address, in physical memory');
  } else {
    rootPa = BigInt.asUintN(64, swapper - kimageVoffset);
    from = 'SYMBOL(swapper_pg_dir) - NUMBER(kimage_voffset)';
  }
  if (rootPa >= 1n << 52n || rootPa % 8n !== 0n || !mem.read(Number(rootPa), new Uint8Array(8), 0, 8)) {
    throw new DumpError('bad-page-table',
      `page-table root 0x${rootPa.toString(16)} (${from}) is not in the dump's memory: wrong kimage_voffset?`);
  }
  const desc: Arm64Desc = { arch: 'arm64', rootPa: Number(rootPa), pageShift, levels, topIndexBits, format };
  return {
    translator: new Arm64Translator(mem, desc), physBase, kernelBase, physmemBits,
    sectionSizeBits: SECTION_SIZE_BITS_DEFAULT, suspects: 'wrong kimage_voffset or swapper_pg_dir?',
  };
}

/** PHYS_OFFSET: VMCOREINFO, else the first PT_LOAD in the linear map (makedumpfile get_phys_base_arm64). */
function physOffset(mem: PhysicalMemory, vi: KernelKeys, pageOffset: bigint, refiltered?: bigint): bigint {
  const n = vi.numberBig('PHYS_OFFSET');
  if (n !== undefined) return BigInt.asUintN(64, n);
  if (refiltered !== undefined) return refiltered;
  for (const l of mem.loads) {
    if (l.vaddr >= pageOffset) return BigInt(l.paddr) - (l.vaddr & ~pageOffset & U64);
  }
  throw new DumpError('no-phys-offset', 'VMCOREINFO has no NUMBER(PHYS_OFFSET) and no PT_LOAD is in the linear map: cannot tell where RAM starts');
}

export const ARM64: Architecture = {
  name: 'arm64',
  eMachine: EM_AARCH64,
  utsMachine: 'aarch64',
  pageSizes: [4096, 16384, 65536],
  physmemBitsWithoutVmcoreinfo: 48,
  // elf_prstatus: 112 bytes before pr_reg; user_pt_regs: regs[31], then sp
  prstatusSpOffset: 112 + 31 * 8,
  threadSize: 16384,
  addressing,
  rebuild: (mem, desc) => new Arm64Translator(mem, desc as Arm64Desc),
};

// x86_64 virtual-to-physical translation by walking the crashed kernel's page tables,
// 4- or 5-level, with 2 MiB and 1 GiB pages, and how the walk is set up from VMCOREINFO
// (page-table root, phys_base, page_offset).
// Spec: vmcoreinfo-and-translation.md §5-§6 (upstream: makedumpfile arch/x86_64.c).
import { EM_X86_64 } from '../format/elf';
import { DumpError } from '../util/errors';
import type { PhysicalMemory } from '../vmcore/physical';
import type { AddressingOptions, Architecture, KernelAddressing, KernelKeys } from './arch';
import { PageWalker, Translation, TranslatorDesc, WalkStep } from './page-walker';

/** __START_KERNEL_map: base of the kernel text mapping */
export const START_KERNEL_MAP = 0xffffffff80000000n;
const PAGE_PRESENT = 1n;
const PAGE_PSE = 0x80n;
/** physical-address bits of an entry (ENTRY_MASK) */
const ENTRY_MASK = 0x000ffffffffff000n;
const PAGE_OFFSET_4LEVEL = 0xffff880000000000n;
const PAGE_OFFSET_5LEVEL = 0xff10000000000000n;

export interface X86_64Desc extends TranslatorDesc {
  arch: 'x86_64';
  /** physical address of the top-level table */
  rootPa: number;
  fiveLevel: boolean;
  smeMask: bigint;
}

export class X86_64Translator extends PageWalker {
  private readonly entryMask: bigint;

  constructor(mem: PhysicalMemory, readonly rootPa: number, readonly fiveLevel: boolean, readonly smeMask: bigint) {
    super(mem, 4096);
    this.entryMask = ENTRY_MASK & ~smeMask;
  }

  get desc(): X86_64Desc {
    return { arch: 'x86_64', rootPa: this.rootPa, fiveLevel: this.fiveLevel, smeMask: this.smeMask };
  }

  translate(va: bigint): Translation | undefined {
    let table = this.rootPa;
    if (this.fiveLevel) {
      const pgd = this.entry(table, Number((va >> 48n) & 511n));
      if (pgd === undefined || !(pgd & PAGE_PRESENT)) return undefined;
      table = Number(pgd & this.entryMask);
    }
    const p4d = this.entry(table, Number((va >> 39n) & 511n));
    if (p4d === undefined || !(p4d & PAGE_PRESENT)) return undefined;
    const pud = this.entry(Number(p4d & this.entryMask), Number((va >> 30n) & 511n));
    if (pud === undefined || !(pud & PAGE_PRESENT)) return undefined;
    if (pud & PAGE_PSE) {
      const off = Number(va & 0x3fffffffn);
      return { pa: Number(pud & this.entryMask & ~0x3fffffffn) + off, span: 0x40000000 - off };
    }
    const pmd = this.entry(Number(pud & this.entryMask), Number((va >> 21n) & 511n));
    if (pmd === undefined || !(pmd & PAGE_PRESENT)) return undefined;
    if (pmd & PAGE_PSE) {
      const off = Number(va & 0x1fffffn);
      return { pa: Number(pmd & this.entryMask & ~0x1fffffn) + off, span: 0x200000 - off };
    }
    const pte = this.entry(Number(pmd & this.entryMask), Number((va >> 12n) & 511n));
    if (pte === undefined || !(pte & PAGE_PRESENT)) return undefined;
    const off = Number(va & 0xfffn);
    return { pa: Number(pte & this.entryMask) + off, span: 4096 - off };
  }

  walk(va: bigint): { steps: WalkStep[]; pa: number } {
    const steps: WalkStep[] = [];
    let table = this.rootPa;
    const levels: [string, bigint][] = this.fiveLevel
      ? [['PGD', 48n], ['P4D', 39n], ['PUD', 30n], ['PMD', 21n], ['PTE', 12n]]
      : [['PGD', 39n], ['PUD', 30n], ['PMD', 21n], ['PTE', 12n]];
    for (const [name, shift] of levels) {
      const index = Number((va >> shift) & 511n);
      const e = this.entry(table, index);
      if (e === undefined) return { steps, pa: -1 };
      steps.push([name, table + index * 8, e]);
      if (!(e & PAGE_PRESENT)) return { steps, pa: -1 };
      if ((name === 'PUD' || name === 'PMD') && (e & PAGE_PSE)) break;
      table = Number(e & this.entryMask);
    }
    return { steps, pa: this.vtop(va) };
  }

  /**
   * Every table page below the root, depth first: entries that are present and point to a
   * lower table (not a 1 GiB or 2 MiB page, not a PTE's page).
   */
  tablePages(limit: number): number[] {
    const levels = this.fiveLevel ? 5 : 4;
    const seen = new Set<number>([this.rootPa]);
    const out = [this.rootPa];
    const visit = (table: number, level: number): void => {
      // level 1 holds PTEs: what they point to is memory, not a table
      if (level === 1) return;
      const entries = this.tableAt(table);
      if (!entries) return;
      // the present and PSE bits from the low words: no BigInt for the entries skipped
      const low = new Uint32Array(entries.buffer, entries.byteOffset, 1024);
      for (let i = 0; i < 512 && out.length < limit; i++) {
        const w = low[2 * i];
        if (!(w & 1) || ((level === 2 || level === 3) && (w & 0x80))) continue;
        const child = Number(entries[i] & this.entryMask);
        if (seen.has(child)) continue;
        seen.add(child);
        out.push(child);
        visit(child, level - 1);
      }
    };
    visit(this.rootPa, levels);
    return out;
  }

  private entry(tablePa: number, index: number): bigint | undefined {
    return this.entryAt(tablePa + index * 8);
  }
}

/** Page-table root, phys_base and page_offset from VMCOREINFO (spec §5-§6). */
function addressing(mem: PhysicalMemory, vi: KernelKeys, opts: AddressingOptions): KernelAddressing {
  const fiveLevel = (vi.number('pgtable_l5_enabled') ?? 0) !== 0;
  const smeMask = BigInt.asUintN(64, vi.numberBig('sme_mask') ?? 0n);
  // phys_base: VMCOREINFO, else derived from the kernel-text PT_LOAD
  let physBase = opts.physBase ?? vi.numberBig('phys_base');
  if (physBase === undefined) {
    physBase = 0n;
    for (const l of mem.loads) {
      if (l.vaddr >= START_KERNEL_MAP) {
        physBase = BigInt(l.paddr) - (l.vaddr - START_KERNEL_MAP);
        break;
      }
    }
  }
  const rootSym = vi.symbol('init_level4_pgt') ?? vi.symbol('init_top_pgt');
  if (rootSym === undefined) {
    throw new DumpError('no-page-table', 'VMCOREINFO has no SYMBOL(init_top_pgt): cannot translate kernel addresses');
  }
  const rootPa = BigInt.asUintN(64, rootSym - START_KERNEL_MAP + physBase) & ~smeMask;
  if (rootPa >= 1n << 52n || rootPa % 4096n !== 0n) {
    throw new DumpError('bad-page-table', `page-table root ${rootPa.toString(16)} (from init_top_pgt and phys_base) is not a page address`);
  }
  // page_offset: from the last PT_LOAD below the kernel text map, else the constant
  let pageOffset = 0n;
  for (const l of mem.loads) {
    if (l.vaddr !== 0n && l.vaddr < START_KERNEL_MAP) pageOffset = BigInt.asUintN(64, l.vaddr - BigInt(l.paddr));
  }
  if (pageOffset === 0n) pageOffset = fiveLevel ? PAGE_OFFSET_5LEVEL : PAGE_OFFSET_4LEVEL;
  return {
    translator: new X86_64Translator(mem, Number(rootPa), fiveLevel, smeMask),
    physBase, kernelBase: pageOffset, physmemBits: fiveLevel ? 52 : 46, sectionSizeBits: 27,
    suspects: 'wrong phys_base or init_top_pgt?',
  };
}

export const X86_64: Architecture = {
  name: 'x86_64',
  eMachine: EM_X86_64,
  utsMachine: 'x86_64',
  pageSizes: [4096],
  physmemBitsWithoutVmcoreinfo: 46,
  // elf_prstatus: 112 bytes before pr_reg; user_regs_struct: rsp is its 20th register
  prstatusSpOffset: 112 + 19 * 8,
  threadSize: 16384,
  addressing,
  rebuild: (mem, desc) => {
    const d = desc as X86_64Desc;
    return new X86_64Translator(mem, d.rootPa, d.fiveLevel, d.smeMask);
  },
};

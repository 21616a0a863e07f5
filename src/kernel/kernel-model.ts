// The crashed kernel as the filter sees it, built from VMCOREINFO alone (no vmlinux):
// page-table root, phys_base, utsname, struct page layout and the mem_map table.
// Spec: vmcoreinfo-and-translation.md.
import { DumpError, printable } from '../util/errors';
import { START_KERNEL_MAP, X86_64Translator } from '../translate/x86_64';
import type { LoadSegment, PhysicalMemory } from '../vmcore/physical';
import { UTSNAME_SIZE } from '../format/diskdump';
import { MemMapTable, adjustMaxMapnr, buildMemMapTable } from './memmap';
import { PageLayout, kernelVersionCode, resolvePageLayout } from './page-layout';
import { VmcoreInfo } from './vmcoreinfo';

const PAGE_OFFSET_4LEVEL = 0xffff880000000000n;
const PAGE_OFFSET_5LEVEL = 0xff10000000000000n;

export interface KernelModel {
  vmcoreinfo?: VmcoreInfo;
  pageSize: number;
  /** init_uts_ns.name as stored in the dump header (all zero without VMCOREINFO) */
  utsname: Buffer;
  release: string;
  kernelVersion: number;
  crashTime: number;
  physBase: bigint;
  translator?: X86_64Translator;
  fiveLevel: boolean;
  pageOffset: bigint;
  /** ceil(highest PT_LOAD end / page size) */
  maxMapnrLoads: number;
  /** after lowering to the last section with a mem_map: what the dump header records */
  maxMapnr: number;
  memmap?: MemMapTable;
  layout?: PageLayout;
}

export interface KernelModelOptions {
  warn(msg: string): void;
  /** set when a dump level needs more than the zero-page test, so mem_map must be found */
  needPageLayout: boolean;
  /** refiltering: max_mapnr from the input's header instead of its PT_LOADs */
  maxMapnr?: number;
  /** refiltering: phys_base from the input's sub-header */
  physBase?: bigint;
}

export function maxMapnrOfLoads(loads: readonly LoadSegment[], pageSize: number): number {
  let maxPaddr = 0;
  for (const l of loads) maxPaddr = Math.max(maxPaddr, l.paddr + l.memsz);
  return Math.ceil(maxPaddr / pageSize);
}

export function buildKernelModel(mem: PhysicalMemory, vmcoreinfoText: string | undefined, opts: KernelModelOptions): KernelModel {
  const maxMapnrLoads = opts.maxMapnr ?? maxMapnrOfLoads(mem.loads, mem.pageSize);
  if (maxMapnrLoads === 0) throw new DumpError('no-load', 'the vmcore holds no memory');
  if (vmcoreinfoText === undefined) {
    checkPhysicalSize(mem, maxMapnrLoads, 46, 'x86_64 with 4-level paging (no VMCOREINFO to say otherwise)');
    return {
      pageSize: mem.pageSize, utsname: Buffer.alloc(UTSNAME_SIZE), release: '', kernelVersion: 0, crashTime: 0,
      physBase: 0n, fiveLevel: false, pageOffset: PAGE_OFFSET_4LEVEL, maxMapnrLoads, maxMapnr: maxMapnrLoads,
    };
  }
  const vi = new VmcoreInfo(vmcoreinfoText);
  const release = vi.osRelease;
  const pageSize = vi.pageSize;
  if (pageSize !== mem.pageSize) {
    throw new DumpError('unsupported-page-size', `PAGESIZE=${pageSize} in VMCOREINFO; cyclodump supports 4096-byte pages (x86_64)`);
  }
  const crashTime = vi.crashTime;
  const fiveLevel = (vi.number('pgtable_l5_enabled') ?? 0) !== 0;
  const smeMask = BigInt.asUintN(64, vi.numberBig('sme_mask') ?? 0n);
  {
    const declared = vi.number('MAX_PHYSMEM_BITS');
    const bits = declared !== undefined && declared > 46 && declared <= 52 ? declared : fiveLevel ? 52 : 46;
    checkPhysicalSize(mem, maxMapnrLoads, bits, `this kernel (MAX_PHYSMEM_BITS=${bits})`);
  }

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
  const translator = new X86_64Translator(mem, Number(rootPa), fiveLevel, smeMask);

  // page_offset: from the last PT_LOAD below the kernel text map, else the constant
  let pageOffset = 0n;
  for (const l of mem.loads) {
    if (l.vaddr !== 0n && l.vaddr < START_KERNEL_MAP) pageOffset = BigInt.asUintN(64, l.vaddr - BigInt(l.paddr));
  }
  if (pageOffset === 0n) pageOffset = fiveLevel ? PAGE_OFFSET_5LEVEL : PAGE_OFFSET_4LEVEL;

  const utsSym = vi.symbol('system_utsname')
    ?? ((): bigint | undefined => {
      const s = vi.symbol('init_uts_ns');
      if (s === undefined) return undefined;
      return s + BigInt(vi.offset('uts_namespace.name') ?? 4);
    })();
  if (utsSym === undefined) throw new DumpError('no-utsname', 'VMCOREINFO has no SYMBOL(init_uts_ns): cannot read the kernel name');
  const utsname = Buffer.alloc(UTSNAME_SIZE);
  if (translator.readVirt(utsSym, utsname, 0, UTSNAME_SIZE) !== UTSNAME_SIZE) {
    if (translator.lastReadError) throw new DumpError('read-error', `can't read init_uts_ns: ${translator.lastReadError}`);
    throw new DumpError('bad-page-table',
      `can't read init_uts_ns at ${utsSym.toString(16)}: the page tables do not map it (wrong phys_base or init_top_pgt?)`);
  }
  const utsRelease = cField(utsname, 130);
  const kernelVersion = kernelVersionCode(utsRelease || release);
  if (kernelVersion === 0) throw new DumpError('bad-utsname', `can't get the kernel version from release "${printable(utsRelease)}"`);

  const model: KernelModel = {
    vmcoreinfo: vi, pageSize, utsname, release: utsRelease || release, kernelVersion, crashTime, physBase,
    translator, fiveLevel, pageOffset, maxMapnrLoads, maxMapnr: maxMapnrLoads,
  };
  try {
    model.layout = resolvePageLayout(vi, kernelVersion);
  } catch (e) {
    if (opts.needPageLayout) throw e;
    opts.warn(`${(e as Error).message}; pages are kept unfiltered`);
  }
  try {
    model.memmap = buildMemMapTable({
      vi, tr: translator, pageSize, fiveLevel, pageOffset, maxMapnr: maxMapnrLoads, warn: opts.warn,
    });
    model.maxMapnr = adjustMaxMapnr(maxMapnrLoads, model.memmap);
  } catch (e) {
    if (opts.needPageLayout) throw e;
    opts.warn(`${(e as Error).message}; pages are kept unfiltered`);
  }
  return model;
}

/**
 * Memory beyond what the kernel can address is a corrupt program header, not a machine:
 * refused, because the bitmaps (and the time to build them) grow with the highest pfn
 * (a PT_LOAD at 2^52 means 2 x 128 GiB of bitmaps).
 */
function checkPhysicalSize(mem: PhysicalMemory, maxMapnr: number, bits: number, who: string): void {
  if (maxMapnr * mem.pageSize <= 2 ** bits) return;
  let i = 0;
  for (; i < mem.loads.length; i++) if (mem.loads[i].paddr + mem.loads[i].memsz > 2 ** bits) break;
  throw new DumpError('beyond-physmem',
    `PT_LOAD ${i} reaches physical address 0x${(maxMapnr * mem.pageSize).toString(16)}, beyond the 2^${bits} bytes ${who} can address`);
}

/** A NUL-terminated field of the utsname block. */
export function cField(buf: Buffer, at: number, len = 65): string {
  const f = buf.subarray(at, at + len);
  const nul = f.indexOf(0);
  return f.subarray(0, nul < 0 ? f.length : nul).toString('latin1');
}

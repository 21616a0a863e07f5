// The crashed kernel as the filter sees it, built from VMCOREINFO alone (no vmlinux):
// page-table root, phys_base, utsname, struct page layout and the mem_map table.
// Spec: vmcoreinfo-and-translation.md.
import { DumpError, printable } from '../util/errors';
import { ARCHITECTURES, Architecture, Translator } from '../translate';
import type { LoadSegment, PhysicalMemory } from '../vmcore/physical';
import { UTSNAME_SIZE } from '../format/diskdump';
import { MemMapTable, adjustMaxMapnr, buildMemMapTable } from './memmap';
import { PageLayout, kernelVersionCode, resolvePageLayout } from './page-layout';
import { plausibleLayout, strideEvidence, strideImplausible } from './plausibility';
import { VmcoreInfo } from './vmcoreinfo';


export interface KernelModel {
  vmcoreinfo?: VmcoreInfo;
  pageSize: number;
  /** init_uts_ns.name as stored in the dump header (all zero without VMCOREINFO) */
  utsname: Buffer;
  release: string;
  kernelVersion: number;
  crashTime: number;
  arch: Architecture;
  physBase: bigint;
  translator?: Translator;
  /** lowest kernel virtual address (makedumpfile is_kvaddr); 0 without VMCOREINFO */
  kernelBase: bigint;
  /** ceil(highest PT_LOAD end / page size) */
  maxMapnrLoads: number;
  /** after lowering to the last section with a mem_map: what the dump header records */
  maxMapnr: number;
  memmap?: MemMapTable;
  layout?: PageLayout;
}

export interface KernelModelOptions {
  warn(msg: string): void;
  /** the input's architecture; undefined for a kdump file whose header names none */
  arch: Architecture | undefined;
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
  // without VMCOREINFO the architecture only bounds the physical address size
  const arch = opts.arch ?? (vmcoreinfoText === undefined ? ARCHITECTURES[0] : undefined);
  if (!arch) {
    throw new DumpError('unknown-arch', "can't tell the crashed machine's architecture: the dump header's utsname names none cyclodump reads");
  }
  if (vmcoreinfoText === undefined) {
    checkPhysicalSize(mem, maxMapnrLoads, arch.physmemBitsWithoutVmcoreinfo, `${arch.name} (no VMCOREINFO to say otherwise)`);
    return {
      pageSize: mem.pageSize, utsname: Buffer.alloc(UTSNAME_SIZE), release: '', kernelVersion: 0, crashTime: 0,
      arch, physBase: 0n, kernelBase: 0n, maxMapnrLoads, maxMapnr: maxMapnrLoads,
    };
  }
  const vi = new VmcoreInfo(vmcoreinfoText);
  const release = vi.osRelease;
  const pageSize = vi.pageSize;
  if (!arch.pageSizes.includes(pageSize)) {
    throw new DumpError('unsupported-page-size',
      `PAGESIZE=${pageSize} in VMCOREINFO; ${arch.name} kernels have ${arch.pageSizes.map((p) => `${p / 1024} KiB`).join(', ')} pages`);
  }
  if (pageSize !== mem.pageSize) {
    throw new DumpError('unsupported-page-size', `PAGESIZE=${pageSize} in VMCOREINFO, but the input's pages are ${mem.pageSize} bytes`);
  }
  const crashTime = vi.crashTime;
  const { translator, physBase, kernelBase, physmemBits, sectionSizeBits, suspects } = arch.addressing(mem, vi, { pageSize, physBase: opts.physBase });
  {
    const declared = vi.number('MAX_PHYSMEM_BITS');
    const bits = declared !== undefined && declared >= physmemBits && declared <= 52 ? declared : physmemBits;
    checkPhysicalSize(mem, maxMapnrLoads, bits, `this kernel (MAX_PHYSMEM_BITS=${bits})`);
  }

  const utsSym = utsnameAddress(vi);
  if (utsSym === undefined) throw new DumpError('no-utsname', 'VMCOREINFO has no SYMBOL(init_uts_ns): cannot read the kernel name');
  const utsname = Buffer.alloc(UTSNAME_SIZE);
  if (translator.readVirt(utsSym, utsname, 0, UTSNAME_SIZE) !== UTSNAME_SIZE) {
    if (translator.lastReadError) throw new DumpError('read-error', `can't read init_uts_ns: ${translator.lastReadError}`);
    throw new DumpError('bad-page-table', `can't read init_uts_ns at ${utsSym.toString(16)}: the page tables do not map it (${suspects})`);
  }
  const utsRelease = cField(utsname, 130);
  const kernelVersion = kernelVersionCode(utsRelease || release);
  if (kernelVersion === 0) throw new DumpError('bad-utsname', `can't get the kernel version from release "${printable(utsRelease)}"`);

  const model: KernelModel = {
    vmcoreinfo: vi, pageSize, utsname, release: utsRelease || release, kernelVersion, crashTime, arch, physBase,
    translator, kernelBase, maxMapnrLoads, maxMapnr: maxMapnrLoads,
  };
  try {
    model.layout = plausibleLayout(resolvePageLayout(vi, kernelVersion), kernelVersion, opts.warn);
  } catch (e) {
    if (opts.needPageLayout) throw e;
    opts.warn(`${(e as Error).message}; pages are kept unfiltered`);
  }
  try {
    model.memmap = buildMemMapTable({
      vi, tr: translator, pageSize, physmemBits, sectionSizeBits, kernelBase, maxMapnr: maxMapnrLoads, warn: opts.warn,
    });
    model.maxMapnr = adjustMaxMapnr(maxMapnrLoads, model.memmap);
  } catch (e) {
    if (opts.needPageLayout) throw e;
    opts.warn(`${(e as Error).message}; pages are kept unfiltered`);
  }
  checkStride(model, vi, opts.warn);
  return model;
}

/**
 * SIZE(page) checked against the struct pages (plausibility.ts strideEvidence): with the
 * wrong size nothing can be classified, and the pages are kept unfiltered.
 */
function checkStride(model: KernelModel, vi: VmcoreInfo, warn: (m: string) => void): void {
  const { layout, memmap, translator } = model;
  if (!layout || !memmap || !translator || vi.offset('page.compound_head') === undefined) return;
  let evidence = { good: 0, bad: 0 };
  try {
    evidence = strideEvidence(layout, memmap.ranges, (va, b, o, l) => translator.readVirt(va, b, o, l));
  } catch {
    return;
  }
  if (!strideImplausible(evidence)) return;
  warn(`SIZE(page)=${layout.sizePage} does not fit the struct pages: ${evidence.bad} of ${evidence.bad + evidence.good} tail pages`
    + ' sampled point at no head page; pages are kept unfiltered');
  model.layout = undefined;
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

/** Where the kernel's utsname (the 390 bytes the dump header copies) is. */
export function utsnameAddress(vi: VmcoreInfo): bigint | undefined {
  const sys = vi.symbol('system_utsname');
  if (sys !== undefined) return sys;
  const s = vi.symbol('init_uts_ns');
  if (s === undefined) return undefined;
  return s + BigInt(vi.offset('uts_namespace.name') ?? 4);
}

/** A NUL-terminated field of the utsname block. */
export function cField(buf: Buffer, at: number, len = 65): string {
  const f = buf.subarray(at, at + len);
  const nul = f.indexOf(0);
  return f.subarray(0, nul < 0 ? f.length : nul).toString('latin1');
}

// The VMCOREINFO note text of the synthetic kernel: the 6.1 template with the
// values that depend on the layout rewritten (spec vmcoreinfo-and-translation.md §1-2).

import { ARM64_KIMAGE_VADDR } from './arm64';
import { TEMPLATE_VMCOREINFO } from './template';
import { TEMPLATE_VMCOREINFO_ARM64 } from './template-arm64';
import { Layout, START_KERNEL_MAP, SynthArch, kimageVoffset } from './layout';

/** Numbers of the template the generator relies on. */
export interface KernelFacts {
  pgLru: number;
  pgPrivate: number;
  pgSwapcache: number;
  pgSwapbacked: number;
  pgSlab: number;
  pgHwpoison: number;
  pgHeadMask: number;
  buddyMapcount: number;
  offlineMapcount: number;
  hugetlbDtor: number;
  /** LENGTH(zone.free_area) = MAX_ORDER */
  maxOrder: number;
  sizeMemSection: number;
  utsNameOffset: number;
  nodemaskBytes: number;
}

const REQUIRED_OFFSETS: Record<string, number> = {
  'SIZE(page)': 64,
  'OFFSET(page.flags)': 0,
  'OFFSET(page.lru)': 8,
  'OFFSET(page.compound_head)': 8,
  'OFFSET(page.compound_dtor)': 16,
  'OFFSET(page.compound_order)': 17,
  'OFFSET(page.mapping)': 24,
  'OFFSET(page.private)': 40,
  'OFFSET(page._mapcount)': 48,
  'OFFSET(page._refcount)': 52,
  'OFFSET(mem_section.section_mem_map)': 0,
  PAGESIZE: 4096,
  'NUMBER(SECTION_SIZE_BITS)': 27,
};

function templateOf(arch: SynthArch): readonly string[] {
  return arch === 'arm64' ? TEMPLATE_VMCOREINFO_ARM64 : TEMPLATE_VMCOREINFO;
}

/** lowest kernel-image address: template symbols from here on move with the KASLR offset */
function imageFloor(arch: SynthArch): bigint {
  return arch === 'arm64' ? ARM64_KIMAGE_VADDR : START_KERNEL_MAP;
}

function templateValue(key: string, arch: SynthArch = 'x86_64'): string {
  const line = templateOf(arch).find((l) => l.startsWith(`${key}=`));
  if (line === undefined) throw new Error(`template VMCOREINFO lacks ${key}`);
  return line.slice(key.length + 1);
}

export function kernelFacts(arch: SynthArch = 'x86_64'): KernelFacts {
  // The struct page encoder writes fixed word offsets; make sure the template agrees.
  for (const [k, v] of Object.entries(REQUIRED_OFFSETS)) {
    if (Number(templateValue(k, arch)) !== v) throw new Error(`template ${k} is not ${v}`);
  }
  const n = (k: string): number => Number(templateValue(k, arch));
  return {
    pgLru: n('NUMBER(PG_lru)'),
    pgPrivate: n('NUMBER(PG_private)'),
    pgSwapcache: n('NUMBER(PG_swapcache)'),
    pgSwapbacked: n('NUMBER(PG_swapbacked)'),
    pgSlab: n('NUMBER(PG_slab)'),
    pgHwpoison: n('NUMBER(PG_hwpoison)'),
    pgHeadMask: n('NUMBER(PG_head_mask)'),
    buddyMapcount: n('NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)'),
    offlineMapcount: n('NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)'),
    hugetlbDtor: n('NUMBER(HUGETLB_PAGE_DTOR)'),
    maxOrder: n('LENGTH(zone.free_area)'),
    sizeMemSection: n('SIZE(mem_section)'),
    utsNameOffset: n('OFFSET(uts_namespace.name)'),
    nodemaskBytes: n('SIZE(nodemask_t)'),
  };
}

/** Template KASLR offset: kernel-image symbols move by (new KERNELOFFSET − this). */
function templateKernelOffset(arch: SynthArch): bigint {
  return BigInt(`0x${templateValue('KERNELOFFSET', arch)}`);
}

export function templateOsrelease(arch: SynthArch = 'x86_64'): string {
  return templateValue('OSRELEASE', arch);
}

/** A template SYMBOL() moved to the synthetic kernel's KASLR offset. */
export function kernelSymbol(layout: Layout, name: string): bigint {
  const v = BigInt(`0x${templateValue(`SYMBOL(${name})`, layout.arch)}`);
  if (v < imageFloor(layout.arch)) throw new Error(`SYMBOL(${name}) is not a kernel-image address`);
  return v - templateKernelOffset(layout.arch) + BigInt(layout.kernelOffset);
}

export interface VmcoreinfoValues {
  osrelease: string;
  buildId: string;
  /** mem_section root array (EXTREME) or array (plain SPARSEMEM) */
  memSection?: bigint;
  lengthMemSection?: number;
  /** FLATMEM: address of the `mem_map` pointer variable and of contig_page_data */
  memMap?: bigint;
  contigPageData?: bigint;
  crashTime: number;
}

/**
 * The note text: template order and keys, layout values substituted, memory-model
 * keys adjusted, CRASHTIME appended (the kernel adds it at crash time, last line).
 */
export function buildVmcoreinfo(layout: Layout, v: VmcoreinfoValues): string {
  const out: string[] = [];
  const kaslrDelta = BigInt(layout.kernelOffset) - templateKernelOffset(layout.arch);
  const flat = layout.model === 'flat';
  for (const line of templateOf(layout.arch)) {
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    switch (key) {
      case 'OSRELEASE': out.push(`${key}=${v.osrelease}`); continue;
      case 'BUILD-ID': out.push(`${key}=${v.buildId}`); continue;
      case 'SYMBOL(mem_section)':
        if (flat) {
          // !SPARSEMEM, !NUMA: the kernel exports mem_map and contig_page_data instead,
          // and pglist_data.node_mem_map (CONFIG_FLATMEM).
          out.push(`SYMBOL(mem_map)=${(v.memMap as bigint).toString(16)}`);
          out.push(`SYMBOL(contig_page_data)=${(v.contigPageData as bigint).toString(16)}`);
        } else {
          out.push(`${key}=${(v.memSection as bigint).toString(16)}`);
        }
        continue;
      case 'LENGTH(mem_section)':
        if (!flat) out.push(`${key}=${v.lengthMemSection}`);
        continue;
      case 'SIZE(mem_section)':
      case 'OFFSET(mem_section.section_mem_map)':
      case 'NUMBER(SECTION_SIZE_BITS)':
        if (!flat) out.push(line);
        continue;
      case 'NUMBER(MAX_PHYSMEM_BITS)':
        if (!flat) out.push(`${key}=${layout.maxPhysmemBits}`);
        continue;
      case 'SYMBOL(node_online_map)':
      case 'SYMBOL(node_data)':
      case 'LENGTH(node_data)':
        if (flat) continue; // CONFIG_NUMA only
        break;
      case 'OFFSET(pglist_data.nr_zones)':
        out.push(line);
        if (flat) out.push(`OFFSET(pglist_data.node_mem_map)=${Number(value) + 8}`);
        continue;
      case 'NUMBER(phys_base)': out.push(`${key}=${layout.physBase}`); continue;
      case 'NUMBER(pgtable_l5_enabled)': out.push(`${key}=${layout.levels === 5 ? 1 : 0}`); continue;
      case 'KERNELOFFSET': out.push(`${key}=${layout.kernelOffset.toString(16)}`); continue;
      case 'NUMBER(kimage_voffset)': out.push(`${key}=0x${kimageVoffset(layout).toString(16)}`); continue;
      case 'NUMBER(PHYS_OFFSET)': out.push(`${key}=0x${layout.physOffset.toString(16)}`); continue;
      default:
        break;
    }
    if (key.startsWith('SYMBOL(')) {
      const addr = BigInt(`0x${value}`);
      if (addr >= imageFloor(layout.arch)) {
        out.push(`${key}=${(addr + kaslrDelta).toString(16)}`);
        continue;
      }
      throw new Error(`template symbol ${key} outside the kernel image is not handled`);
    }
    if (flat && (key.startsWith('OFFSET(pglist_data.node_') && key !== 'OFFSET(pglist_data.node_zones)')) {
      // FLATMEM inserts node_mem_map after nr_zones: later members move by 8
      out.push(`${key}=${Number(value) + 8}`);
      continue;
    }
    out.push(line);
  }
  out.push(`CRASHTIME=${v.crashTime}`);
  const text = `${out.join('\n')}\n`;
  if (text.length > 4096) throw new Error('VMCOREINFO text longer than one page');
  return text;
}

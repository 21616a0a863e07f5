// What an architecture is to cyclodump: a record of data (its ELF machine number, the name
// its kernel writes in utsname, its defaults) and two functions: set up the translation of
// kernel addresses from VMCOREINFO alone, and rebuild a translator from its plain
// description in another thread. One record per architecture, beside its translator.
import type { PhysicalMemory } from '../vmcore/physical';
import type { Translator, TranslatorDesc } from './page-walker';

/** The VMCOREINFO look-ups an architecture reads (src/kernel's VmcoreInfo has them). */
export interface KernelKeys {
  symbol(name: string): bigint | undefined;
  number(name: string): number | undefined;
  /** NUMBER(name) as a full 64-bit value (phys_base, kimage_voffset) */
  numberBig(name: string): bigint | undefined;
}

export interface KernelAddressing {
  translator: Translator;
  /** what the kdump sub-header records as phys_base */
  physBase: bigint;
  /** lowest kernel virtual address: below it a pointer is not a kernel one (makedumpfile is_kvaddr) */
  kernelBase: bigint;
  /** MAX_PHYSMEM_BITS when VMCOREINFO has no NUMBER(MAX_PHYSMEM_BITS) */
  physmemBits: number;
  /** SECTION_SIZE_BITS when VMCOREINFO has no NUMBER(SECTION_SIZE_BITS) */
  sectionSizeBits: number;
  /** the keys to suspect when the tables do not map a symbol (for the error message) */
  suspects: string;
}

export interface AddressingOptions {
  pageSize: number;
  /** refiltering: phys_base from the input's sub-header */
  physBase?: bigint;
}

export interface Architecture {
  /** cyclodump's name for it (messages, --help) */
  readonly name: string;
  /** ELF e_machine of its vmcores */
  readonly eMachine: number;
  /** utsname.machine as its kernel writes it (and so the kdump header) */
  readonly utsMachine: string;
  /** page sizes its kernels can be built with */
  readonly pageSizes: readonly number[];
  /** MAX_PHYSMEM_BITS assumed for a vmcore without VMCOREINFO */
  readonly physmemBitsWithoutVmcoreinfo: number;
  /** byte offset of the stack pointer in a CORE/NT_PRSTATUS note's descriptor (elf_prstatus.pr_reg) */
  readonly prstatusSpOffset: number;
  /** a kernel task's stack (THREAD_SIZE with 4 KiB pages; never less than a page) */
  readonly threadSize: number;
  addressing(mem: PhysicalMemory, keys: KernelKeys, opts: AddressingOptions): KernelAddressing;
  /** the translator `desc` describes, over `mem` (a worker's own view of the input) */
  rebuild(mem: PhysicalMemory, desc: TranslatorDesc): Translator;
}

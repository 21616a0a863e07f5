// ELF64 structures as the kernel's /proc/vmcore, QEMU's dump-guest-memory and
// makedumpfile -E use them (x86_64: little-endian). Spec: elf-output.md.
import { Struct } from './struct';

export const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
export const ELFCLASS32 = 1;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const ET_CORE = 4;
export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;
export const PT_NULL = 0;
export const PT_LOAD = 1;
export const PT_NOTE = 4;
/** e_phnum value that says "the real count is in section 0's sh_info" */
export const PN_XNUM = 0xffff;
/** e_flags bit that marks an incomplete ELF dump (makedumpfile sets it, crash reads it) */
export const ELF_FLAG_INCOMPLETE = 1;
export const NT_PRSTATUS = 1;

export const Elf64Ehdr = new Struct('Elf64_Ehdr', 64, [
  { name: 'e_ident', type: 'bytes', offset: 0, size: 16 },
  { name: 'e_type', type: 'u16', offset: 16 },
  { name: 'e_machine', type: 'u16', offset: 18 },
  { name: 'e_version', type: 'u32', offset: 20 },
  { name: 'e_entry', type: 'u64', offset: 24 },
  { name: 'e_phoff', type: 'u64n', offset: 32 },
  { name: 'e_shoff', type: 'u64n', offset: 40 },
  { name: 'e_flags', type: 'u32', offset: 48 },
  { name: 'e_ehsize', type: 'u16', offset: 52 },
  { name: 'e_phentsize', type: 'u16', offset: 54 },
  { name: 'e_phnum', type: 'u16', offset: 56 },
  { name: 'e_shentsize', type: 'u16', offset: 58 },
  { name: 'e_shnum', type: 'u16', offset: 60 },
  { name: 'e_shstrndx', type: 'u16', offset: 62 },
] as const);

export const Elf64Phdr = new Struct('Elf64_Phdr', 56, [
  { name: 'p_type', type: 'u32', offset: 0 },
  { name: 'p_flags', type: 'u32', offset: 4 },
  { name: 'p_offset', type: 'u64n', offset: 8 },
  { name: 'p_vaddr', type: 'u64', offset: 16 },
  { name: 'p_paddr', type: 'u64n', offset: 24 },
  { name: 'p_filesz', type: 'u64n', offset: 32 },
  { name: 'p_memsz', type: 'u64n', offset: 40 },
  { name: 'p_align', type: 'u64', offset: 48 },
] as const);

export const Elf64Shdr = new Struct('Elf64_Shdr', 64, [
  { name: 'sh_name', type: 'u32', offset: 0 },
  { name: 'sh_type', type: 'u32', offset: 4 },
  { name: 'sh_flags', type: 'u64', offset: 8 },
  { name: 'sh_addr', type: 'u64', offset: 16 },
  { name: 'sh_offset', type: 'u64n', offset: 24 },
  { name: 'sh_size', type: 'u64n', offset: 32 },
  { name: 'sh_link', type: 'u32', offset: 40 },
  { name: 'sh_info', type: 'u32', offset: 44 },
  { name: 'sh_addralign', type: 'u64', offset: 48 },
  { name: 'sh_entsize', type: 'u64', offset: 56 },
] as const);

export const Elf64Nhdr = new Struct('Elf64_Nhdr', 12, [
  { name: 'n_namesz', type: 'u32', offset: 0 },
  { name: 'n_descsz', type: 'u32', offset: 4 },
  { name: 'n_type', type: 'u32', offset: 8 },
] as const);

export type Elf64PhdrValue = ReturnType<typeof Elf64Phdr.decode>;

/** ELF note fields are padded to 4 bytes on x86_64 cores (makedumpfile and the kernel both do). */
export function noteAlign(n: number): number {
  return (n + 3) & ~3;
}

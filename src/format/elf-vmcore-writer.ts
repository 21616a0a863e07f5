// Small ELF64 vmcores written from the declared structs: an ELF header, program headers
// at offset 64, a note segment and PT_LOADs. The build's code-cache training dump
// (cli/startup-bundle.ts), the tests' hand-made inputs and the bench's tiny vmcore.
import * as fs from 'fs';
import { ELFCLASS64, ELFDATA2LSB, ELF_MAGIC, Elf64Ehdr, Elf64Nhdr, Elf64Phdr, EM_X86_64, ET_CORE, PT_LOAD, PT_NOTE, noteAlign } from './elf';

export interface NoteSpec {
  name: string;
  type: number;
  desc: Buffer;
}

export function encodeNotes(notes: NoteSpec[]): Buffer {
  const parts: Buffer[] = [];
  for (const n of notes) {
    const name = Buffer.from(n.name + '\0', 'latin1');
    const h = Elf64Nhdr.encode({ n_namesz: name.length, n_descsz: n.desc.length, n_type: n.type });
    const nb = Buffer.alloc(noteAlign(name.length));
    name.copy(nb);
    const db = Buffer.alloc(noteAlign(n.desc.length));
    n.desc.copy(db);
    parts.push(h, nb, db);
  }
  return Buffer.concat(parts);
}

export interface LoadSpec {
  paddr: number;
  /** bytes stored in the file */
  data: Buffer;
  /** defaults to data.length */
  memsz?: number;
  vaddr?: bigint;
}

export interface ElfSpec {
  notes: Buffer;
  loads: LoadSpec[];
  machine?: number;
  /** write the file only up to this many bytes */
  truncateTo?: number;
}

export function writeElfVmcore(path: string, spec: ElfSpec): void {
  const phnum = 1 + spec.loads.length;
  const noteOff = 64 + phnum * Elf64Phdr.size;
  let off = noteOff + spec.notes.length;
  const ident = Buffer.alloc(16);
  ELF_MAGIC.copy(ident);
  ident[4] = ELFCLASS64;
  ident[5] = ELFDATA2LSB;
  ident[6] = 1; // EI_VERSION: EV_CURRENT
  const parts: Buffer[] = [Elf64Ehdr.encode({
    e_ident: ident, e_type: ET_CORE, e_machine: spec.machine ?? EM_X86_64, e_version: 1, e_entry: 0n,
    e_phoff: 64, e_shoff: 0, e_flags: 0, e_ehsize: 64, e_phentsize: Elf64Phdr.size, e_phnum: phnum,
    e_shentsize: 0, e_shnum: 0, e_shstrndx: 0,
  })];
  parts.push(Elf64Phdr.encode({ p_type: PT_NOTE, p_flags: 0, p_offset: noteOff, p_vaddr: 0n, p_paddr: 0, p_filesz: spec.notes.length, p_memsz: spec.notes.length, p_align: 0n }));
  for (const l of spec.loads) {
    parts.push(Elf64Phdr.encode({
      p_type: PT_LOAD, p_flags: 7, p_offset: off, p_vaddr: l.vaddr ?? 0n, p_paddr: l.paddr,
      p_filesz: l.data.length, p_memsz: l.memsz ?? l.data.length, p_align: 0n,
    }));
    off += l.data.length;
  }
  parts.push(spec.notes, ...spec.loads.map((l) => l.data));
  let file = Buffer.concat(parts);
  if (spec.truncateTo !== undefined) file = file.subarray(0, spec.truncateTo);
  fs.writeFileSync(path, file);
}

// Small hand-made ELF vmcores for tests of bad input (the writer is src/format's, shared
// with the build), and the note segment of a real one.
import * as fs from 'fs';
import { Elf64Ehdr, Elf64Phdr, PT_NOTE } from '../../src/format/elf';

export { ElfSpec, LoadSpec, NoteSpec, encodeNotes, writeElfVmcore } from '../../src/format/elf-vmcore-writer';

/** The note segment of a real vmcore, verbatim. */
export function notesOf(vmcore: string): Buffer {
  const fd = fs.openSync(vmcore, 'r');
  try {
    const eh = Buffer.alloc(64);
    fs.readSync(fd, eh, 0, 64, 0);
    const e = Elf64Ehdr.decode(eh);
    const ph = Buffer.alloc(e.e_phnum * Elf64Phdr.size);
    fs.readSync(fd, ph, 0, ph.length, e.e_phoff);
    for (let i = 0; i < e.e_phnum; i++) {
      const p = Elf64Phdr.decode(ph, i * Elf64Phdr.size);
      if (p.p_type === PT_NOTE) {
        const b = Buffer.alloc(p.p_filesz);
        fs.readSync(fd, b, 0, b.length, p.p_offset);
        return b;
      }
    }
    throw new Error(`${vmcore}: no PT_NOTE`);
  } finally {
    fs.closeSync(fd);
  }
}

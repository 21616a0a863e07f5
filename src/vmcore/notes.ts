// ELF notes of a vmcore's PT_NOTE segment (CORE/NT_PRSTATUS per CPU, VMCOREINFO, ...).
// Spec: elf-output.md §1.1, §1.3.
import { Elf64Nhdr, NT_PRSTATUS, noteAlign } from '../format/elf';
import { VmcoreInfo } from '../kernel/vmcoreinfo';

export interface ElfNote {
  name: string;
  type: number;
  /** offset of the note header within the note segment */
  offset: number;
  /** offset of the descriptor within the note segment */
  descOffset: number;
  descSize: number;
}

/**
 * Walks the notes the way makedumpfile does: namesz/descsz padded to 4; a note whose
 * name is empty or longer than 15 bytes is stepped over without being named; the walk
 * stops at the first header that would not fit the segment.
 */
export function parseNotes(seg: Uint8Array): ElfNote[] {
  const notes: ElfNote[] = [];
  let off = 0;
  while (off + Elf64Nhdr.size <= seg.length) {
    const h = Elf64Nhdr.decode(seg, off);
    const descOffset = off + Elf64Nhdr.size + noteAlign(h.n_namesz);
    const next = descOffset + noteAlign(h.n_descsz);
    if (h.n_namesz > 0 && h.n_namesz <= 15 && off + Elf64Nhdr.size + h.n_namesz <= seg.length) {
      const raw = seg.subarray(off + Elf64Nhdr.size, off + Elf64Nhdr.size + h.n_namesz);
      const nul = raw.indexOf(0);
      const name = Buffer.from(nul < 0 ? raw : raw.subarray(0, nul)).toString('latin1');
      notes.push({ name, type: h.n_type, offset: off, descOffset, descSize: h.n_descsz });
    }
    if (next <= off) break;
    off = next;
  }
  return notes;
}

/** Number of CPUs as makedumpfile counts them for the header: CORE notes of type NT_PRSTATUS. */
export function countPrstatus(notes: readonly ElfNote[]): number {
  return notes.filter((n) => n.name === 'CORE' && n.type === NT_PRSTATUS).length;
}

/** The VMCOREINFO note; like makedumpfile, a later one replaces an earlier one. */
export function findVmcoreinfoNote(notes: readonly ElfNote[]): ElfNote | undefined {
  let found: ElfNote | undefined;
  for (const n of notes) if (n.name === 'VMCOREINFO' && n.type === 0) found = n;
  return found;
}

/**
 * The VMCOREINFO note's text, after checking that every VMCOREINFO note of the segment
 * says the same: makedumpfile takes the last one, but two that disagree (a key with two
 * values) mean that one of them is not this kernel's, and nothing tells which.
 */
export function vmcoreinfoNoteText(notes: readonly ElfNote[], seg: Uint8Array, path: string): { note: ElfNote; text: string } | undefined {
  const all = notes.filter((n) => n.name === 'VMCOREINFO' && n.type === 0 && n.descOffset + n.descSize <= seg.length);
  const last = findVmcoreinfoNote(notes);
  if (!last) return undefined;
  const textOf = (n: ElfNote): string => Buffer.from(seg.buffer, seg.byteOffset + n.descOffset, n.descSize).toString('latin1');
  if (all.length > 1) {
    try {
      const mine = new VmcoreInfo(textOf(all[all.length - 1]));
      for (const n of all.slice(0, -1)) mine.checkAgrees(new VmcoreInfo(textOf(n)));
    } catch (e) {
      (e as Error).message = `${path}: ${(e as Error).message}`;
      throw e;
    }
  }
  return { note: last, text: last.descOffset + last.descSize <= seg.length ? textOf(last) : '' };
}

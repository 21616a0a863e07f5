// Opens a dump input of any supported format: an ELF vmcore, or a kdump-compressed dump
// (refiltering). Each format knows how to recognise itself; this tries them in turn.
import { ELF_MAGIC } from '../format/elf';
import { FLAT_SIGNATURE } from '../format/flattened';
import { DumpError } from '../util/errors';
import { closeInput, openForReading, preadFull } from '../util/file';
import type { InputDescription } from './describe';
import { ElfHeaders, ElfVmcore } from './elf-vmcore';
import { KdumpVmcore } from './kdump-vmcore';
import { isKdumpSignature } from '../format/diskdump';
import type { Architecture } from '../translate';
import type { ElfNote } from './notes';
import type { EarlierDump, PhysicalMemory } from './physical';

export type InputKind = 'elf' | 'kdump';

/** What every input offers the layers above it. */
export interface DumpInput extends PhysicalMemory {
  readonly kind: InputKind;
  readonly path: string;
  /** the crashed machine's architecture (undefined: a kdump file whose header names none) */
  readonly arch?: Architecture;
  /** the crashed kernel's ELF note segment, verbatim (copied into the output) */
  readonly noteBytes: Buffer;
  readonly notes: ElfNote[];
  readonly vmcoreinfo?: { descOffset: number; size: number; text: string };
  /** set for a filtered dump (kdump-compressed): refiltering starts from what it kept */
  readonly earlierDump?: EarlierDump;
  /** set for an ELF vmcore: the headers -E copies */
  readonly elfHeaders?: ElfHeaders;
  /** the file says it is an incomplete dump (kdump status 0x08, ELF e_flags bit 0): pages may be missing from it */
  readonly incomplete: boolean;
  /** what the file holds, as its own headers say (`cyclodump info`) */
  describe(): InputDescription;
  /** whether the file holds pfn's page: stored, left out by its dump level (or a hole), or lost (a dump cut short) */
  holds(pfn: number): 'stored' | 'excluded' | 'lost';
  close(): void;
}

export function sniffInput(path: string): InputKind {
  const fd = openForReading(path);
  const head = Buffer.alloc(16);
  let n = 0;
  try {
    n = preadFull(fd, head, 0, 16, 0);
  } catch (e) {
    throw new DumpError('read-error', `can't read ${path}: ${(e as Error).message}`);
  } finally {
    closeInput(fd);
  }
  if (n >= 4 && head.subarray(0, 4).equals(ELF_MAGIC)) return 'elf';
  if (n >= 8 && isKdumpSignature(head)) return 'kdump';
  if (n >= 12 && head.subarray(0, 12).toString('latin1') === FLAT_SIGNATURE) {
    throw new DumpError('flattened-input', `${path} is a flattened stream (-F): rebuild it first with cyclodump -R`);
  }
  throw new DumpError('not-elf', `${path} is not an ELF file (no ELF magic) nor a kdump-compressed dump`);
}

export function openInput(path: string, kind: InputKind = sniffInput(path)): DumpInput {
  return kind === 'elf' ? ElfVmcore.open(path) : KdumpVmcore.open(path);
}

// ELF64 vmcore input: /proc/vmcore, QEMU dump-guest-memory, virsh dump --memory-only,
// and makedumpfile -E output. Spec: elf-output.md §1.
import * as fs from 'fs';
import {
  ELF_MAGIC, ELFCLASS32, ELFCLASS64, ELFDATA2LSB, Elf64Ehdr, Elf64Phdr, Elf64PhdrValue, Elf64Shdr,
  ELF_FLAG_INCOMPLETE, PN_XNUM, PT_LOAD, PT_NOTE,
} from '../format/elf';
import { Architecture, SUPPORTED_ARCHITECTURES, architectureOfMachine } from '../translate';
import { DumpError } from '../util/errors';
import { closeInput, openForReading, preadFull } from '../util/file';
import { ElfNote, findVmcoreinfoNote, parseNotes, vmcoreinfoNoteText } from './notes';
import type { InputDescription } from './describe';
import { FileMap, LoadSegment, PhysicalMemory, coveredRanges, pagesTouched } from './physical';

const MACHINE_NAMES: Record<number, string> = {
  3: 'i386', 8: 'mips', 20: 'ppc', 21: 'ppc64', 22: 's390', 40: 'arm', 42: 'sh', 43: 'sparcv9',
  50: 'ia64', 243: 'riscv', 258: 'loongarch',
};

/** Upper bound on program headers we accept; real vmcores have at most a few thousand. */
const MAX_PHDRS = 1 << 20;

export interface ElfVmcoreInfo {
  path: string;
  fileSize: number;
  /** the crashed machine's architecture, from e_machine */
  arch: Architecture;
  /** the 64-byte ELF header, verbatim (the -E writer copies it) */
  ehdr: Buffer;
  eFlags: number;
  loads: LoadSegment[];
  /** the PT_NOTE segment (the last PT_NOTE wins, as in makedumpfile) */
  noteOffset: number;
  noteSize: number;
  notes: ElfNote[];
  noteBytes: Buffer;
  vmcoreinfo?: { descOffset: number; size: number; text: string };
  /** the first PT_NOTE header and every PT_LOAD header, verbatim fields (the -E writer copies them) */
  notePhdr: Elf64PhdrValue;
  loadPhdrs: Elf64PhdrValue[];
}

/** The headers -E copies into its output: the ELF header, the PT_NOTE and the PT_LOADs, as stored. */
export type ElfHeaders = Pick<ElfVmcoreInfo, 'ehdr' | 'notePhdr' | 'loadPhdrs'>;

export class ElfVmcore implements PhysicalMemory {
  readonly kind = 'elf' as const;
  /** the kernel's page size (VMCOREINFO PAGESIZE); 4096 without a note that says */
  readonly pageSize: number;
  readonly arch: Architecture;
  readonly loads: LoadSegment[];
  private readonly map: FileMap;
  private readonly covered: { start: number; end: number }[];

  private constructor(readonly fd: number, readonly info: ElfVmcoreInfo) {
    this.loads = info.loads;
    this.arch = info.arch;
    this.pageSize = notePageSize(info.vmcoreinfo?.text) ?? 4096;
    this.map = new FileMap(info.loads);
    this.covered = coveredRanges(info.loads);
  }

  static open(path: string): ElfVmcore {
    const fd = openForReading(path);
    try {
      const info = readElfVmcoreInfo(fd, path);
      return new ElfVmcore(fd, info);
    } catch (e) {
      closeInput(fd);
      throw e;
    }
  }

  close(): void {
    closeInput(this.fd);
  }

  get path(): string { return this.info.path; }
  get noteBytes(): Buffer { return this.info.noteBytes; }
  get notes(): ElfNote[] { return this.info.notes; }
  get vmcoreinfo(): ElfVmcoreInfo['vmcoreinfo'] { return this.info.vmcoreinfo; }

  fileOffset(pa: number): number {
    return this.map.fileOffset(pa);
  }

  get direct(): { fd: number; map: FileMap } {
    return { fd: this.fd, map: this.map };
  }

  get elfHeaders(): ElfHeaders {
    return this.info;
  }

  describe(): InputDescription {
    // overlapping PT_LOADs (the kernel text's) count once
    const memory = pagesTouched(coveredRanges(this.loads), this.pageSize);
    const data = pagesTouched(coveredRanges(this.loads.map((l) => ({ ...l, memsz: l.filesz }))), this.pageSize);
    return {
      format: 'elf', fileSize: this.info.fileSize,
      kernel: { release: '', version: '', machine: this.arch.utsMachine, nodename: '' },
      crashTime: null, dumpLevel: null, codec: null,
      complete: !this.incomplete,
      excludedVmemmap: false, split: null, pageSize: this.pageSize,
      pages: {
        total: memory.endPfn, present: memory.pages, dumped: data.pages, inThisFile: data.pages, zeroDescriptors: 0,
        excluded: memory.pages - data.pages, lost: 0,
      },
    };
  }

  /** An ELF vmcore holds every page of its PT_LOADs' file data. */
  /** an ELF dump cut short (makedumpfile -E, cyclodump -E): e_flags bit 0 */
  get incomplete(): boolean {
    return (this.info.eFlags & ELF_FLAG_INCOMPLETE) !== 0;
  }

  holds(pfn: number): 'stored' | 'excluded' | 'lost' {
    return this.fileOffset(pfn * this.pageSize) >= 0 ? 'stored' : 'excluded';
  }

  read(pa: number, buf: Uint8Array, off: number, len: number): boolean {
    if (!this.isCovered(pa, len)) return false;
    const m = this.map;
    let p = pa;
    let o = off;
    const end = pa + len;
    let i = m.find(p);
    while (p < end) {
      if (i >= m.starts.length || m.starts[i] >= end) {
        buf.fill(0, o, o + (end - p));
        break;
      }
      if (m.starts[i] > p) {
        const gap = m.starts[i] - p;
        buf.fill(0, o, o + gap);
        o += gap;
        p += gap;
      }
      const n = Math.min(end, m.ends[i]) - p;
      const got = preadFull(this.fd, buf, o, n, m.offsets[i] + (p - m.starts[i]));
      if (got < n) {
        throw new DumpError('read-error',
          `read error in ${this.info.path} at file offset ${m.offsets[i] + (p - m.starts[i])}: file ends early`);
      }
      o += n;
      p += n;
      i++;
    }
    return true;
  }

  private isCovered(pa: number, len: number): boolean {
    const end = pa + len;
    for (const r of this.covered) {
      if (r.start >= end) break;
      if (r.end > pa) return true;
    }
    return false;
  }
}

/**
 * PAGESIZE of a VMCOREINFO note, when it is one of the page sizes kernels have: pfns,
 * bitmaps and the kdump block size follow it. Anything else is left for the kernel
 * model to reject with the note's own words.
 */
function notePageSize(text: string | undefined): number | undefined {
  const m = text === undefined ? null : /^PAGESIZE=(\d+)$/m.exec(text);
  const n = m ? Number(m[1]) : NaN;
  return n >= 4096 && n <= 65536 && (n & (n - 1)) === 0 ? n : undefined;
}

/** A header field no vmcore can have (an offset beyond 2^53) is bad input, said in one line. */
function decodeOr<T>(decode: () => T, path: string, what: string): T {
  try {
    return decode();
  } catch (e) {
    throw new DumpError('bad-elf', `${path}: ${what}: ${(e as Error).message}`);
  }
}

type Elf64EhdrValue = ReturnType<typeof Elf64Ehdr.decode>;

/** The ELF header, checked: ELF64, little-endian, a machine cyclodump knows. */
function readElfHeader(fd: number, path: string): { ehdr: Buffer; eh: Elf64EhdrValue; arch: Architecture } {
  const ehdr = Buffer.alloc(64);
  const got = preadFull(fd, ehdr, 0, 64, 0);
  if (got < 4 || !ehdr.subarray(0, 4).equals(ELF_MAGIC)) {
    throw new DumpError('not-elf', `${path} is not an ELF file (no ELF magic)`);
  }
  if (ehdr[4] === ELFCLASS32) {
    throw new DumpError('unsupported-class', `${path} is a 32-bit ELF file; cyclodump supports ${SUPPORTED_ARCHITECTURES} (ELF64) vmcores only`);
  }
  if (ehdr[4] !== ELFCLASS64) {
    throw new DumpError('bad-elf', `${path}: unknown ELF class ${ehdr[4]}`);
  }
  if (got < 64) throw new DumpError('truncated', `${path} is truncated: ELF header needs 64 bytes, file has ${got}`);
  if (ehdr[5] !== ELFDATA2LSB) {
    throw new DumpError('unsupported-arch', `${path} is a big-endian ELF file; cyclodump supports ${SUPPORTED_ARCHITECTURES} vmcores only`);
  }
  const eh = decodeOr(() => Elf64Ehdr.decode(ehdr), path, 'ELF header');
  const arch = architectureOfMachine(eh.e_machine);
  if (!arch) {
    const name = MACHINE_NAMES[eh.e_machine] ?? `e_machine ${eh.e_machine}`;
    throw new DumpError('unsupported-arch', `${path}: unsupported architecture ${name}; cyclodump supports ${SUPPORTED_ARCHITECTURES} only`);
  }
  return { ehdr, eh, arch };
}

/** The program header table as stored, checked against the file's size. */
function readProgramHeaders(fd: number, path: string, eh: Elf64EhdrValue, fileSize: number): { ph: Buffer; phnum: number } {
  let phnum = eh.e_phnum;
  if (phnum === PN_XNUM) {
    // extended numbering: the real count is section 0's sh_info
    if (eh.e_shoff === 0 || eh.e_shoff + 64 > fileSize) {
      throw new DumpError('bad-elf', `${path}: e_phnum is PN_XNUM but there is no section header to hold the count`);
    }
    const sh = Buffer.alloc(64);
    preadFull(fd, sh, 0, 64, eh.e_shoff);
    phnum = decodeOr(() => Elf64Shdr.decode(sh), path, 'section header 0').sh_info;
  }
  if (phnum === 0) throw new DumpError('no-load', `${path}: ELF file has no program headers`);
  if (phnum > MAX_PHDRS) throw new DumpError('bad-elf', `${path}: absurd program header count ${phnum}`);
  if (eh.e_phentsize !== Elf64Phdr.size) {
    throw new DumpError('bad-elf', `${path}: program header size ${eh.e_phentsize}, expected ${Elf64Phdr.size}`);
  }
  // QEMU 7.2 puts its program headers at e_phoff 192 behind section headers; honour e_phoff
  // (makedumpfile 1.7.2 always reads at 64 and fails on such files).
  const phoff = eh.e_phoff;
  const phBytes = phnum * Elf64Phdr.size;
  if (phoff + phBytes > fileSize) {
    throw new DumpError('truncated', `${path} is truncated: program headers end at ${phoff + phBytes}, file has ${fileSize} bytes`);
  }
  const ph = Buffer.alloc(phBytes);
  preadFull(fd, ph, 0, phBytes, phoff);
  return { ph, phnum };
}

type Segments = Pick<ElfVmcoreInfo, 'loads' | 'loadPhdrs' | 'notePhdr' | 'noteOffset' | 'noteSize'>;

/** The PT_LOADs (checked) and the PT_NOTE of the program headers. */
function segmentsOf(ph: Buffer, phnum: number, path: string, fileSize: number): Segments {
  const loads: LoadSegment[] = [];
  const loadPhdrs: Elf64PhdrValue[] = [];
  let notePhdr: Elf64PhdrValue | undefined;
  let noteOffset = -1;
  let noteSize = 0;
  for (let i = 0; i < phnum; i++) {
    const p = decodeOr(() => Elf64Phdr.decode(ph, i * Elf64Phdr.size), path, `program header ${i}`);
    if (p.p_type === PT_NOTE) {
      noteOffset = p.p_offset;
      noteSize = p.p_filesz;
      notePhdr ??= p;
    } else if (p.p_type === PT_LOAD) {
      loadPhdrs.push(p);
      if (p.p_filesz > p.p_memsz) {
        throw new DumpError('bad-elf', `${path}: PT_LOAD ${loads.length} has p_filesz ${p.p_filesz} > p_memsz ${p.p_memsz}`);
      }
      if (p.p_offset + p.p_filesz > fileSize) {
        throw new DumpError('truncated',
          `${path} is truncated: PT_LOAD ${loads.length} (physical 0x${p.p_paddr.toString(16)}) needs file bytes up to ${p.p_offset + p.p_filesz}, file has ${fileSize}`);
      }
      if (p.p_paddr + p.p_memsz > 2 ** 52) {
        throw new DumpError('bad-elf', `${path}: PT_LOAD ${loads.length} lies beyond the 52-bit physical address space`);
      }
      loads.push({ paddr: p.p_paddr, memsz: p.p_memsz, filesz: p.p_filesz, fileOffset: p.p_offset, vaddr: p.p_vaddr });
    }
  }
  if (loads.length === 0) throw new DumpError('no-load', `${path}: ELF file has no PT_LOAD segments (no memory in it)`);
  if (noteOffset < 0) throw new DumpError('no-note', `${path}: ELF file has no PT_NOTE segment`);
  return { loads, loadPhdrs, notePhdr: notePhdr!, noteOffset, noteSize };
}

/** The PT_NOTE's bytes, its notes and the VMCOREINFO among them. */
function readNotes(fd: number, path: string, noteOffset: number, noteSize: number, fileSize: number):
  Pick<ElfVmcoreInfo, 'notes' | 'noteBytes' | 'vmcoreinfo'> {
  if (noteOffset + noteSize > fileSize) {
    throw new DumpError('truncated', `${path} is truncated: PT_NOTE ends at ${noteOffset + noteSize}, file has ${fileSize} bytes`);
  }
  if (noteSize > 64 << 20) throw new DumpError('bad-elf', `${path}: PT_NOTE of ${noteSize} bytes is implausible`);
  const noteBytes = Buffer.alloc(noteSize);
  preadFull(fd, noteBytes, 0, noteSize, noteOffset);
  const notes = parseNotes(noteBytes);
  const vi = findVmcoreinfoNote(notes);
  if (vi && vi.descOffset + vi.descSize > noteSize) {
    throw new DumpError('bad-note', `${path}: VMCOREINFO note runs past the end of the PT_NOTE segment`);
  }
  const found = vmcoreinfoNoteText(notes, noteBytes, path);
  const vmcoreinfo = found && { descOffset: found.note.descOffset, size: found.note.descSize, text: found.text };
  return { notes, noteBytes, vmcoreinfo };
}

function readElfVmcoreInfo(fd: number, path: string): ElfVmcoreInfo {
  const fileSize = fs.fstatSync(fd).size;
  const { ehdr, eh, arch } = readElfHeader(fd, path);
  const { ph, phnum } = readProgramHeaders(fd, path, eh, fileSize);
  const seg = segmentsOf(ph, phnum, path, fileSize);
  return {
    path, fileSize, arch, ehdr, eFlags: eh.e_flags, ...seg, ...readNotes(fd, path, seg.noteOffset, seg.noteSize, fileSize),
  };
}

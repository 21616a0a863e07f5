// -E: an ELF dump file. The input's headers are copied; each input PT_LOAD is split where
// a run of at least 256 excluded pages lets it be left out (shorter runs are written with
// their contents), and segment data is copied from the input unchanged.
// Spec: elf-output.md §2 (makedumpfile write_elf_header, get_loads_dumpfile_cyclic,
// write_elf_pages_cyclic, write_elf_load_segment).
import { Elf64Ehdr, Elf64Phdr, Elf64PhdrValue, Elf64Shdr, PN_XNUM, PT_LOAD, PT_NULL } from '../format/elf';
import type { DumpSink } from '../format/sink';
import { DumpError } from '../util/errors';
import { checkInterrupted } from '../util/interrupt';
import { preadFull } from '../util/file';
import { ElfVmcore } from '../vmcore/elf-vmcore';
import type { DumpJob } from './prepare';
import { cycleBitmap, cycleBounds, cycleBuffer } from './scan-pass';

/** makedumpfile leaves out runs of excluded pages only from this length on (PFN_EXCLUDED) */
const PFN_EXCLUDED = 256;
/** pfns per block of makedumpfile's bitmap file (4096-byte blocks) */
const PFN_BUFBITMAP = 4096 * 8;
const COPY_CHUNK = 4 << 20;

/** The finished 2nd bitmap, looked up pfn by pfn, one cycle decompressed at a time. */
class DumpableLookup {
  private readonly bm: Uint8Array;
  private cycle = -1;
  private start = 0;
  private end = 0;
  /** whether pfn's cycle is not the one at hand (then `await load(pfn)` first) */
  needsLoad(pfn: number): boolean {
    return pfn < this.job.maxMapnr && (pfn < this.start || pfn >= this.end);
  }
  /** makedumpfile's bitmap-file mode keeps the last block it read; see stale() */
  lastBlock: number;
  private readonly coverage: number;

  constructor(private readonly job: DumpJob, private readonly loadDumpable: (pfn: number) => boolean,
    private readonly zeroTest: (pfn: number) => boolean) {
    this.bm = cycleBuffer(job);
    this.end = -1;
    this.lastBlock = Math.floor(Math.max(0, job.maxMapnr - 1) / PFN_BUFBITMAP);
    // one-cycle mode reads its bitmap file, which covers whole blocks past max_mapnr
    this.coverage = job.plan.mode === 'one-cycle' ? Math.ceil(job.maxMapnr / PFN_BUFBITMAP) * PFN_BUFBITMAP : job.maxMapnr;
  }

  async load(pfn: number): Promise<void> {
    const c = Math.floor(pfn / this.job.plan.cyclePfns);
    if (c === this.cycle || pfn >= this.job.maxMapnr) return;
    this.bm.fill(0);
    const view = this.bm.subarray(0, Math.ceil((cycleBounds(this.job, c).end - cycleBounds(this.job, c).start) / 8));
    if (!this.job.cache.peek(c, view)) await cycleBitmap(this.job, c, this.bm);
    this.cycle = c;
    this.start = c * this.job.plan.cyclePfns;
    this.end = cycleBounds(this.job, c).end;
  }

  /** Must be preceded by load(pfn) for pfns below max_mapnr. */
  dumpable(pfn: number): boolean {
    if (pfn < this.coverage) {
      this.lastBlock = Math.floor(pfn / PFN_BUFBITMAP);
      if (pfn >= this.job.maxMapnr) return false;
      const i = pfn - this.start;
      return (this.bm[i >> 3] & (1 << (i & 7))) !== 0;
    }
    if (this.job.plan.mode === 'one-cycle') return this.stale(pfn);
    // cyclic mode builds a cycle over these pfns too: PT_LOAD coverage, no struct pages,
    // zero pages out when the level says so
    return this.loadDumpable(pfn) && !this.zeroTest(pfn);
  }

  /**
   * makedumpfile 1.7.2 reads its bitmap file block by block; for a pfn past the file's end
   * the read fails and the block read last answers instead (it prints "Can't read the
   * bitmap"). So PT_LOADs above max_mapnr (the BIOS ROM of a QEMU guest) follow the 2nd
   * bitmap bits of the last block below.
   */
  private stale(pfn: number): boolean {
    const src = this.lastBlock * PFN_BUFBITMAP + (pfn % PFN_BUFBITMAP);
    if (src >= this.job.maxMapnr) return false;
    const c = Math.floor(src / this.job.plan.cyclePfns);
    if (c !== this.cycle) return this.peekBit(src);
    const i = src - this.start;
    return (this.bm[i >> 3] & (1 << (i & 7))) !== 0;
  }

  private peekBit(pfn: number): boolean {
    const c = Math.floor(pfn / this.job.plan.cyclePfns);
    const cy = cycleBounds(this.job, c);
    const tmp = new Uint8Array(Math.ceil((cy.end - cy.start) / 8));
    if (!this.job.cache.peek(c, tmp)) return false;
    const i = pfn - cy.start;
    return (tmp[i >> 3] & (1 << (i & 7))) !== 0;
  }
}

export interface ElfWriteResult {
  /** pages excluded from the ELF file's data (pfn_elf_excluded) */
  elfExcluded: number;
  loads: number;
  fileEnd: number;
}

interface Segment {
  phdr: Elf64PhdrValue;
  /** where its data starts in the input file */
  srcOffset: number;
}

export class ElfWriter {
  private readonly vm: ElfVmcore;
  private elfExcluded = 0;
  private readonly copyBuf = Buffer.alloc(COPY_CHUNK);
  private readonly lookup: DumpableLookup;
  private readonly zeroPage: Buffer;
  private readonly pageBuf: Buffer;
  /** whether the file holds page data yet (a file without any is deleted on failure) */
  stored = false;
  private copyError: unknown;

  constructor(private readonly job: DumpJob, private readonly sink: DumpSink) {
    if (!(job.vm instanceof ElfVmcore)) throw new DumpError('elf-from-kdump', 'ELF output needs an ELF vmcore as input');
    this.vm = job.vm;
    const ps = job.pageSize;
    this.zeroPage = Buffer.alloc(ps);
    this.pageBuf = Buffer.alloc(ps);
    const excludeZero = (job.dumpLevel & 1) !== 0;
    this.lookup = new DumpableLookup(job,
      (pfn) => this.loadCovers(pfn),
      (pfn) => excludeZero && this.vm.read(pfn * ps, this.pageBuf, 0, ps) && this.pageBuf.equals(this.zeroPage));
  }

  /** initially dumpable by the PT_LOADs alone (a page start in file data, not a nodata tail) */
  private loadCovers(pfn: number): boolean {
    const ps = this.job.pageSize;
    let inRange = false;
    for (const l of this.vm.loads) {
      const first = Math.floor(l.paddr / ps);
      const last = Math.floor((l.paddr + l.memsz) / ps);
      if (pfn >= first && pfn < last) inRange = true;
      if (pfn >= Math.floor((l.paddr + l.filesz) / ps) && pfn < Math.ceil((l.paddr + l.memsz) / ps)) return false;
    }
    return inRange;
  }

  /** Walks every input PT_LOAD the way makedumpfile splits it; emit is called per output PT_LOAD. */
  private async walk(emit: (seg: Segment) => Promise<void>): Promise<void> {
    const ps = this.job.pageSize;
    this.elfExcluded = 0;
    for (const load of this.vm.info.loadPhdrs) {
      const paddr0 = load.p_paddr;
      let pfnStart = Math.floor(paddr0 / ps);
      let pfnEnd = Math.floor((paddr0 + load.p_memsz) / ps);
      const fracHead = ps - (paddr0 % ps);
      const fracTail = (paddr0 + load.p_memsz) % ps;
      let memsz = 0;
      let filesz = 0;
      if (fracHead && fracHead !== ps) {
        memsz = fracHead;
        filesz = fracHead;
        pfnStart++;
      }
      if (fracTail) pfnEnd++;
      let numExcluded = 0;
      const seg: Elf64PhdrValue = { ...load };
      for (let pfn = pfnStart; pfn < pfnEnd; pfn++) {
        if (this.lookup.needsLoad(pfn)) await this.lookup.load(pfn);
        const size = pfn === pfnEnd - 1 && fracTail ? fracTail : ps;
        if (!this.lookup.dumpable(pfn)) {
          numExcluded++;
          memsz += size;
          continue;
        }
        if (numExcluded === 0) {
          memsz += size;
          filesz += size;
          continue;
        }
        if (numExcluded < PFN_EXCLUDED) {
          memsz += size;
          filesz += ps * numExcluded + size;
          numExcluded = 0;
          continue;
        }
        this.elfExcluded += numExcluded;
        await emit({ phdr: { ...seg, p_memsz: memsz, p_filesz: filesz }, srcOffset: load.p_offset });
        seg.p_paddr += memsz;
        seg.p_vaddr = BigInt.asUintN(64, seg.p_vaddr + BigInt(memsz));
        numExcluded = 0;
        // makedumpfile starts the new segment with a whole page, even at a partial last page
        memsz = ps;
        filesz = ps;
      }
      this.elfExcluded += numExcluded;
      await emit({ phdr: { ...seg, p_memsz: memsz, p_filesz: filesz }, srcOffset: -1 - load.p_offset });
    }
  }

  async write(): Promise<ElfWriteResult> {
    const job = this.job;
    const t0 = Date.now();
    // pass 1: count the output PT_LOADs (the program headers precede the data)
    let loads = 0;
    let pages = 0;
    await this.walk(async ({ phdr }) => {
      loads++;
      pages += Math.ceil(phdr.p_filesz / job.pageSize);
    });
    job.progress.setWriteTotal(pages);
    const phnum = loads + 1;
    const xnum = phnum >= PN_XNUM;
    let noteOff = Elf64Ehdr.size + Elf64Phdr.size * phnum;
    const shoff = noteOff;
    if (xnum) noteOff += Elf64Shdr.size;
    const noteSize = this.vm.info.notePhdr.p_filesz;
    let dataOff = noteOff + noteSize;

    // ELF header: the input's, with the program header count (and extended numbering)
    const ehdr = Buffer.from(this.vm.info.ehdr);
    Elf64Ehdr.encode({
      e_phoff: Elf64Ehdr.size, e_phnum: xnum ? PN_XNUM : phnum,
      ...(xnum ? { e_shoff: shoff, e_shentsize: Elf64Shdr.size, e_shnum: 1, e_shstrndx: 0 } : {}),
    }, ehdr);
    // the header area is written as zeros first, as makedumpfile reserves it
    this.sink.write(Buffer.alloc(noteOff - Elf64Ehdr.size), Elf64Ehdr.size);
    if (xnum) {
      this.sink.write(Elf64Shdr.encode({
        sh_name: 0, sh_type: 0, sh_flags: 0n, sh_addr: 0n, sh_offset: 0, sh_size: 1, sh_link: 0, sh_info: phnum,
        sh_addralign: 0n, sh_entsize: 0n,
      }), shoff);
    }
    this.sink.write(Elf64Phdr.encode({ ...this.vm.info.notePhdr, p_offset: noteOff }), Elf64Ehdr.size);
    this.sink.write(ehdr, 0);
    this.sink.write(this.vm.noteBytes.subarray(0, noteSize), noteOff);

    // pass 2: program headers and segment data
    let phIndex = 1;
    const phBuf = Buffer.alloc(Elf64Phdr.size * 1024);
    let phFill = 0;
    let phStart = Elf64Ehdr.size + Elf64Phdr.size;
    const flushPh = (): void => {
      if (phFill === 0) return;
      this.sink.write(phBuf.subarray(0, phFill), phStart);
      phStart += phFill;
      phFill = 0;
    };
    // a segment whose data the disk could not take: its header is rewritten to cover only
    // the bytes that reached the file (a header must never promise data that is not there)
    let cut: { at: number; phdr: Elf64PhdrValue } | undefined;
    try {
      await this.walk(async ({ phdr, srcOffset }) => {
        checkInterrupted();
        const last = srcOffset < 0;
        const hint = last ? -1 - srcOffset : srcOffset;
        // a non-final segment without data gets offset 0; the final one keeps its place
        const p_offset = phdr.p_filesz > 0 || last ? dataOff : 0;
        const entry: Elf64PhdrValue = { ...phdr, p_type: PT_LOAD, p_offset };
        const at = Elf64Ehdr.size + Elf64Phdr.size * phIndex;
        Elf64Phdr.encode(entry, phBuf, phFill);
        phFill += Elf64Phdr.size;
        phIndex++;
        if (phFill === phBuf.length) flushPh();
        if (phdr.p_filesz > 0) {
          const done = this.copySegment(phdr.p_paddr, hint, phdr.p_filesz, dataOff);
          if (done < phdr.p_filesz) {
            const keep = done;
            cut = { at, phdr: keep > 0 ? { ...entry, p_filesz: keep, p_memsz: keep } : { ...entry, p_type: PT_NULL, p_filesz: 0, p_memsz: 0 } };
            if (keep > 0) this.stored = true;
            throw this.copyError!;
          }
          this.stored = true;
          job.progress.written(Math.ceil(phdr.p_filesz / job.pageSize), phdr.p_filesz, phdr.p_filesz);
        }
        dataOff += phdr.p_filesz;
      });
    } finally {
      // on a full disk, the headers already known still go out (the file stays readable)
      try { flushPh(); } catch { /* the original error is reported */ }
      if (cut) {
        try { this.sink.write(Elf64Phdr.encode(cut.phdr), cut.at); } catch { /* the original error is reported */ }
      }
    }
    job.stats.writeMs = Date.now() - t0;
    return { elfExcluded: this.elfExcluded, loads, fileEnd: dataOff };
  }

  /**
   * Copies `size` input bytes of physical address paddr (in the load whose data holds
   * `hint`). Returns the bytes written; when that is less than `size`, copyError says why.
   */
  private copySegment(paddr: number, hint: number, size: number, outOff: number): number {
    let src = -1;
    for (const l of this.vm.loads) {
      if (paddr >= l.paddr && paddr < l.paddr + l.filesz && hint >= l.fileOffset && hint < l.fileOffset + l.filesz) {
        src = l.fileOffset + (paddr - l.paddr);
        break;
      }
    }
    if (src < 0) throw new DumpError('read-error', `can't convert physical address 0x${paddr.toString(16)} to an offset in ${this.vm.path}`);
    let done = 0;
    try {
      while (done < size) {
        const n = Math.min(COPY_CHUNK, size - done);
        const got = preadFull(this.vm.fd, this.copyBuf, 0, n, src + done);
        if (got < n) throw new DumpError('read-error', `read error in ${this.vm.path} at offset ${src + done}: the file ends early`);
        this.sink.write(this.copyBuf.subarray(0, n), outOff + done);
        done += n;
      }
    } catch (e) {
      this.copyError = e;
    }
    return done;
  }
}

/** e_flags bit 0 marks an incomplete ELF dump (makedumpfile, read by crash). */
export function markElfIncomplete(sink: DumpSink): boolean {
  if (!sink.seekable || !sink.readBack) return false;
  const at = Elf64Ehdr.offsets.e_flags;
  const b = Buffer.alloc(4);
  try {
    sink.readBack(b, at);
    b.writeUInt32LE(b.readUInt32LE(0) | 1, 0);
    sink.write(b, at);
    return true;
  } catch {
    return false;
  }
}

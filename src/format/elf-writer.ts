// -E: an ELF dump file. The input's headers are copied; each input PT_LOAD is split where
// a run of at least 256 excluded pages lets it be left out (shorter runs are written with
// their contents), and segment data is copied from the input unchanged. The split points
// are found as the 2nd bitmap streams by, a cycle at a time, for every PT_LOAD at once;
// the file is written once they are all known (its program headers come first).
// Spec: elf-output.md §2 (makedumpfile write_elf_header, get_loads_dumpfile_cyclic,
// write_elf_pages_cyclic, write_elf_load_segment).
import { DumpError } from '../util/errors';
import { checkInterrupted } from '../util/interrupt';
import type { CycleBitmap, DumpGeometry, DumpWriter, PageBatchWrite } from './dump-writer';
import { ELF_FLAG_INCOMPLETE, Elf64Ehdr, Elf64Phdr, Elf64PhdrValue, Elf64Shdr, PN_XNUM, PT_LOAD, PT_NULL } from './elf';
import { DumpSink, setHeaderBits } from './sink';

/** makedumpfile leaves out runs of excluded pages only from this length on (PFN_EXCLUDED) */
const PFN_EXCLUDED = 256;
/** pfns per block of makedumpfile's bitmap file (4096-byte blocks) */
const PFN_BUFBITMAP = 4096 * 8;
const COPY_CHUNK = 4 << 20;
/** program headers of written segments are written at least this often (bytes of data) */
const PH_FLUSH_BYTES = 8 << 20;

/** The ELF vmcore whose headers and data the file copies. */
export interface ElfSource {
  path: string;
  /** the ELF header, the PT_NOTE header and the PT_LOAD headers, as stored */
  ehdr: Buffer;
  notePhdr: Elf64PhdrValue;
  loadPhdrs: readonly Elf64PhdrValue[];
  noteBytes: Buffer;
  /** its PT_LOADs as read: physical start and sizes, and where their data is in the file */
  loads: readonly { paddr: number; memsz: number; filesz: number; fileOffset: number }[];
  /** reads physical memory (bytes without file data read as zero); false when no PT_LOAD covers the range */
  read(pa: number, buf: Uint8Array, off: number, len: number): boolean;
  /** reads file bytes at `pos`; returns how many there were */
  readFile(buf: Uint8Array, len: number, pos: number): number;
}

export interface ElfFileValues {
  pageSize: number;
  maxMapnr: number;
  /** makedumpfile's bitmap mode: what pfns past max_mapnr look like (beyondMaxMapnr) */
  mode: 'cyclic' | 'one-cycle';
  /** dump level bit 1: all-zero pages are left out (past max_mapnr, tested here) */
  excludeZero: boolean;
}

interface Segment {
  phdr: Elf64PhdrValue;
  /** the input PT_LOAD's p_offset, to find its data; last: the load's final segment */
  loadOffset: number;
  last: boolean;
}

/** makedumpfile's walk over one input PT_LOAD, taken a cycle of the 2nd bitmap at a time. */
interface LoadWalk {
  pfnStart: number;
  pfnEnd: number;
  /** bytes of the partial last page, 0 when the load ends on a page boundary */
  fracTail: number;
  /** the next pfn to take */
  next: number;
  numExcluded: number;
  memsz: number;
  filesz: number;
  /** the segment being built: its start address */
  seg: Elf64PhdrValue;
  loadOffset: number;
  segments: Segment[];
  /** one-cycle mode: the bitmap-file block read last when the walk passes max_mapnr (see stale()) */
  lastBlock: number;
}

export class ElfWriter implements DumpWriter {
  readonly pageRanges: readonly { start: number; end: number }[] = [];
  readonly failure: unknown = undefined;
  /** pages excluded from the file's data so far (pfn_elf_excluded) */
  private excluded = 0;
  private finished = false;
  /** whether the file holds page data yet (a file without any is deleted on failure) */
  stored = false;
  private readonly walks: LoadWalk[];
  /** one-cycle mode: the 2nd-bitmap blocks stale() looks at, kept as the bitmap streams by */
  private readonly keptBlocks = new Map<number, Uint8Array>();
  /** one-cycle mode reads its bitmap file, which covers whole blocks past max_mapnr */
  private readonly coverage: number;
  private progress?: DumpGeometry['progress'];
  private readonly copyBuf = Buffer.alloc(COPY_CHUNK);
  private copyError: unknown;

  constructor(private readonly sink: DumpSink, private readonly src: ElfSource, private readonly v: ElfFileValues) {
    this.coverage = v.mode === 'one-cycle' ? Math.ceil(v.maxMapnr / PFN_BUFBITMAP) * PFN_BUFBITMAP : v.maxMapnr;
    this.walks = src.loadPhdrs.map((load) => this.startWalk(load));
    this.assignLastBlocks();
  }

  /** A load's walk as makedumpfile starts it: a partial first page is its own piece. */
  private startWalk(load: Elf64PhdrValue): LoadWalk {
    const ps = this.v.pageSize;
    let pfnStart = Math.floor(load.p_paddr / ps);
    let pfnEnd = Math.floor((load.p_paddr + load.p_memsz) / ps);
    const fracHead = ps - (load.p_paddr % ps);
    const fracTail = (load.p_paddr + load.p_memsz) % ps;
    let memsz = 0;
    let filesz = 0;
    if (fracHead && fracHead !== ps) {
      memsz = fracHead;
      filesz = fracHead;
      pfnStart++;
    }
    if (fracTail) pfnEnd++;
    return {
      pfnStart, pfnEnd, fracTail, next: pfnStart, numExcluded: 0, memsz, filesz, seg: { ...load },
      loadOffset: load.p_offset, segments: [], lastBlock: 0,
    };
  }

  /**
   * makedumpfile 1.7.2 reads its bitmap file block by block; for a pfn past the file's end
   * the read fails and the block read last answers instead (it prints "Can't read the
   * bitmap"). So PT_LOADs above max_mapnr (the BIOS ROM of a QEMU guest) follow the 2nd
   * bitmap bits of the last block below: the one of the last pfn under the file's end
   * that the walk (loads in input order) looked at before.
   */
  private assignLastBlocks(): void {
    let last = Math.floor(Math.max(0, this.v.maxMapnr - 1) / PFN_BUFBITMAP);
    for (const w of this.walks) {
      if (w.pfnStart < this.coverage && w.pfnStart < w.pfnEnd) {
        last = Math.floor((Math.min(w.pfnEnd, this.coverage) - 1) / PFN_BUFBITMAP);
      }
      w.lastBlock = last;
      if (this.v.mode === 'one-cycle' && w.pfnEnd > this.coverage) {
        this.keptBlocks.set(last, new Uint8Array(PFN_BUFBITMAP / 8));
      }
    }
  }

  /** pages excluded from the file's data (pfn_elf_excluded), once the file is complete */
  get elfExcluded(): number | undefined {
    return this.finished ? this.excluded : undefined;
  }

  begin(g: DumpGeometry): void {
    this.progress = g.progress;
  }

  bitmap(c: CycleBitmap): void {
    for (const w of this.walks) {
      const to = Math.min(w.pfnEnd, c.end);
      if (w.next < to) this.walkBits(w, c, to);
    }
    for (const [block, kept] of this.keptBlocks) {
      const from = Math.max(block * PFN_BUFBITMAP, c.start);
      const to = Math.min((block + 1) * PFN_BUFBITMAP, c.end);
      for (let pfn = from; pfn < to; pfn++) {
        const i = pfn - c.start;
        if (c.bits[i >> 3] & (1 << (i & 7))) kept[(pfn % PFN_BUFBITMAP) >> 3] |= 1 << (pfn & 7);
      }
    }
  }

  /** Takes pfns [w.next, to) of cycle c: whole bytes of kept or excluded pages at once. */
  private walkBits(w: LoadWalk, c: CycleBitmap, to: number): void {
    const ps = this.v.pageSize;
    const tailPfn = w.fracTail ? w.pfnEnd - 1 : -1;
    let pfn = w.next;
    while (pfn < to) {
      const i = pfn - c.start;
      if ((i & 7) === 0 && pfn + 8 <= to && (tailPfn < pfn || tailPfn >= pfn + 8)) {
        const byte = c.bits[i >> 3];
        if (byte === 0) {
          w.numExcluded += 8;
          w.memsz += 8 * ps;
          pfn += 8;
          continue;
        }
        if (byte === 0xff && w.numExcluded === 0) {
          w.memsz += 8 * ps;
          w.filesz += 8 * ps;
          pfn += 8;
          continue;
        }
      }
      this.step(w, pfn, (c.bits[i >> 3] & (1 << (i & 7))) !== 0);
      pfn++;
    }
    w.next = to;
  }

  /** One pfn of makedumpfile's walk: a run of PFN_EXCLUDED excluded pages or more ends a segment. */
  private step(w: LoadWalk, pfn: number, dumpable: boolean): void {
    const ps = this.v.pageSize;
    const size = pfn === w.pfnEnd - 1 && w.fracTail ? w.fracTail : ps;
    if (!dumpable) {
      w.numExcluded++;
      w.memsz += size;
      return;
    }
    if (w.numExcluded === 0) {
      w.memsz += size;
      w.filesz += size;
      return;
    }
    if (w.numExcluded < PFN_EXCLUDED) {
      w.memsz += size;
      w.filesz += ps * w.numExcluded + size;
      w.numExcluded = 0;
      return;
    }
    this.excluded += w.numExcluded;
    w.segments.push({ phdr: { ...w.seg, p_memsz: w.memsz, p_filesz: w.filesz }, loadOffset: w.loadOffset, last: false });
    w.seg.p_paddr += w.memsz;
    w.seg.p_vaddr = BigInt.asUintN(64, w.seg.p_vaddr + BigInt(w.memsz));
    w.numExcluded = 0;
    // makedumpfile starts the new segment with a whole page, even at a partial last page
    w.memsz = ps;
    w.filesz = ps;
  }

  /** The pfns of every load at and past max_mapnr, where the bitmap does not reach; each load's last segment. */
  private endWalks(): Segment[] {
    const all: Segment[] = [];
    for (const w of this.walks) {
      for (let pfn = Math.max(w.next, this.v.maxMapnr); pfn < w.pfnEnd; pfn++) this.step(w, pfn, this.beyondMaxMapnr(w, pfn));
      w.next = w.pfnEnd;
      this.excluded += w.numExcluded;
      w.segments.push({ phdr: { ...w.seg, p_memsz: w.memsz, p_filesz: w.filesz }, loadOffset: w.loadOffset, last: true });
      all.push(...w.segments);
    }
    return all;
  }

  /** Whether a pfn at or past max_mapnr is dumpable, as makedumpfile decides it. */
  private beyondMaxMapnr(w: LoadWalk, pfn: number): boolean {
    if (pfn < this.coverage) return false;
    if (this.v.mode === 'one-cycle') {
      const src = w.lastBlock * PFN_BUFBITMAP + (pfn % PFN_BUFBITMAP);
      if (src >= this.v.maxMapnr) return false;
      const kept = this.keptBlocks.get(w.lastBlock)!;
      return (kept[(src % PFN_BUFBITMAP) >> 3] & (1 << (src & 7))) !== 0;
    }
    // cyclic mode builds a cycle over these pfns too: PT_LOAD coverage, no struct pages,
    // zero pages out when the level says so
    return this.loadCovers(pfn) && !(this.v.excludeZero && this.isZeroPage(pfn));
  }

  /** initially dumpable by the PT_LOADs alone (a page start in file data, not a nodata tail) */
  private loadCovers(pfn: number): boolean {
    const ps = this.v.pageSize;
    let inRange = false;
    for (const l of this.src.loads) {
      const first = Math.floor(l.paddr / ps);
      const last = Math.floor((l.paddr + l.memsz) / ps);
      if (pfn >= first && pfn < last) inRange = true;
      if (pfn >= Math.floor((l.paddr + l.filesz) / ps) && pfn < Math.ceil((l.paddr + l.memsz) / ps)) return false;
    }
    return inRange;
  }

  private isZeroPage(pfn: number): boolean {
    const ps = this.v.pageSize;
    const page = Buffer.alloc(ps);
    return this.src.read(pfn * ps, page, 0, ps) && page.equals(Buffer.alloc(ps));
  }

  pages(_b: PageBatchWrite): Promise<void> {
    return Promise.reject(new Error('the ELF writer copies the input: it takes no page batches'));
  }

  /**
   * Before pass 1: the input's ELF header with no program header yet, flagged incomplete
   * (e_flags bit 0): a file killed before its data says what it is.
   */
  start(): void {
    const ehdr = Buffer.from(this.src.ehdr);
    Elf64Ehdr.encode({ e_phoff: Elf64Ehdr.size, e_phnum: 0, e_shoff: 0, e_shnum: 0, e_shstrndx: 0 }, ehdr);
    this.sink.write(flagged(ehdr), 0);
  }

  async finish(): Promise<void> {
    const segments = this.endWalks();
    const ps = this.v.pageSize;
    this.progress?.total(segments.reduce((n, s) => n + Math.ceil(s.phdr.p_filesz / ps), 0));
    const { dataOff, ehdr } = this.writeHeaders(segments.length + 1);
    this.writeSegments(segments, dataOff);
    // the last write: once the data is on the device, the header as makedumpfile writes it
    this.sink.sync?.();
    this.sink.write(ehdr, 0);
    this.finished = true;
  }

  /**
   * ELF header (flagged incomplete), the section header of extended numbering, the note
   * header and notes; returns where data starts and the header the finished file gets.
   */
  private writeHeaders(phnum: number): { dataOff: number; ehdr: Buffer } {
    const xnum = phnum >= PN_XNUM;
    let noteOff = Elf64Ehdr.size + Elf64Phdr.size * phnum;
    const shoff = noteOff;
    if (xnum) noteOff += Elf64Shdr.size;
    const noteSize = this.src.notePhdr.p_filesz;
    // the input's ELF header, with the program header count (and extended numbering)
    const ehdr = Buffer.from(this.src.ehdr);
    Elf64Ehdr.encode({
      e_phoff: Elf64Ehdr.size, e_phnum: xnum ? PN_XNUM : phnum,
      ...(xnum ? { e_shoff: shoff, e_shentsize: Elf64Shdr.size, e_shnum: 1, e_shstrndx: 0 } : {}),
    }, ehdr);
    // the header area is written as zeros first, as makedumpfile reserves it: program
    // headers not written yet read as PT_NULL
    this.sink.write(Buffer.alloc(noteOff - Elf64Ehdr.size), Elf64Ehdr.size);
    if (xnum) {
      this.sink.write(Elf64Shdr.encode({
        sh_name: 0, sh_type: 0, sh_flags: 0n, sh_addr: 0n, sh_offset: 0, sh_size: 1, sh_link: 0, sh_info: phnum,
        sh_addralign: 0n, sh_entsize: 0n,
      }), shoff);
    }
    this.sink.write(Elf64Phdr.encode({ ...this.src.notePhdr, p_offset: noteOff }), Elf64Ehdr.size);
    this.sink.write(flagged(ehdr), 0);
    this.sink.write(this.src.noteBytes.subarray(0, noteSize), noteOff);
    return { dataOff: noteOff + noteSize, ehdr };
  }

  /**
   * Segment data, segment by segment, and the program headers of segments whose data is
   * written (a thousand at a time): a header never points at data that is not in the file.
   */
  private writeSegments(segments: Segment[], dataStart: number): void {
    const ps = this.v.pageSize;
    let dataOff = dataStart;
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
    let flushedAt = dataStart;
    try {
      for (const { phdr, loadOffset, last } of segments) {
        checkInterrupted();
        // a non-final segment without data gets offset 0; the final one keeps its place
        const entry: Elf64PhdrValue = { ...phdr, p_type: PT_LOAD, p_offset: phdr.p_filesz > 0 || last ? dataOff : 0 };
        const at = Elf64Ehdr.size + Elf64Phdr.size * phIndex;
        if (phdr.p_filesz > 0) {
          const done = this.copySegment(phdr.p_paddr, loadOffset, phdr.p_filesz, dataOff);
          if (done < phdr.p_filesz) {
            cut = { at, phdr: done > 0 ? { ...entry, p_filesz: done, p_memsz: done } : { ...entry, p_type: PT_NULL, p_filesz: 0, p_memsz: 0 } };
            if (done > 0) this.stored = true;
            throw this.copyError!;
          }
          this.stored = true;
          this.progress?.written(Math.ceil(phdr.p_filesz / ps), phdr.p_filesz, phdr.p_filesz);
        }
        Elf64Phdr.encode(entry, phBuf, phFill);
        phFill += Elf64Phdr.size;
        phIndex++;
        dataOff += phdr.p_filesz;
        // the headers go out every PH_FLUSH_BYTES of data too: a run killed half way leaves
        // a file whose written segments are described
        if (phFill === phBuf.length || dataOff - flushedAt >= PH_FLUSH_BYTES) {
          flushPh();
          flushedAt = dataOff;
        }
      }
    } finally {
      // on a full disk, the headers already known still go out (the file stays readable)
      try { flushPh(); } catch { /* the original error is reported */ }
      if (cut) {
        try { this.sink.write(Elf64Phdr.encode(cut.phdr), cut.at); } catch { /* the original error is reported */ }
      }
    }
  }

  /**
   * Copies `size` input bytes of physical address paddr (in the load whose data holds
   * `hint`). Returns the bytes written; when that is less than `size`, copyError says why.
   */
  private copySegment(paddr: number, hint: number, size: number, outOff: number): number {
    let src = -1;
    for (const l of this.src.loads) {
      if (paddr >= l.paddr && paddr < l.paddr + l.filesz && hint >= l.fileOffset && hint < l.fileOffset + l.filesz) {
        src = l.fileOffset + (paddr - l.paddr);
        break;
      }
    }
    if (src < 0) throw new DumpError('read-error', `can't convert physical address 0x${paddr.toString(16)} to an offset in ${this.src.path}`);
    let done = 0;
    try {
      while (done < size) {
        const n = Math.min(COPY_CHUNK, size - done);
        const got = this.src.readFile(this.copyBuf, n, src + done);
        if (got < n) throw new DumpError('read-error', `read error in ${this.src.path} at offset ${src + done}: the file ends early`);
        this.sink.write(this.copyBuf.subarray(0, n), outOff + done);
        done += n;
      }
    } catch (e) {
      this.copyError = e;
    }
    return done;
  }

  async settle(): Promise<void> {
    // every write is synchronous: nothing is in flight
  }

  markIncomplete(): number {
    return setHeaderBits(this.sink, Elf64Ehdr.offsets.e_flags, ELF_FLAG_INCOMPLETE) ? 1 : 0;
  }
}

/** A copy of an ELF header with e_flags bit 0 (incomplete) set. */
function flagged(ehdr: Buffer): Buffer {
  const b = Buffer.from(ehdr);
  b.writeUInt32LE(b.readUInt32LE(Elf64Ehdr.offsets.e_flags) | ELF_FLAG_INCOMPLETE, Elf64Ehdr.offsets.e_flags);
  return b;
}

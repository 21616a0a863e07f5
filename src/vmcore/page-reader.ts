// Page reading, for any input: the dumpable pages of a bitmap slice read in long runs
// (short gaps are read through rather than split into many calls) into one reused buffer,
// no allocation per page; or, where the input holds its pages as they are (an ELF vmcore,
// PhysicalMemory.direct), their offsets in a mapping of the file, for the native page loop
// to take them from without a read.
import type { MappedInput } from '../codec/native-pages';
import { OFFSET_MARK, nativePages } from '../codec/native-pages';
import type { FileMap, PhysicalMemory } from './physical';

/** Gap (in pages) across which two runs of dumpable pages are read with one call. */
const MERGE_GAP = 16;
/** Longest single read. */
export const READ_RUN_PAGES = 1024;

export class PageReader {
  readonly buf: Buffer;
  private readonly words: Uint32Array;
  private readonly zero: Buffer;
  /** a page of zeros (a staging buffer that holds nothing) */
  get zeroPage(): Buffer {
    return this.zero;
  }

  /**
   * Set when the native page loop can take pages straight from a mapping of the input
   * (an ELF vmcore, as makedumpfile reads /proc/vmcore): the read copy is saved.
   */
  readonly mapped?: MappedInput;
  /**
   * Set where the input holds its pages as they are and the native loop can read them
   * itself (compressFile, with pread, when the input is not mapped): the file's descriptor.
   */
  readonly fileFd?: number;
  private readonly fileMap?: FileMap;
  /** mapOffsets' position: bit, pages seen */
  private readonly cursor = new Float64Array(2);
  /** the run nextRun found: first bit, bit after the last */
  private readonly run = new Int32Array(2);
  /** per page of the run readRun read: 1 when it could be read */
  private readonly pageOk = new Uint8Array(READ_RUN_PAGES);

  constructor(private readonly mem: PhysicalMemory, readonly pageSize: number, opts: { map?: boolean } = {}) {
    this.buf = Buffer.alloc(READ_RUN_PAGES * pageSize);
    this.words = new Uint32Array(this.buf.buffer, this.buf.byteOffset, this.buf.length >> 2);
    this.zero = Buffer.alloc(pageSize);
    const native = nativePages();
    if (mem.direct && native) {
      if (opts.map) this.mapped = native.mapInput(mem.direct.fd) ?? undefined;
      if (!this.mapped && native.compressFile) this.fileFd = mem.direct.fd;
      this.fileMap = mem.direct.map;
    }
  }

  /**
   * For the mapped input, or one the native loop reads itself (fileFd): the file offset of the page of every set bit of bm[0, nbits)
   * into fileOffsets (-1: unreadable). A page not all in the file (a range ending
   * mid-page, whose tail reads as zero) is read into this.buf instead and marked
   * -2 - its offset there; when that buffer is full, and at the end, onChunk(first,
   * count) hands over pages [first, first + count). Returns the number of pages seen.
   */
  collectMapped(bm: Uint8Array, nbits: number, pfnStart: number, limit: number, fileOffsets: Float64Array,
    onChunk: (first: number, count: number) => void): number {
    const pageSize = this.pageSize;
    const { starts, ends, offsets } = this.fileMap!;
    const staged = this.buf.length / pageSize;
    const native = nativePages()!;
    // the walk over the bitmap is in C (the mapped input implies the addon); it stops only
    // at pages not wholly in the file, which are read here
    const cursor = this.cursor;
    cursor[0] = 0;
    cursor[1] = 0;
    let chunkFirst = 0;
    let fill = 0;
    while (native.mapOffsets(bm, nbits, pfnStart, limit, pageSize, starts, ends, offsets, fileOffsets, cursor) === 1) {
      const i = cursor[0];
      let seen = cursor[1];
      const pa = (pfnStart + i) * pageSize;
      if (fill === staged) {
        onChunk(chunkFirst, seen - chunkFirst);
        chunkFirst = seen;
        fill = 0;
      }
      let ok = true;
      try {
        ok = this.mem.read(pa, this.buf, fill * pageSize, pageSize);
      } catch {
        ok = false;
      }
      fileOffsets[seen++] = ok ? OFFSET_MARK.stagedBase - fill * pageSize : OFFSET_MARK.unreadableInFile;
      if (ok) fill++;
      cursor[0] = i + 1;
      cursor[1] = seen;
    }
    const seen = cursor[1];
    if (seen > chunkFirst) onChunk(chunkFirst, seen - chunkFirst);
    return seen;
  }

  /** All-zero test of the page at buf[off]: a few words settle most pages, candidates go to memcmp. */
  isZero(off: number): boolean {
    const w = off >> 2;
    for (let i = 0; i < 16; i++) if (this.words[w + i] !== 0) return false;
    return this.zero.compare(this.buf, off, off + this.pageSize) === 0;
  }

  /**
   * The next run of dumpable pages from bit i on: run[0] its first bit, run[1] the bit
   * after its last, gaps of fewer than MERGE_GAP pages inside it; false when none is left.
   */
  private nextRun(bm: Uint8Array, nbits: number, i: number, run: Int32Array): boolean {
    while (i < nbits) {
      if ((i & 7) === 0 && bm[i >> 3] === 0) { i += 8; continue; }
      if ((bm[i >> 3] & (1 << (i & 7))) === 0) { i++; continue; }
      let runEnd = i + 1;
      for (let j = i + 1; j < nbits && j - i < READ_RUN_PAGES; j++) {
        if ((bm[j >> 3] & (1 << (j & 7))) !== 0) runEnd = j + 1;
        else if (j - runEnd >= MERGE_GAP) break;
      }
      run[0] = i;
      run[1] = runEnd;
      return true;
    }
    return false;
  }

  /**
   * Reads the run's pages into this.buf at byte `at`. When the run cannot be read in one
   * go, its dumpable pages are read one by one, so that one bad page (lost in a dump being
   * refiltered, not decodable, an I/O error) costs that page only: pageOk[i] says whether
   * page run[0] + i was read.
   */
  private readRun(bm: Uint8Array, pfnStart: number, run: Int32Array, at: number): void {
    const n = run[1] - run[0];
    const ok = this.pageOk;
    try {
      if (this.mem.read((pfnStart + run[0]) * this.pageSize, this.buf, at, n * this.pageSize)) {
        ok.fill(1, 0, n);
        return;
      }
    } catch {
      // page by page below
    }
    for (let i = 0; i < n; i++) {
      const p = run[0] + i;
      ok[i] = 0;
      if ((bm[p >> 3] & (1 << (p & 7))) === 0) continue;
      try {
        ok[i] = this.mem.read((pfnStart + p) * this.pageSize, this.buf, at + i * this.pageSize, this.pageSize) ? 1 : 0;
      } catch {
        // this page only
      }
    }
  }

  /**
   * Reads the pages of every set bit of bm[0, nbits) into this.buf, packed run after run,
   * recording page k's offset in offsets[k] (0xffffffff when it could not be read). Each
   * time the buffer is full, and at the end, onChunk(first, count) hands over pages
   * [first, first + count). Returns the number of pages seen (at most `limit`).
   */
  collect(bm: Uint8Array, nbits: number, pfnStart: number, limit: number, offsets: Uint32Array,
    onChunk: (first: number, count: number) => void): number {
    const pageSize = this.pageSize;
    const cap = this.buf.length / pageSize;
    const run = this.run;
    let seen = 0;
    let chunkFirst = 0;
    let fill = 0;
    for (let i = 0; seen < limit && this.nextRun(bm, nbits, i, run); i = run[1]) {
      const runPages = run[1] - run[0];
      if (fill + runPages > cap) {
        onChunk(chunkFirst, seen - chunkFirst);
        chunkFirst = seen;
        fill = 0;
      }
      this.readRun(bm, pfnStart, run, fill * pageSize);
      for (let p = run[0]; p < run[1] && seen < limit; p++) {
        if ((bm[p >> 3] & (1 << (p & 7))) === 0) continue;
        offsets[seen++] = this.pageOk[p - run[0]] ? (fill + p - run[0]) * pageSize : 0xffffffff;
      }
      fill += runPages;
    }
    if (seen > chunkFirst) onChunk(chunkFirst, seen - chunkFirst);
    return seen;
  }

  /**
   * Calls onPage(bit, off, ok) for every set bit of bm[0, nbits) in order, bit i being pfn
   * pfnStart + i; the page is at this.buf[off] when ok (false: it could not be read).
   * Stops after `limit` pages.
   */
  forEachDumpable(bm: Uint8Array, nbits: number, pfnStart: number, limit: number,
    onPage: (bit: number, off: number, ok: boolean) => void): void {
    const run = this.run;
    let seen = 0;
    for (let i = 0; seen < limit && this.nextRun(bm, nbits, i, run); i = run[1]) {
      this.readRun(bm, pfnStart, run, 0);
      for (let p = run[0]; p < run[1] && seen < limit; p++) {
        if ((bm[p >> 3] & (1 << (p & 7))) === 0) continue;
        onPage(p, (p - run[0]) * this.pageSize, this.pageOk[p - run[0]] === 1);
        seen++;
      }
    }
  }
}

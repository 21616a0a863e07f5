// What pass 2 hands a format writer, as plain values, and what every writer (kdump, its
// --split parts, ELF; each over a file, a flattened stream or nothing) does with them. A
// writer knows its format and its sink, nothing of the run around it: the coordinator
// (src/pipeline/coordinator.ts) decides what it gets and when, counts, shows progress and
// decides what happens on failure. The call order is start (before pass 1), begin, bitmap
// for every cycle in pfn order with the pages of that cycle in between, finish; or, after a
// failure, settle and markIncomplete.
//
// Every header says INCOMPLETE from its first write (kdump status 0x08, ELF e_flags bit 0);
// only finish() clears it, last, once the data is synced. So a run that dies in any way
// (SIGKILL, the OOM killer, a power cut) leaves a file that says what it is.

/** What a writer learns once pass 1 is over. */
export interface DumpGeometry {
  /** pages the dump holds: set bits of the finished 2nd bitmap */
  numDumpable: number;
  /** pfns per cycle: the 2nd bitmap comes a cycle at a time, the 1st is written in the same steps */
  cyclePfns: number;
  /** sets the 1st-bitmap bits (pfns in memory) of the slice that starts at pfn `start` */
  fillMemory(view: Uint8Array, start: number): void;
  /** the input file, for a writer whose sink moves page data from it inside the kernel (DumpSink.copyRuns) */
  inputFd?: number;
  /** for a writer that moves page data itself (ELF): the pages it will write, and as it writes them */
  progress: { total(pages: number): void; written(pages: number, bytesIn: number, bytesOut: number): void };
}

/** One cycle of the finished 2nd bitmap: bit i of `bits` is pfn start + i. */
export interface CycleBitmap {
  index: number;
  start: number;
  end: number;
  bits: Uint8Array;
}

/** Pages read and stored (compressed, raw, or as the shared zero page) by a worker. */
export interface StoredPages {
  count: number;
  /** stored size of each page in pfn order; 0: all zero (the shared page); -1: could not be read ("lost") */
  sizes: Int32Array;
  /** DUMP_DH_COMPRESSED_* flag per page (0: raw or zero) */
  flags: Uint8Array;
  data: ArrayBuffer;
  dataLen: number;
  /**
   * Without a codec, where the writer takes them (DumpWriter.takesRuns): the pages kept are
   * not in data but in the input file, at these [offset, length] ranges, in order
   * (inputRunCount of them; dataLen bytes in all).
   */
  inputRuns?: Float64Array;
  inputRunCount?: number;
}

/** `count` descriptors in neighbouring slots of the table from `slot` (the dump's page number) on. */
export interface SlotRun {
  slot: number;
  count: number;
}

/** A batch of dumpable pages: pfns [pfnStart, pfnEnd), the first of them the dump's page number `index`. */
export interface PageBatchWrite {
  pfnStart: number;
  pfnEnd: number;
  /** dumpable pages below the batch's first page in the whole dump: where its descriptors go, whatever the write order */
  index: number;
  /**
   * When the batch's pages are not neighbours in the dump (pages of other batches lie
   * between them: the default write order, src/pipeline/write-order.ts): their slots, as
   * runs in page order. Absent: one run of all the pages from `index`.
   */
  runs?: readonly SlotRun[];
  pages: StoredPages;
}

/** The dump file's 2nd bitmap offered to pass 1, which keeps each finished cycle there. */
export interface OutputBitmapStore {
  write(buf: Uint8Array, pos: number): void;
  read(buf: Uint8Array, pos: number): void;
  /** file offset of the cycle's first bitmap byte */
  offsetOf(cycle: number): number;
}

export interface DumpWriter {
  /** pfn ranges whose pages come through pages(), no batch across two; none when the writer copies the input itself (ELF) */
  readonly pageRanges: readonly { start: number; end: number }[];
  /** whether page data is in the output yet (an output without any is deleted on failure) */
  readonly stored: boolean;
  /** a write that failed after the call that started it returned: the run stops at it */
  readonly failure: unknown;
  /** ELF: pages the file leaves out (runs of 256 or more), for the report */
  readonly elfExcluded?: number;
  /** Before pass 1: writes what the headers can say yet, flagged incomplete (a file killed in pass 1 says what it is). */
  start?(): void;
  /** whether pages() takes StoredPages.inputRuns (known after begin): batches without a codec may then leave their data in the input */
  readonly takesRuns?: boolean;
  /** Called before pass 1: the place in the output where pass 1 may keep its 2nd bitmap, if any. */
  bitmapStore?(cyclePfns: number): OutputBitmapStore | undefined;
  begin(g: DumpGeometry): void;
  bitmap(c: CycleBitmap): void;
  /** Settles once the batch's data is written: its buffer may then be reused. */
  pages(b: PageBatchWrite): Promise<void>;
  /**
   * Ends the group of descriptors gathered so far: it is written as soon as its pages'
   * data is on the device, without waiting for the next group to fill, and without this
   * call waiting for it. From then on the pages written up to here can be read from the
   * file whenever it is cut.
   */
  checkpoint?(): void;
  /** Writes what is left, waits for every write, syncs, and clears the incomplete flag last: the output is complete. */
  finish(): Promise<void>;
  /** After a failure: waits for the writes in flight; the descriptors of data already written go out. */
  settle(): Promise<void>;
  /**
   * Makes what is written consistent and marks the output incomplete where the format
   * allows it (synchronous: it also runs on a forced exit). Returns the files marked.
   */
  markIncomplete(): number;
}

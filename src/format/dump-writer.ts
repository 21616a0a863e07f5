// What pass 2 hands a format writer, as plain values, and what every writer (kdump, its
// --split parts, ELF; each over a file, a flattened stream or nothing) does with them. A
// writer knows its format and its sink, nothing of the run around it: the coordinator
// (src/pipeline/coordinator.ts) decides what it gets and when, counts, shows progress and
// decides what happens on failure. The call order is begin, bitmap for every cycle in pfn
// order with the pages of that cycle in between, finish; or, after a failure, settle and
// markIncomplete.

/** What a writer learns once pass 1 is over. */
export interface DumpGeometry {
  /** pages the dump holds: set bits of the finished 2nd bitmap */
  numDumpable: number;
  /** pfns per cycle: the 2nd bitmap comes a cycle at a time, the 1st is written in the same steps */
  cyclePfns: number;
  /** sets the 1st-bitmap bits (pfns in memory) of the slice that starts at pfn `start` */
  fillMemory(view: Uint8Array, start: number): void;
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
}

/** A batch of dumpable pages: pfns [pfnStart, pfnEnd), the first of them the dump's page number `index`. */
export interface PageBatchWrite {
  pfnStart: number;
  pfnEnd: number;
  /** dumpable pages below pfnStart in the whole dump: where its descriptors go, whatever the write order */
  index: number;
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
  /** Called before pass 1: the place in the output where pass 1 may keep its 2nd bitmap, if any. */
  bitmapStore?(cyclePfns: number): OutputBitmapStore | undefined;
  begin(g: DumpGeometry): void;
  bitmap(c: CycleBitmap): void;
  /** Settles once the batch's data is written: its buffer may then be reused. */
  pages(b: PageBatchWrite): Promise<void>;
  /** Writes what is left and waits for every write: the output is complete. */
  finish(): Promise<void>;
  /** After a failure: waits for the writes in flight; the descriptors of data already written go out. */
  settle(): Promise<void>;
  /**
   * Makes what is written consistent and marks the output incomplete where the format
   * allows it (synchronous: it also runs on a forced exit). Returns the files marked.
   */
  markIncomplete(): number;
}

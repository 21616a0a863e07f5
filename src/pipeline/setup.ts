// Everything a worker needs to do its part of a dump, as plain data that crosses the
// thread boundary once (piscina workerData), and the per-thread state built from it.
import type { CodecName, PageCodec } from '../codec';
import { createCodec } from '../codec';
import { RepeatCache } from '../codec/repeat-cache';
import { PageScanner, ScanSetup } from '../filter/page-scan';
import { TranslatorDesc, rebuildTranslator } from '../translate';
import { PageReader } from '../vmcore/page-reader';
import { DumpInput, InputKind, openInput as open } from '../vmcore/open';
import { recordPathBytes } from '../util/argv-bytes';

export interface InputDesc {
  kind: InputKind;
  path: string;
  /** the path's bytes where they are not UTF-8 (util/argv-bytes.ts) */
  bytes?: Uint8Array;
}

export interface WorkerSetup {
  input: InputDesc;
  pageSize: number;
  /** the kernel's page tables, as the translator describes itself */
  translator?: TranslatorDesc;
  /** undefined when no struct page is examined at this dump level */
  scan?: ScanSetup;
  codec: CodecName;
  /** dump level bit 1: all-zero pages share one descriptor */
  excludeZero: boolean;
  /** take pages from a mapping of the input where it can be mapped (not with --non-mmap) */
  mapInput?: boolean;
}

/** Per-thread state: the open input, a translator with its own cache, a scanner, a codec. */
export interface WorkerContext {
  setup: WorkerSetup;
  mem: DumpInput;
  scanner?: PageScanner;
  codec?: PageCodec;
  reader: PageReader;
  /**
   * Threads of the native page loop that share each batch, read with pread or through
   * the mapped input (on the coordinator, in place of a pool: prepare.ts); 1 or absent:
   * this thread alone.
   */
  pageThreads?: number;
  close(): void;
}

function withRepeatCache(codec: PageCodec | undefined, pageSize: number): PageCodec | undefined {
  return codec ? new RepeatCache(codec, pageSize) : undefined;
}

export function createWorkerContext(setup: WorkerSetup, mem?: DumpInput): WorkerContext {
  if (setup.input.bytes) recordPathBytes(setup.input.path, setup.input.bytes);
  const own = mem ? undefined : open(setup.input.path, setup.input.kind);
  const m = mem ?? own!;
  let scanner: PageScanner | undefined;
  if (setup.scan && setup.translator) {
    scanner = new PageScanner(setup.scan, rebuildTranslator(m, setup.translator), m.earlierDump?.bitmap1);
  }
  return {
    setup,
    mem: m,
    scanner,
    codec: withRepeatCache(createCodec(setup.codec), setup.pageSize),
    reader: new PageReader(m, setup.pageSize, { map: setup.mapInput ?? false }),
    close: () => own?.close(),
  };
}

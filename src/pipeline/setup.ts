// Everything a worker needs to do its part of a dump, as plain data that crosses the
// thread boundary once (piscina workerData), and the per-thread state built from it.
import type { CodecName, PageCodec } from '../codec';
import { createCodec } from '../codec';
import { PageScanner, ScanSetup } from '../filter/page-scan';
import { X86_64Translator } from '../translate/x86_64';
import { ElfVmcore } from '../vmcore/elf-vmcore';
import type { PhysicalMemory } from '../vmcore/physical';

export interface InputDesc {
  kind: 'elf';
  path: string;
}

export interface WorkerSetup {
  input: InputDesc;
  pageSize: number;
  translator?: { rootPa: number; fiveLevel: boolean; smeMask: bigint };
  /** undefined when no struct page is examined at this dump level */
  scan?: ScanSetup;
  codec: CodecName;
  /** dump level bit 1: all-zero pages share one descriptor */
  excludeZero: boolean;
}

/** Per-thread state: the open input, a translator with its own cache, a scanner, a codec. */
export interface WorkerContext {
  setup: WorkerSetup;
  mem: PhysicalMemory;
  scanner?: PageScanner;
  codec?: PageCodec;
  close(): void;
}

export function openInput(input: InputDesc): PhysicalMemory & { close(): void } {
  return ElfVmcore.open(input.path);
}

export function createWorkerContext(setup: WorkerSetup, mem?: PhysicalMemory): WorkerContext {
  const own = mem ? undefined : openInput(setup.input);
  const m = mem ?? own!;
  let scanner: PageScanner | undefined;
  if (setup.scan && setup.translator) {
    const tr = new X86_64Translator(m, setup.translator.rootPa, setup.translator.fiveLevel, setup.translator.smeMask);
    scanner = new PageScanner(setup.scan, tr);
  }
  return {
    setup,
    mem: m,
    scanner,
    codec: createCodec(setup.codec),
    close: () => own?.close(),
  };
}

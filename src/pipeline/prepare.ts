// Opens the input, builds the kernel model and decides how the run is cut and executed:
// the plan (plain values, fixed for the run) and the threads that will do the work.
import * as os from 'os';
import type { CodecName } from '../codec';
import { DL_EXCLUDE_CACHE, DL_EXCLUDE_CACHE_PRI, DL_EXCLUDE_FREE, DL_EXCLUDE_USER_DATA, DL_EXCLUDE_ZERO } from '../filter/dump-level';
import { ScanSetup, scanNeeded } from '../filter/page-scan';
import { PfnSets, bitmapPfnSets, loadPfnSets, rangePfnSets } from '../filter/pfn-ranges';
import { KernelModel, buildKernelModel } from '../kernel/kernel-model';
import { NEWEST_VERIFIED_KERNEL, NEWEST_VERIFIED_KERNEL_NAME, hasBuddyTest } from '../kernel/page-layout';
import { DumpError, EXIT_WRONG_RELEASE, printable } from '../util/errors';
import type { Messages } from '../util/messages';
import { DumpInput, openInput } from '../vmcore/open';
import { CyclePlan, planCycles } from './cycles';
import { Executor, InlineExecutor, PoolExecutor } from './executor';
import { WorkerContext, WorkerSetup, createWorkerContext } from './setup';

export interface DumpOptions {
  input: string;
  dumpLevel: number;
  codec: CodecName;
  /** --cyclic-buffer KiB */
  cyclicBufferKiB?: number;
  /** --num-threads as given; undefined: the CPUs this process may run on */
  numThreads?: number;
  /** bytes of run-length coded 2nd bitmap kept between the passes */
  bitmapCacheBytes?: number;
  /** MemFree override (tests); /proc/meminfo otherwise */
  freeMemory?: number;
  /** makedumpfile modes that force one cycle with a bitmap file */
  forceOneCycle?: boolean;
  numDumpfiles?: number;
  /** -E: ELF output, where pages filled with zero leave the 2nd bitmap */
  elf?: boolean;
  /** --mem-usage: count only, with zero pages found while building the bitmap (as for ELF) */
  memUsage?: boolean;
  /** --work-dir: the 2nd-bitmap cache spills to a file there instead of rescanning */
  workDir?: string;
  /** -e: leave out the struct pages of excluded memory (header status 0x10) */
  excludeVmemmap?: boolean;
  /** --vtop: print the page-table walk of this kernel virtual address */
  vtop?: bigint;
  /** -i: VMCOREINFO text to use instead of the input's note */
  vmcoreinfoText?: string;
  /** path of that file, for messages */
  vmcoreinfoFile?: string;
  /** --non-mmap: read the input's pages with pread only, never through a mapping */
  noMmap?: boolean;
}

/**
 * What a dump is, decided from the options and the input before pass 1: plain values,
 * fixed for the run, handed to the parts that need them.
 */
export interface DumpPlan {
  /** the input's path, for messages */
  readonly input: string;
  /** the options' level, or more when refiltering a dump written at a higher one */
  readonly dumpLevel: number;
  readonly pageSize: number;
  readonly maxMapnr: number;
  /** worker threads (1: none, the work runs on this thread) */
  readonly threads: number;
  /** how the pfn space is cut (cycles, slices) and how makedumpfile would build its 1st bitmap */
  readonly cycles: CyclePlan;
  readonly numCycles: number;
  /** the bitmaps' starting points: PT_LOAD coverage, or the refiltered dump's bitmaps */
  readonly pfns: PfnSets;
  /** the struct-page scan, when the level reads struct pages */
  readonly scan?: ScanSetup;
  /** what each worker thread opens and builds */
  readonly worker: WorkerSetup;
  /** pass 1 also reads every dumpable page and drops the all-zero ones (-E, --mem-usage with bit 1) */
  readonly zeroScan: boolean;
  /** -e: the struct pages of excluded memory leave the 2nd bitmap once it is known */
  readonly excludeVmemmap: boolean;
  /** memory for the compressed 2nd bitmap between the passes, and --work-dir to spill it to */
  readonly bitmapCacheBytes: number;
  readonly workDir?: string;
}

/** A dump ready for pass 1: its plan and kernel, the open input and the threads that work on it. */
export interface PreparedDump {
  readonly plan: DumpPlan;
  readonly kernel: KernelModel;
  readonly input: DumpInput;
  readonly executor: Executor;
  /** this thread's context: the inline executor's, and for reads of the coordinator */
  readonly local: WorkerContext;
  readonly msgs: Messages;
  /** when the dump started (ms since the epoch), and Node's start-up and CLI loading before it */
  readonly startedAt: number;
  readonly startupMs: number;
}

/** CPUs this process may run on (affinity, cgroup limits), as the default thread count. */
export function usableCpus(): number {
  const n = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, n);
}

/** Below this much memory in the input, starting worker threads costs more than they save. */
export const SMALL_INPUT_BYTES = 256 << 20;
export const MAX_THREADS = 64;
/**
 * A mem_map this small (about 2 GiB of RAM) is scanned on the coordinator while the pool
 * starts: one thread scans it in about the time a worker takes to start and load its
 * modules, so handing it to the pool would only wait for them.
 */
export const SMALL_SCAN_BYTES = 32 << 20;

function memMapBytesToScan(setup: ScanSetup): number {
  let bytes = 0;
  for (const r of setup.ranges) bytes += (r.pfnEnd - r.pfnStart) * setup.layout.sizePage;
  return bytes;
}

/**
 * Worker threads for a run. --num-threads N: N (0 and 1 mean none, as makedumpfile's 0);
 * by default the CPUs this process may run on, and none for small inputs or one CPU.
 */
export function chooseThreads(option: number | undefined, inputBytes: number): number {
  if (option !== undefined) return Math.min(Math.max(1, option), MAX_THREADS);
  if (inputBytes < SMALL_INPUT_BYTES) return 1;
  return Math.min(usableCpus(), MAX_THREADS);
}

/** Default memory for the compressed 2nd-bitmap cache. */
export const DEFAULT_BITMAP_CACHE = 32 << 20;

export function prepareDump(opts: DumpOptions, msgs: Messages): PreparedDump {
  const startedAt = Date.now();
  // time since the process started; process.uptime, unlike the performance global, loads
  // no module (perf_hooks and eight internal ones)
  const startupMs = Math.round(process.uptime() * 1000);
  const input = openInput(opts.input);
  try {
    const level = effectiveLevel(input, opts, msgs);
    const kernel = kernelOf(input, level, opts, msgs);
    const plan = planDump(input, kernel, level, opts, msgs);
    const local = createWorkerContext(plan.worker, input);
    const threads = plan.threads;
    const scanOnThisThread = !!plan.scan && memMapBytesToScan(plan.scan) <= SMALL_SCAN_BYTES;
    const executor: Executor = threads > 1
      ? new PoolExecutor(threads, plan.worker, scanOnThisThread ? local : undefined)
      : new InlineExecutor(local);
    return { plan, kernel, input, executor, local, msgs, startedAt, startupMs };
  } catch (e) {
    input.close();
    throw e;
  }
}

/** The dump level a refiltered dump keeps: what its input left out cannot come back (update_dump_level). */
function effectiveLevel(input: DumpInput, opts: DumpOptions, msgs: Messages): number {
  const earlier = input.earlierDump;
  if (earlier && opts.elf) {
    throw new DumpError('elf-from-kdump', `'-E' option is disable, because ${opts.input} is kdump compressed format`);
  }
  const level = opts.dumpLevel;
  const merged = level | (earlier?.dumpLevel ?? 0);
  if (merged !== level) {
    msgs.msg(`dump_level is changed to ${merged}, because ${opts.input} was created by dump_level(${earlier!.dumpLevel}).`);
  }
  return merged;
}

/** The kernel model the level needs (struct page layouts when it filters by page class), with its messages. */
function kernelOf(input: DumpInput, level: number, opts: DumpOptions, msgs: Messages): KernelModel {
  const vmcoreinfo = opts.vmcoreinfoText ?? input.vmcoreinfo?.text;
  if (vmcoreinfo !== undefined) debugVmcoreinfo(vmcoreinfo, msgs);
  if (vmcoreinfo === undefined && level > DL_EXCLUDE_ZERO) {
    throw new DumpError('no-vmcoreinfo',
      `${opts.input} has no VMCOREINFO note: dump level ${level} needs it (only -d 0 and -d 1 work without it, or give -i VMCOREINFO)`);
  }
  const km = buildKernelModel(input, vmcoreinfo, {
    warn: (m) => msgs.warn(m), needPageLayout: (level & CLASS_BITS) !== 0, arch: input.arch,
    maxMapnr: input.earlierDump?.maxMapnr, physBase: input.earlierDump?.physBase,
  });
  if (opts.vmcoreinfoText !== undefined && km.release && km.vmcoreinfo && km.vmcoreinfo.osRelease !== km.release) {
    throw new DumpError('wrong-release', `${opts.vmcoreinfoFile ?? 'VMCOREINFO'} and ${opts.input} don't match (release ${printable(km.vmcoreinfo.osRelease)} vs ${printable(km.release)})`, EXIT_WRONG_RELEASE);
  }
  const newer = newerKernelNote(km.release, km.kernelVersion);
  if (newer) msgs.warn(newer);
  if (km.layout) msgs.debug(`struct page layout: ${km.layout.generation}`);
  if (opts.vtop !== undefined) printVtop(km.translator, opts.vtop, msgs);
  return km;
}

/** The dump level bits that need struct pages read */
const CLASS_BITS = DL_EXCLUDE_CACHE | DL_EXCLUDE_CACHE_PRI | DL_EXCLUDE_USER_DATA | DL_EXCLUDE_FREE;

/** Cycles, threads, the pfn sets and what each worker needs: the plan of the run. */
function planDump(input: DumpInput, km: KernelModel, level: number, opts: DumpOptions, msgs: Messages): DumpPlan {
  const { pageSize, maxMapnr } = km;
  const earlier = input.earlierDump;
  const threads = chooseThreads(opts.numThreads, maxMapnr * pageSize);
  const cycles = planCycles({
    maxMapnrLoads: km.maxMapnrLoads, maxMapnr, pagesPerSection: km.memmap?.pagesPerSection ?? 32768,
    cyclicBufferKiB: opts.cyclicBufferKiB, numThreadsOption: opts.numThreads ?? 0, numDumpfiles: opts.numDumpfiles ?? 1,
    forceOneCycle: !!opts.forceOneCycle || !!earlier, freeMemory: opts.freeMemory, threads,
  });
  for (const m of cycles.messages) msgs.msg(m);
  const pfns: PfnSets = earlier
    ? bitmapPfnSets(earlier.bitmap1, earlier.bitmap2, maxMapnr)
    : rangePfnSets(loadPfnSets(input.loads, pageSize, maxMapnr, cycles.mode));
  const scan: ScanSetup | undefined = km.layout && km.memmap && scanNeeded(km.layout, level)
    ? { layout: km.layout, dumpLevel: level, maxMapnr, ranges: km.memmap.ranges, inSegs: pfns.inSegs }
    : undefined;
  if (km.layout && (level & DL_EXCLUDE_FREE) && !hasBuddyTest(km.layout)) {
    msgs.warn('this kernel exports no PageBuddy marker; free pages cannot be told from mem_map and are kept');
  }
  const worker: WorkerSetup = {
    input: { kind: input.kind, path: opts.input },
    pageSize,
    translator: km.translator?.desc,
    scan,
    codec: opts.codec,
    excludeZero: (level & DL_EXCLUDE_ZERO) !== 0,
    mapInput: !opts.noMmap,
  };
  return {
    input: opts.input, dumpLevel: level, pageSize, maxMapnr, threads, cycles, numCycles: Math.max(1, Math.ceil(maxMapnr / cycles.cyclePfns)),
    pfns, scan, worker,
    zeroScan: (!!opts.elf || !!opts.memUsage) && (level & DL_EXCLUDE_ZERO) !== 0,
    excludeVmemmap: !!opts.excludeVmemmap,
    bitmapCacheBytes: opts.bitmapCacheBytes ?? DEFAULT_BITMAP_CACHE, workDir: opts.workDir,
  };
}

/** Stops the threads and closes the input. */
export async function closeJob(prep: PreparedDump): Promise<void> {
  await prep.executor.close();
  prep.input.close();
}

function printVtop(tr: KernelModel['translator'], va: bigint, msgs: Messages): void {
  if (!tr) {
    msgs.msg(`--vtop ${va.toString(16)}: no page tables without VMCOREINFO`);
    return;
  }
  const w = tr.walk(va);
  const hex = (n: number | bigint) => n.toString(16).padStart(16, ' ');
  msgs.msg('Translating virtual address 0x' + va.toString(16));
  for (const [name, at, e] of w.steps) msgs.msg(`  ${name} : ${hex(at)} => ${hex(e)}`);
  msgs.msg(w.pa >= 0 ? `  PAGE: ${hex(w.pa)}\n\nVIRTUAL           PHYSICAL\n${hex(va)}  ${w.pa.toString(16)}` : '  not mapped');
}

/**
 * One line for a kernel newer than any cyclodump was checked on: classes come from what its
 * VMCOREINFO exports, and a page whose class cannot be told (an unknown page type, a
 * compound order it cannot find) is kept, so the dump is bigger but complete.
 */
export function newerKernelNote(release: string, version: number): string | undefined {
  if (version === 0 || (version >> 8) <= (NEWEST_VERIFIED_KERNEL >> 8)) return undefined;
  return `Linux ${printable(release)} is newer than the kernels cyclodump knows (up to ${NEWEST_VERIFIED_KERNEL_NAME}): pages whose class it cannot tell are kept`;
}

/**
 * makedumpfile prints the VMCOREINFO it read at message level 8; SUSE's kdump reads
 * OSRELEASE= and CRASHTIME= back from those lines.
 */
export function debugVmcoreinfo(text: string, msgs: Messages): void {
  msgs.debug('VMCOREINFO   :');
  for (const line of text.split('\n')) if (line) msgs.debug(`  ${line}`);
}

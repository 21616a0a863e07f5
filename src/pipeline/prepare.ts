// Opens the input, builds the kernel model and decides how the run is cut and executed:
// the plan (plain values, fixed for the run) and the threads that will do the work.
import * as fs from 'fs';
import { pathBytes } from '../util/argv-bytes';
import * as os from 'os';
import type { CodecName } from '../codec';
import { DL_EXCLUDE_CACHE, DL_EXCLUDE_CACHE_PRI, DL_EXCLUDE_FREE, DL_EXCLUDE_USER_DATA, DL_EXCLUDE_ZERO } from '../filter/dump-level';
import { ScanSetup, scanNeeded } from '../filter/page-scan';
import { PfnSets, bitmapPfnSets, loadPfnSets, rangePfnSets } from '../filter/pfn-ranges';
import { KernelModel, buildKernelModel } from '../kernel/kernel-model';
import { NEWEST_VERIFIED_KERNEL, NEWEST_VERIFIED_KERNEL_NAME, hasBuddyTest } from '../kernel/page-layout';
import { DumpError, EXIT_WRONG_RELEASE, printable } from '../util/errors';
import { addressSpaceInUse, leanMode, openDescriptors, readLimits, threadBudget } from '../util/limits';
import type { Messages } from '../util/messages';
import { DumpInput, openInput } from '../vmcore/open';
import { CyclePlan, planCycles } from './cycles';
import { Executor, InlineExecutor, PASS2_POOL_MIN_US, PoolExecutor, pass2Micros } from './executor';
import { WorkerContext, WorkerSetup, createWorkerContext } from './setup';
import { nativeMethodOf } from '../codec/native-pages';

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
  /** --pfn-order: page data in pfn order, as makedumpfile writes it, instead of the priority pages first */
  pfnOrder?: boolean;
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
  /** whether --num-threads chose them (else pass 2 may still keep to this thread: PoolExecutor.fitPass2) */
  readonly threadsGiven: boolean;
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
  /** page data in pfn order (makedumpfile's); otherwise the priority pages first (write-order.ts) */
  readonly pfnOrder: boolean;
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

/**
 * The most threads a run starts by default (chooseThreads; libuv's pool is sized by it
 * before the run): the usable CPUs, but one in lean mode, where a thread's batches,
 * buffers and codec state cost memory the run would then page for.
 */
export function defaultThreadCeiling(): number {
  return leanMode() ? 1 : usableCpus();
}

/** Below this much memory in the input, starting worker threads costs more than they save. */
export const SMALL_INPUT_BYTES = 256 << 20;
export const MAX_THREADS = 64;
/**
 * Above this much mem_map, pass 1 alone pays for the pool: its slices are scanned on the
 * workers in parallel (a 64 GiB machine has 1 GiB of struct pages).
 */
export const BIG_SCAN_BYTES = 256 << 20;
/**
 * The share of present pages a level that filters page classes is expected to keep, before
 * pass 1 has counted them: real -d 31 dumps keep 8-30%.
 */
const KEPT_PRIOR_FILTERED = 0.3;

/** What the default thread count is decided from, before pass 1. */
export interface ThreadWork {
  /** bytes of memory in the input (max_mapnr pages) */
  inputBytes: number;
  /** pages that may be dumped, and the share of them the level is expected to keep */
  pages: number;
  keptShare: number;
  codec: CodecName;
  /** struct-page bytes pass 1 reads */
  memMapBytes: number;
}

function memMapBytesToScan(km: KernelModel): number {
  let bytes = 0;
  for (const r of km.memmap?.ranges ?? []) bytes += (r.pfnEnd - r.pfnStart) * (km.layout?.sizePage ?? 0);
  return bytes;
}

/**
 * Worker threads for a run. --num-threads N: N (0 and 1 mean none, as makedumpfile's 0).
 * By default the CPUs this process may run on when the expected work pays for them: codec
 * work of the pages the level is expected to keep (pass 2 checks again with the measured
 * count: PoolExecutor.fitPass2), or a mem_map big enough to scan in parallel; else none.
 */
export function chooseThreads(option: number | undefined, work: ThreadWork): number {
  if (option !== undefined) return Math.min(Math.max(1, option), MAX_THREADS);
  const cpus = Math.min(defaultThreadCeiling(), MAX_THREADS);
  if (cpus === 1 || work.inputBytes < SMALL_INPUT_BYTES) return 1;
  const codecWork = pass2Micros({ pages: work.pages * work.keptShare, codec: work.codec });
  return codecWork >= PASS2_POOL_MIN_US || work.memMapBytes > BIG_SCAN_BYTES ? cpus : 1;
}

/**
 * `wanted` threads, or fewer when the open-file or address-space limit leaves no room for
 * them (said in one warning); a run that cannot get the descriptors of one thread is refused.
 */
function threadsWithinLimits(input: DumpInput, opts: DumpOptions, wanted: number, msgs: Messages): number {
  const limits = readLimits();
  if (limits.openFiles === Infinity && limits.addressSpace === Infinity) return wanted;
  // this thread maps the input when it can (setup.ts): count it before it is made
  const mapped = input.direct && mapsInput(opts, input.direct.fd) ? fs.fstatSync(input.direct.fd).size : 0;
  const arenas = Number(process.env.MALLOC_ARENA_MAX);
  const budget = threadBudget({ outputFiles: opts.numDumpfiles ?? 1, wanted }, limits,
    openDescriptors(limits.openFiles), addressSpaceInUse() + mapped, arenas >= 1 && arenas <= 4);
  if (budget.refusal) throw new DumpError('resource-limit', budget.refusal);
  if (budget.reason) msgs.warn(`${budget.threads} thread${budget.threads === 1 ? '' : 's'} instead of ${wanted}: ${budget.reason}`);
  return budget.threads;
}

/**
 * Whether the native page loop's own threads do pass 2 instead of a pool of workers:
 * pages of a codec the addon was built with (LZO and zlib; snappy and zstd where their
 * libraries were found), read with pread or, on /proc/vmcore, each thread through its own
 * window of the mapped file; and a mem_map that one thread scans in good time. They need
 * no isolate, no module loading and no hand-off of buffers, which on a 2-CPU machine cost
 * more than a 3 GiB dump's pages gain from a pool (perf/RESULTS.md, "Threads of the page
 * loop"), and about 40 MiB less memory per thread than a worker: in a kdump capture
 * kernel with nr_cpus=2 a pool of workers does not fit Debian's 128 MiB (perf/RESULTS.md,
 * "kdump end to end").
 */
function pageLoopThreadsFit(worker: WorkerSetup, km: KernelModel): boolean {
  return worker.codec !== 'none' && nativeMethodOf(worker.codec) !== undefined
    && memMapBytesToScan(km) <= BIG_SCAN_BYTES;
}

/** statfs(2)'s f_type of procfs */
const PROC_SUPER_MAGIC = 0x9fa0;

/**
 * Whether pages are taken through a mapping of the input rather than pread. /proc/vmcore
 * is mapped, as makedumpfile maps it: read(2) there copies each page through the kernel's
 * old-memory path; without a codec its kept pages are then written from the mapping
 * (copyRuns). A regular file is read with pread, with or without a codec: that costs less
 * than faulting the mapping's pages in and unmapping its windows, and less than
 * copy_file_range on a file system that cannot share blocks (perf/RESULTS.md, "Reading
 * the input" and "No codec from a regular file").
 */
function mapsInput(opts: DumpOptions, fd: number): boolean {
  if (opts.noMmap) return false;
  try {
    return fs.statfsSync(`/proc/self/fd/${fd}`).type === PROC_SUPER_MAGIC;
  } catch {
    return false;
  }
}

/** What pool workers open: under an address-space limit they read the input instead of mapping it whole. */
function poolSetup(setup: WorkerSetup): WorkerSetup {
  return readLimits().addressSpace === Infinity ? setup : { ...setup, mapInput: false };
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
    // the scan reads its next chunk of struct pages on the addon's thread meanwhile: with
    // a second CPU (on one it could only take turns with this thread) and the memory for
    // a second chunk buffer (not in lean mode)
    if (input.direct && usableCpus() > 1 && !leanMode()) local.scanner?.enableReadAhead(input.direct);
    const threads = plan.threads;
    const nativeThreads = threads > 1 && pageLoopThreadsFit(plan.worker, kernel);
    if (nativeThreads) local.pageThreads = threads;
    const executor: Executor = threads > 1 && !nativeThreads
      ? new PoolExecutor(threads, poolSetup(plan.worker), local, (why) => msgs.warn(why))
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
  const threads = threadsWithinLimits(input, opts, chooseThreads(opts.numThreads, {
    inputBytes: maxMapnr * pageSize, pages: maxMapnr, keptShare: (level & CLASS_BITS) !== 0 ? KEPT_PRIOR_FILTERED : 1,
    codec: opts.codec, memMapBytes: memMapBytesToScan(km),
  }), msgs);
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
  if (km.layout && (level & DL_EXCLUDE_FREE) && !hasBuddyTest(km.layout) && !((km.layout.keepClasses ?? 0) & DL_EXCLUDE_FREE)) {
    msgs.warn('this kernel exports no PageBuddy marker; free pages cannot be told from mem_map and are kept');
  }
  const worker: WorkerSetup = {
    input: { kind: input.kind, path: opts.input, bytes: pathBytes(opts.input) },
    pageSize,
    translator: km.translator?.desc,
    scan,
    codec: opts.codec,
    excludeZero: (level & DL_EXCLUDE_ZERO) !== 0,
    mapInput: input.direct ? mapsInput(opts, input.direct.fd) : false,
  };
  return {
    input: opts.input, dumpLevel: level, pageSize, maxMapnr, threads, threadsGiven: opts.numThreads !== undefined, cycles, numCycles: Math.max(1, Math.ceil(maxMapnr / cycles.cyclePfns)),
    pfns, scan, worker,
    zeroScan: (!!opts.elf || !!opts.memUsage) && (level & DL_EXCLUDE_ZERO) !== 0,
    excludeVmemmap: !!opts.excludeVmemmap,
    bitmapCacheBytes: opts.bitmapCacheBytes ?? DEFAULT_BITMAP_CACHE, workDir: opts.workDir,
    pfnOrder: !!opts.pfnOrder,
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

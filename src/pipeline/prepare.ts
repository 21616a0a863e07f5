// Opens the input, builds the kernel model and decides how the run is cut and executed.
// Everything later stages need is in the DumpJob.
import * as os from 'os';
import type { CodecName } from '../codec';
import { C_ZERO, DL_EXCLUDE_CACHE, DL_EXCLUDE_CACHE_PRI, DL_EXCLUDE_FREE, DL_EXCLUDE_USER_DATA, DL_EXCLUDE_ZERO, NUM_COUNTERS } from '../filter/dump-level';
import { ScanSetup, scanNeeded } from '../filter/page-scan';
import { PfnRange, PfnSets, bitmapPfnSets, loadPfnSets, rangePfnSets } from '../filter/pfn-ranges';
import { KernelModel, buildKernelModel } from '../kernel/kernel-model';
import { NEWEST_VERIFIED_KERNEL, NEWEST_VERIFIED_KERNEL_NAME, hasBuddyTest } from '../kernel/page-layout';
import { DumpError, EXIT_WRONG_RELEASE, printable } from '../util/errors';
import type { Messages } from '../util/messages';
import { DumpInput, openInput } from '../vmcore/open';
import { BitmapCache } from './bitmap-cache';
import { CyclePlan, planCycles } from './cycles';
import { Executor, InlineExecutor, PoolExecutor } from './executor';
import { Progress } from './progress';
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

export interface DumpStats {
  memMapBytes: number;
  unreadablePfns: number;
  /** pass 2: dumpable pages whose data could not be read from the input (descriptors say "lost") */
  unreadPages: number;
  badOrderPfns: number;
  rescannedCycles: number;
  scanMs: number;
  writeMs: number;
  startedAt: number;
  /** from the process's start to this dump's start: Node's own start-up and loading the CLI */
  startupMs: number;
}

export interface DumpJob {
  opts: DumpOptions;
  msgs: Messages;
  vm: DumpInput;
  km: KernelModel;
  dumpLevel: number;
  pageSize: number;
  maxMapnr: number;
  plan: CyclePlan;
  sets: PfnSets;
  numCycles: number;
  scanSetup?: ScanSetup;
  workerSetup: WorkerSetup;
  executor: Executor;
  /** context of this thread (the inline executor's, and for reads of the coordinator) */
  local: WorkerContext;
  counts: Float64Array;
  /** ranges cleared by exclusions that ran past the slice they were found in */
  carried: { start: number; end: number }[];
  /** -e: physical pages holding struct pages of excluded memory, cleared after the scan */
  vmemmapExcluded: PfnRange[];
  cache: BitmapCache;
  cycleDumpable: Float64Array;
  numDumpable: number;
  stats: DumpStats;
  progress: Progress;
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

export function prepareDump(opts: DumpOptions, msgs: Messages): DumpJob {
  const startedAt = Date.now();
  // time since the process started; process.uptime, unlike the performance global, loads
  // no module (perf_hooks and eight internal ones)
  const startupMs = Math.round(process.uptime() * 1000);
  const vm = openInput(opts.input);
  try {
    const kd = vm.earlierDump;
    if (kd && opts.elf) {
      throw new DumpError('elf-from-kdump', `'-E' option is disable, because ${opts.input} is kdump compressed format`);
    }
    let level = opts.dumpLevel;
    if (kd) {
      // refiltering cannot bring back what the input left out: its level is kept (update_dump_level)
      const merged = level | kd.dumpLevel;
      if (merged !== level) {
        msgs.msg(`dump_level is changed to ${merged}, because ${opts.input} was created by dump_level(${kd.dumpLevel}).`);
        level = merged;
      }
    }
    const needLayout = (level & (DL_EXCLUDE_CACHE | DL_EXCLUDE_CACHE_PRI | DL_EXCLUDE_USER_DATA | DL_EXCLUDE_FREE)) !== 0;
    const vmcoreinfo = opts.vmcoreinfoText ?? vm.vmcoreinfo?.text;
    if (vmcoreinfo !== undefined) debugVmcoreinfo(vmcoreinfo, msgs);
    if (vmcoreinfo === undefined && level > DL_EXCLUDE_ZERO) {
      throw new DumpError('no-vmcoreinfo',
        `${opts.input} has no VMCOREINFO note: dump level ${level} needs it (only -d 0 and -d 1 work without it, or give -i VMCOREINFO)`);
    }
    const km = buildKernelModel(vm, vmcoreinfo, {
      warn: (m) => msgs.warn(m), needPageLayout: needLayout, arch: vm.arch,
      maxMapnr: kd?.maxMapnr, physBase: kd?.physBase,
    });
    if (opts.vmcoreinfoText !== undefined && km.release && km.vmcoreinfo && km.vmcoreinfo.osRelease !== km.release) {
      throw new DumpError('wrong-release', `${opts.vmcoreinfoFile ?? 'VMCOREINFO'} and ${opts.input} don't match (release ${printable(km.vmcoreinfo.osRelease)} vs ${printable(km.release)})`, EXIT_WRONG_RELEASE);
    }
    const newer = newerKernelNote(km.release, km.kernelVersion);
    if (newer) msgs.warn(newer);
    if (km.layout) msgs.debug(`struct page layout: ${km.layout.generation}`);
    if (opts.vtop !== undefined) printVtop(km.translator, opts.vtop, msgs);
    const pageSize = km.pageSize;
    const maxMapnr = km.maxMapnr;
    const pagesPerSection = km.memmap?.pagesPerSection ?? 32768;

    const threads = chooseThreads(opts.numThreads, maxMapnr * pageSize);
    const plan = planCycles({
      maxMapnrLoads: km.maxMapnrLoads, maxMapnr, pagesPerSection, cyclicBufferKiB: opts.cyclicBufferKiB,
      numThreadsOption: opts.numThreads ?? 0, numDumpfiles: opts.numDumpfiles ?? 1,
      forceOneCycle: !!opts.forceOneCycle || !!kd, freeMemory: opts.freeMemory, threads,
    });
    for (const m of plan.messages) msgs.msg(m);
    const sets: PfnSets = kd
      ? bitmapPfnSets(kd.bitmap1, kd.bitmap2, maxMapnr)
      : rangePfnSets(loadPfnSets(vm.loads, pageSize, maxMapnr, plan.mode));

    let scanSetup: ScanSetup | undefined;
    if (km.layout && km.memmap && scanNeeded(km.layout, level)) {
      scanSetup = { layout: km.layout, dumpLevel: level, maxMapnr, ranges: km.memmap.ranges, inSegs: sets.inSegs };
    }
    if (km.layout && (level & DL_EXCLUDE_FREE) && !hasBuddyTest(km.layout)) {
      msgs.warn('this kernel exports no PageBuddy marker; free pages cannot be told from mem_map and are kept');
    }
    const workerSetup: WorkerSetup = {
      input: { kind: vm.kind, path: opts.input },
      pageSize,
      translator: km.translator?.desc,
      scan: scanSetup,
      codec: opts.codec,
      excludeZero: (level & DL_EXCLUDE_ZERO) !== 0,
      mapInput: !opts.noMmap,
    };
    const local = createWorkerContext(workerSetup, vm);
    const scanOnThisThread = !!scanSetup && memMapBytesToScan(scanSetup) <= SMALL_SCAN_BYTES;
    const executor: Executor = threads > 1
      ? new PoolExecutor(threads, workerSetup, scanOnThisThread ? local : undefined)
      : new InlineExecutor(local);
    const numCycles = Math.max(1, Math.ceil(maxMapnr / plan.cyclePfns));
    const counts = new Float64Array(NUM_COUNTERS);
    counts[C_ZERO] = 0;
    return {
      opts, msgs, vm, km, dumpLevel: level, pageSize, maxMapnr, plan, sets, numCycles, scanSetup, workerSetup,
      executor, local, counts, carried: [], vmemmapExcluded: [],
      cache: new BitmapCache(opts.bitmapCacheBytes ?? DEFAULT_BITMAP_CACHE, opts.workDir),
      cycleDumpable: new Float64Array(numCycles), numDumpable: 0,
      stats: { memMapBytes: 0, unreadablePfns: 0, unreadPages: 0, badOrderPfns: 0, rescannedCycles: 0, scanMs: 0, writeMs: 0, startedAt, startupMs },
      progress: new Progress(msgs),
    };
  } catch (e) {
    vm.close();
    throw e;
  }
}

export async function closeJob(job: DumpJob): Promise<void> {
  job.progress.stop();
  job.cache.close();
  await job.executor.close();
  job.vm.close();
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

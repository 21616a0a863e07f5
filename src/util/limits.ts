// The process's resource limits (ulimit -n, ulimit -v) and what a run needs of them, so a
// run that cannot fit ends with one line before it starts, and worker threads are started
// only as far as the limits allow: a thread that cannot get its descriptors fails to start
// (ERR_WORKER_INIT_FAILED), and one that cannot reserve address space kills the process
// with V8's "Fatal process OOM", which no handler can catch. The figures are measured
// (perf/RESULTS.md, "Resource limits"); bin/cyclodump checks the limits Node itself needs
// before it starts Node.
import * as fs from 'fs';

/** descriptors one pool worker holds (its event loop, its wakeup pipes, its input): Node 20, measured */
export const FDS_PER_WORKER = 5;
/** descriptors opened for a moment during a run (a module loaded late, the report file) */
export const FDS_TRANSIENT = 1;
/**
 * Address space one pool worker reserves: its isolate with a 64 MiB code range
 * (WORKER_CODE_RANGE_MB), its stack, glibc's per-thread malloc arenas (64 MiB each unless
 * MALLOC_ARENA_MAX caps them, as bin/cyclodump does under ulimit -v), and room for its
 * heap and page buffers to grow.
 */
export const WORKER_ADDRESS_BYTES = 288 << 20;
export const WORKER_ADDRESS_BYTES_FEW_ARENAS = 128 << 20;
/** the code range of a worker's isolate: its code is a few MiB of compiled page loops */
export const WORKER_CODE_RANGE_MB = 64;
/** address space the coordinator keeps for its own heap and buffers while workers run */
export const COORDINATOR_ADDRESS_RESERVE = 256 << 20;

/**
 * Lean mode: the launcher found little memory (a kdump capture kernel) or was told so, and
 * started node lean (bin/cyclodump); the run then also keeps fewer, smaller page batches.
 */
export function leanMode(): boolean {
  return process.env.CYCLODUMP_LEAN === '1';
}

export interface Limits {
  /** RLIMIT_NOFILE's soft value; Infinity when unlimited or unknown */
  openFiles: number;
  /** RLIMIT_AS's soft value in bytes; Infinity when unlimited or unknown */
  addressSpace: number;
}

function limitValue(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(name));
  const soft = line?.slice(name.length).trim().split(/\s+/)[0];
  if (soft === undefined || soft === 'unlimited') return Infinity;
  const n = Number(soft);
  return Number.isFinite(n) ? n : Infinity;
}

/** The limits /proc/self/limits shows (Linux's format; no file: no limits known). */
export function parseLimits(text: string): Limits {
  return { openFiles: limitValue(text, 'Max open files'), addressSpace: limitValue(text, 'Max address space') };
}

export function readLimits(): Limits {
  try {
    return parseLimits(fs.readFileSync('/proc/self/limits', 'latin1'));
  } catch {
    return { openFiles: Infinity, addressSpace: Infinity };
  }
}

/**
 * Descriptors open below `limit` now: the ones a new open competes with (the kernel hands
 * out the lowest free number and fails at the limit; one inherited above it takes no slot).
 */
export function openDescriptors(limit: number): number {
  let names: string[];
  try {
    names = fs.readdirSync('/proc/self/fd');
  } catch (e) {
    // no descriptor left to list them with; no /proc: nothing known
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'EMFILE' || code === 'ENFILE' ? limit : 0;
  }
  // the listing includes the descriptor that read it, closed again by now
  return Math.max(0, names.filter((n) => Number(n) < limit).length - 1);
}

/** The process's mapped address space now (VmSize), in bytes. */
export function addressSpaceInUse(): number {
  try {
    const m = /VmSize:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'latin1'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export interface ThreadBudget {
  /** threads the run may use: `wanted` or fewer, at least 1 */
  threads: number;
  /** why fewer than wanted, for the user */
  reason?: string;
  /** set when even one thread cannot run: the line to end with */
  refusal?: string;
}

export interface RunNeeds {
  /** descriptors the run opens besides the ones open now: its output files */
  outputFiles: number;
  /** threads asked for (1: no pool) */
  wanted: number;
}

/** How many threads fit the limits, given what is open and mapped now. */
export function threadBudget(needs: RunNeeds, limits: Limits, openNow: number, mappedNow: number, fewArenas: boolean): ThreadBudget {
  const one = openNow + needs.outputFiles + FDS_TRANSIENT;
  if (one > limits.openFiles) {
    return {
      threads: 1,
      refusal: `too few file descriptors: the limit is ${limits.openFiles} (ulimit -n) and this dump needs ${one}`,
    };
  }
  let threads = needs.wanted;
  let reason: string | undefined;
  if (threads > 1) {
    const byFds = Math.floor((limits.openFiles - one) / FDS_PER_WORKER);
    if (byFds < threads) {
      threads = byFds;
      reason = `the open-file limit (ulimit -n ${limits.openFiles}) leaves room for ${byFds} worker thread${byFds === 1 ? '' : 's'}`;
    }
    const perWorker = fewArenas ? WORKER_ADDRESS_BYTES_FEW_ARENAS : WORKER_ADDRESS_BYTES;
    const byAddress = Math.floor((limits.addressSpace - mappedNow - COORDINATOR_ADDRESS_RESERVE) / perWorker);
    if (byAddress < threads) {
      threads = byAddress;
      reason = `the address-space limit (ulimit -v ${Math.floor(limits.addressSpace / 1024)}) leaves room for ${Math.max(0, byAddress)} worker thread${byAddress === 1 ? '' : 's'}`;
    }
    // one worker only adds a hand-off to what this thread does alone
    if (threads < 2) threads = 1;
  }
  return { threads, reason };
}

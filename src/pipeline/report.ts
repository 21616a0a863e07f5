// The end-of-run page report, with makedumpfile's lines and numbers (print_report), plus
// what cyclodump adds (mem_map bytes read, rescans, phase times).
import { C_CACHE, C_CACHE_PRIVATE, C_FREE, C_HWPOISON, C_OFFLINE, C_USER, C_ZERO } from '../filter/dump-level';
import type { PreparedDump } from './prepare';
import type { Tally } from './tally';

export interface DumpReport {
  dumpLevel: number;
  codec: string;
  pageSize: number;
  original: number;
  excluded: number;
  zero: number;
  cache: number;
  cachePrivate: number;
  user: number;
  free: number;
  hwpoison: number;
  offline: number;
  remaining: number;
  memoryHole: number;
  totalPages: number;
  numDumpable: number;
  writeBytes: number;
  memMapBytesRead: number;
  rescannedCycles: number;
  threads: number;
  incomplete: boolean;
  /** -E: pages actually left out of the ELF file (runs of 256 or more) */
  elfExcluded?: number;
  /** startup: from the process's start to the dump's; total: from the dump's start to the report */
  /** first: the part of write spent on the pages written first (the default order), 0 without them */
  timeMs: { startup: number; scan: number; write: number; first: number; total: number };
}

export function buildReport(prep: PreparedDump, tally: Tally, numDumpable: number, writeBytes: number, incomplete: boolean,
  elfExcluded?: number): DumpReport {
  const { plan } = prep;
  const c = tally.counts;
  const excluded = c[C_ZERO] + c[C_CACHE] + c[C_CACHE_PRIVATE] + c[C_USER] + c[C_FREE] + c[C_HWPOISON] + c[C_OFFLINE];
  const original = plan.maxMapnr - plan.pfns.memoryHole;
  return {
    dumpLevel: plan.dumpLevel,
    codec: plan.worker.codec,
    pageSize: plan.pageSize,
    original,
    excluded,
    zero: c[C_ZERO],
    cache: c[C_CACHE],
    cachePrivate: c[C_CACHE_PRIVATE],
    user: c[C_USER],
    free: c[C_FREE],
    hwpoison: c[C_HWPOISON],
    offline: c[C_OFFLINE],
    remaining: original - excluded,
    memoryHole: plan.pfns.memoryHole,
    totalPages: plan.maxMapnr,
    numDumpable,
    writeBytes,
    memMapBytesRead: tally.memMapBytes,
    rescannedCycles: tally.rescannedCycles,
    threads: prep.executor.threads,
    incomplete,
    elfExcluded,
    timeMs: { startup: prep.startupMs, scan: tally.scanMs, write: tally.writeMs, first: tally.firstMs, total: Date.now() - prep.startedAt },
  };
}

const hex = (n: number): string => '0x' + n.toString(16).padStart(16, '0');

/** makedumpfile's report text (its numbers in its format), then cyclodump's own lines. */
export function formatReport(r: DumpReport): string {
  const lines = [
    '',
    `Original pages  : ${hex(r.original)}`,
    `  Excluded pages   : ${hex(r.excluded)}`,
    ...(r.elfExcluded !== undefined ? [`     in ELF format : ${hex(r.elfExcluded)}`] : []),
    `    Pages filled with zero  : ${hex(r.zero)}`,
    `    Non-private cache pages : ${hex(r.cache)}`,
    `    Private cache pages     : ${hex(r.cachePrivate)}`,
    `    User process data pages : ${hex(r.user)}`,
    `    Free pages              : ${hex(r.free)}`,
    `    Hwpoison pages          : ${hex(r.hwpoison)}`,
    `    Offline pages           : ${hex(r.offline)}`,
    `  Remaining pages  : ${hex(r.remaining)}`,
    ...(r.elfExcluded !== undefined ? [`     in ELF format : ${hex(r.original - r.elfExcluded)}`] : []),
  ];
  if (r.original !== 0) {
    const kept = r.original - (r.elfExcluded ?? r.excluded);
    lines.push(`  (The number of pages is reduced to ${Math.floor((kept * 100) / r.original)}%.)`);
  }
  lines.push(
    `Memory Hole     : ${hex(r.memoryHole)}`,
    '--------------------------------------------------',
    `Total pages     : ${hex(r.totalPages)}`,
    `Write bytes     : ${r.writeBytes}`,
    '',
    `mem_map bytes read: ${r.memMapBytesRead} (cycles rescanned: ${r.rescannedCycles})`,
    `Threads: ${r.threads}; time: start-up ${(r.timeMs.startup / 1000).toFixed(3)} s, scan ${(r.timeMs.scan / 1000).toFixed(3)} s, write ${(r.timeMs.write / 1000).toFixed(3)} s, total ${(r.timeMs.total / 1000).toFixed(3)} s`
      + (r.timeMs.first > 0 ? `; the pages written first ${(r.timeMs.first / 1000).toFixed(3)} s of the write` : ''),
    '',
  );
  return lines.join('\n');
}

/** Version of the --report-json document (schemas/report.schema.json); bumped on any incompatible change. */
export const REPORT_SCHEMA = 'cyclodump-report/1';

export interface ReportContext {
  version: string;
  input: string;
  /** files written; "-" for stdout (-F); empty for --dry-run */
  outputs: string[];
  format: 'kdump-compressed' | 'elf';
  flattened: boolean;
  dryRun: boolean;
  /** the error that ended the run, if any */
  error?: string;
}

/** The --report-json document: the printed report's figures, for scripts. */
export function reportJson(r: DumpReport, ctx: ReportContext): Record<string, unknown> {
  const kept = r.original - (r.elfExcluded ?? r.excluded);
  return {
    schema: REPORT_SCHEMA,
    tool: 'cyclodump',
    version: ctx.version,
    status: ctx.error !== undefined || r.incomplete ? 'incomplete' : 'completed',
    ...(ctx.error !== undefined ? { error: ctx.error } : {}),
    input: ctx.input,
    outputs: ctx.outputs,
    format: ctx.format,
    flattened: ctx.flattened,
    dryRun: ctx.dryRun,
    dumpLevel: r.dumpLevel,
    codec: r.codec,
    pageSize: r.pageSize,
    pages: {
      original: r.original,
      excluded: r.excluded,
      zero: r.zero,
      cache: r.cache,
      cachePrivate: r.cachePrivate,
      user: r.user,
      free: r.free,
      hwpoison: r.hwpoison,
      offline: r.offline,
      remaining: r.remaining,
      ...(r.elfExcluded !== undefined ? { elfExcluded: r.elfExcluded, elfRemaining: r.original - r.elfExcluded } : {}),
      memoryHole: r.memoryHole,
      total: r.totalPages,
    },
    reducedToPercent: r.original !== 0 ? Math.floor((kept * 100) / r.original) : null,
    writeBytes: r.writeBytes,
    memMapBytesRead: r.memMapBytesRead,
    rescannedCycles: r.rescannedCycles,
    threads: r.threads,
    timeMs: { startup: r.timeMs.startup, scan: r.timeMs.scan, write: r.timeMs.write, first: r.timeMs.first, total: r.timeMs.total },
  };
}

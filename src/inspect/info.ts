// `cyclodump info DUMPFILE`: what a dump holds, from its headers and bitmaps, and the end of
// the crashed kernel's log read from the dump itself, so that the panic message is one
// command away. Works on kdump-compressed dumps (ours or makedumpfile's, split parts
// included) and on ELF vmcores.
import { buildKernelModel, cField } from '../kernel/kernel-model';
import { KernelModel } from '../kernel/kernel-model';
import { extractDmesg } from '../kernel/printk';
import { PRIORITY_GROUPS, forEachGroupPage, priorityPages } from '../kernel/priority-pages';
import type { DumpInput } from '../vmcore/open';
import type { InputDescription } from '../vmcore/describe';
import { openInput } from '../vmcore/open';

export interface DumpInfo extends InputDescription {
  file: string;
  /** the last headline of a kernel panic, oops or BUG in the log */
  panic: string | null;
  /** the last lines of the kernel log */
  log: string[];
  /** why the log could not be read, if it could not */
  logError?: string;
  /** the pages a dump writes first (write order), group by group: how many the file holds of those it keeps */
  priority: PriorityPresence[];
}

export interface PriorityPresence {
  name: string;
  why: string;
  /** pages of the group the file holds */
  present: number;
  /** pages of the group the dump keeps (present + lost) */
  kept: number;
}

/** The line that says why the kernel died: the last panic, oops or BUG headline. */
export function panicLine(lines: string[]): string | null {
  const re = /(Kernel panic - not syncing: .*|BUG: .*|kernel BUG at .*|Oops: .*|general protection fault.*|Unable to handle kernel .*)$/;
  for (let i = lines.length - 1; i >= 0; i--) {
    if (lines[i].includes('---[ end ')) continue;
    const m = re.exec(lines[i]);
    if (m) return m[1].trimEnd();
  }
  return null;
}

export interface InfoOptions {
  /** kernel log lines to keep (default 20) */
  lines?: number;
  warn?: (msg: string) => void;
}

export function dumpInfo(file: string, opts: InfoOptions = {}): DumpInfo {
  const input = openInput(file);
  const warn = opts.warn ?? (() => undefined);
  try {
    const info: DumpInfo = { file, ...input.describe(), panic: null, log: [], priority: [] };
    // the kernel itself: its name (ELF) and its log (both), through VMCOREINFO
    try {
      const km = buildKernelModel(input, input.vmcoreinfo?.text, {
        warn, needPageLayout: false, maxMapnr: input.earlierDump?.maxMapnr, physBase: input.earlierDump?.physBase, arch: input.arch,
      });
      if (info.format === 'elf') {
        info.kernel = {
          release: km.release, version: cField(km.utsname, 195), machine: cField(km.utsname, 260) || km.arch.utsMachine,
          nodename: cField(km.utsname, 65),
        };
        info.crashTime = km.crashTime || null;
      }
      info.priority = priorityPresence(km, input);
      const all = extractDmesg(km).toString('utf8').split('\n');
      if (all.length && all[all.length - 1] === '') all.pop();
      info.panic = panicLine(all);
      info.log = all.slice(Math.max(0, all.length - (opts.lines ?? 20)));
    } catch (e) {
      info.logError = (e as Error).message;
    }
    return info;
  } finally {
    input.close();
  }
}

/**
 * Which of the pages written first the file holds, as far as they can be found through it
 * (a dump cut before its page tables finds few).
 */
export function priorityPresence(km: KernelModel, input: DumpInput): PriorityPresence[] {
  const out: PriorityPresence[] = [];
  for (const g of priorityPages(km, input.noteBytes, input.notes)) {
    let present = 0;
    let kept = 0;
    forEachGroupPage(g, (pfn, describeStart, describeEnd) => {
      // struct pages count when they describe a page the dump keeps
      if (describeStart !== undefined && !someKept(input, describeStart, describeEnd!)) return;
      const h = input.holds(pfn);
      if (h === 'excluded') return;
      kept++;
      if (h === 'stored') present++;
    });
    out.push({ name: g.name, why: PRIORITY_GROUPS.find((p) => p.name === g.name)!.why, present, kept });
  }
  return out;
}

function someKept(input: DumpInput, from: number, to: number): boolean {
  for (let p = from; p < to; p++) if (input.holds(p) !== 'excluded') return true;
  return false;
}

function pad(label: string): string {
  return (label + ' ').padEnd(17, ' ') + ': ';
}

/** The text an operator reads. */
export function formatInfo(i: DumpInfo): string {
  const p = i.pages;
  const mib = (pages: number): string => `${((pages * i.pageSize) / 1048576).toFixed(1)} MiB`;
  const when = i.crashTime ? `${new Date(i.crashTime * 1000).toISOString().replace('T', ' ').replace(/\.000Z$/, ' UTC')} (${i.crashTime})` : 'not recorded';
  const out = [
    `${pad('Dump file')}${i.file}`,
    `${pad('Format')}${i.format}${i.headerVersion !== undefined ? ` (header version ${i.headerVersion})` : ''}, ${i.fileSize} bytes`,
    `${pad('Kernel release')}${i.kernel.release || 'unknown'}`,
    `${pad('Kernel version')}${i.kernel.version || 'unknown'}`,
    `${pad('Machine')}${i.kernel.machine || 'unknown'}${i.kernel.nodename ? `, node ${i.kernel.nodename}` : ''}`,
    `${pad('Crash time')}${when}`,
    `${pad('Dump level')}${i.dumpLevel ?? 'none (ELF vmcore: every page of its PT_LOADs)'}`,
    `${pad('Compression')}${i.codec ?? 'none (ELF)'}`,
    `${pad('Complete')}${i.complete ? 'yes' : 'NO: the dump is incomplete (it was cut short; pages missing from it read as lost)'}`,
    `${pad('Split part')}${i.split ? `yes, pfns 0x${i.split.startPfn.toString(16)}-0x${i.split.endPfn.toString(16)} of a --split set (reassemble with cyclodump --reassemble)` : 'no'}`,
    ...(i.excludedVmemmap ? [`${pad('vmemmap')}struct pages of excluded memory left out (-e)`] : []),
    `Pages (${i.pageSize} bytes):`,
    `  total (max_mapnr)    : ${p.total}`,
    `  present in memory    : ${p.present}  (${mib(p.present)})`,
    `  dumped               : ${p.dumped}  (${mib(p.dumped)})${i.split ? `, ${p.inThisFile} in this file` : ''}`,
    `    as the zero page   : ${p.zeroDescriptors}`,
    `  excluded             : ${p.excluded}  (present - dumped)`,
    `  lost                 : ${p.lost}${p.lost ? '  (dumped pages whose data is not in the file)' : ''}`,
    `${pad('Panic')}${i.panic ?? (i.logError ? 'unknown (no kernel log)' : 'no panic message in the log')}`,
  ];
  if (i.priority.length > 0) {
    out.push('', 'Pages written first (present / kept by the dump):');
    for (const g of i.priority) out.push(`  ${g.name.padEnd(12)}: ${`${g.present}/${g.kept}`.padEnd(11)} ${g.present === g.kept ? 'all present' : g.present === 0 ? 'MISSING' : 'partly present'}: ${g.why}`);
  }
  if (i.logError) {
    out.push('', `Kernel log: can't be read: ${i.logError}`);
  } else {
    out.push('', `Kernel log (last ${i.log.length} lines, read from the dump):`, ...i.log.map((l) => `  ${l}`));
  }
  out.push('');
  return out.join('\n');
}

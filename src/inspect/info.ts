// `cyclodump info DUMPFILE`: what a dump holds, from its headers and bitmaps, and the end of
// the crashed kernel's log read from the dump itself, so that the panic message is one
// command away. Works on kdump-compressed dumps (ours or makedumpfile's, split parts
// included) and on ELF vmcores.
import { popcountBytes } from '../filter/bitmap';
import { PfnRange, normalize, totalPfns } from '../filter/pfn-ranges';
import {
  DUMP_DH_COMPRESSED_LZO, DUMP_DH_COMPRESSED_SNAPPY, DUMP_DH_COMPRESSED_ZLIB, DUMP_DH_COMPRESSED_ZSTD,
  DUMP_DH_EXCLUDED_VMEMMAP, PageDesc,
} from '../format/diskdump';
import { buildKernelModel, cField } from '../kernel/kernel-model';
import { extractDmesg } from '../kernel/printk';
import { preadFull } from '../util/file';
import { ElfVmcore } from '../vmcore/elf-vmcore';
import { KdumpVmcore } from '../vmcore/kdump-vmcore';
import { openInput } from '../vmcore/open';

export interface DumpInfo {
  file: string;
  format: 'kdump-compressed' | 'elf';
  /** kdump-compressed header version */
  headerVersion?: number;
  fileSize: number;
  kernel: { release: string; version: string; machine: string; nodename: string };
  /** seconds since the epoch; null when the dump does not record it */
  crashTime: number | null;
  /** null for an ELF vmcore (no level recorded) */
  dumpLevel: number | null;
  /** codec of the page data; null for an ELF vmcore */
  codec: string | null;
  complete: boolean;
  /** -e was used: struct pages of excluded memory are left out too */
  excludedVmemmap: boolean;
  /** a part of a --split set: the pfns whose pages this file holds */
  split: { startPfn: number; endPfn: number } | null;
  pageSize: number;
  pages: {
    /** max_mapnr: pfns the dump describes */
    total: number;
    /** in memory (1st bitmap / PT_LOADs) */
    present: number;
    /** dumped: in the 2nd bitmap (for a split part: of the whole set) */
    dumped: number;
    /** of those, the pages whose descriptors are in this file (split parts: its range) */
    inThisFile: number;
    /** dumped pages that share the one zero page (dump level bit 1) */
    zeroDescriptors: number;
    /** present − dumped: left out by the dump level */
    excluded: number;
    /** dumped pages whose data is missing (an incomplete dump's unwritten or unreadable pages) */
    lost: number;
  };
  /** the last headline of a kernel panic, oops or BUG in the log */
  panic: string | null;
  /** the last lines of the kernel log */
  log: string[];
  /** why the log could not be read, if it could not */
  logError?: string;
}

const CODECS: [number, string][] = [
  [DUMP_DH_COMPRESSED_ZLIB, 'zlib'], [DUMP_DH_COMPRESSED_LZO, 'lzo'], [DUMP_DH_COMPRESSED_SNAPPY, 'snappy'], [DUMP_DH_COMPRESSED_ZSTD, 'zstd'],
];

/** The codec named by a header status word ("none": pages stored raw). */
export function codecOfStatus(status: number): string {
  const names = CODECS.filter(([bit]) => (status & bit) !== 0).map(([, n]) => n);
  return names.length ? names.join('+') : 'none';
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

/** descriptors read per call when counting */
const DESC_CHUNK = 65536;

/** Set bits of bm in [from, to). */
export function countBits(bm: Uint8Array, from: number, to: number): number {
  let n = 0;
  let p = from;
  for (; p < to && (p & 7) !== 0; p++) if (bm[p >> 3] & (1 << (p & 7))) n++;
  const whole = Math.floor((to - p) / 8);
  if (whole > 0) {
    n += popcountBytes(bm, p >> 3, (p >> 3) + whole);
    p += whole * 8;
  }
  for (; p < to; p++) if (bm[p >> 3] & (1 << (p & 7))) n++;
  return n;
}

function kdumpPages(kd: KdumpVmcore): DumpInfo['pages'] {
  const total = kd.maxMapnr;
  const present = countBits(kd.bitmap1, 0, total);
  const dumped = countBits(kd.bitmap2, 0, total);
  const { start, end } = kd.splitRange;
  const inThisFile = kd.isSplit ? countBits(kd.bitmap2, start, Math.min(end, total)) : dumped;
  // the shared zero page is the first object of the data area (whole-set descriptor table)
  const zeroOffset = (kd.sub.dump_level & 1) !== 0 ? kd.offsetDesc + PageDesc.size * dumped : -1;
  let zeroDescriptors = 0;
  let lost = 0;
  const buf = Buffer.alloc(DESC_CHUNK * PageDesc.size);
  for (let i = 0; i < inThisFile; i += DESC_CHUNK) {
    const n = Math.min(DESC_CHUNK, inThisFile - i);
    const got = Math.floor(preadFull(kd.fd, buf, 0, n * PageDesc.size, kd.offsetDesc + i * PageDesc.size) / PageDesc.size);
    lost += n - got;
    for (let k = 0; k < got; k++) {
      const at = k * PageDesc.size;
      const offset = Number(buf.readBigInt64LE(at));
      const size = buf.readUInt32LE(at + 8);
      if (offset === 0 || size === 0 || offset + size > kd.fileSize) lost++;
      else if (offset === zeroOffset) zeroDescriptors++;
    }
  }
  return { total, present, dumped, inThisFile, zeroDescriptors, excluded: present - dumped, lost };
}

function elfPages(vm: ElfVmcore): DumpInfo['pages'] {
  const ps = vm.pageSize;
  // overlapping PT_LOADs (the kernel text's) count once
  const memory = normalize(vm.loads.map((l): PfnRange => [Math.floor(l.paddr / ps), Math.ceil((l.paddr + l.memsz) / ps)]));
  const data = normalize(vm.loads.filter((l) => l.filesz > 0).map((l): PfnRange => [Math.floor(l.paddr / ps), Math.ceil((l.paddr + l.filesz) / ps)]));
  const present = totalPfns(memory);
  const dumped = totalPfns(data);
  const total = memory.length ? memory[memory.length - 1][1] : 0;
  return { total, present, dumped, inThisFile: dumped, zeroDescriptors: 0, excluded: present - dumped, lost: 0 };
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
    let info: DumpInfo;
    if (input instanceof KdumpVmcore) {
      const h = input.header;
      info = {
        file, format: 'kdump-compressed', headerVersion: h.header_version, fileSize: input.fileSize,
        kernel: { release: h.release, version: h.version, machine: h.machine, nodename: h.nodename },
        crashTime: Number(h.tv_sec) || null,
        dumpLevel: input.sub.dump_level,
        codec: codecOfStatus(h.status),
        complete: !input.incomplete,
        excludedVmemmap: (h.status & DUMP_DH_EXCLUDED_VMEMMAP) !== 0,
        split: input.isSplit ? { startPfn: input.splitRange.start, endPfn: input.splitRange.end } : null,
        pageSize: input.pageSize,
        pages: kdumpPages(input),
        panic: null, log: [],
      };
    } else {
      const vm = input as ElfVmcore;
      info = {
        file, format: 'elf', fileSize: vm.info.fileSize,
        kernel: { release: '', version: '', machine: vm.arch.utsMachine, nodename: '' },
        crashTime: null, dumpLevel: null, codec: null,
        complete: (vm.info.eFlags & 1) === 0,
        excludedVmemmap: false, split: null, pageSize: vm.pageSize,
        pages: elfPages(vm),
        panic: null, log: [],
      };
    }
    // the kernel itself: its name (ELF) and its log (both), through VMCOREINFO
    try {
      const kd = input instanceof KdumpVmcore ? input : undefined;
      const km = buildKernelModel(input, input.vmcoreinfo?.text, {
        warn, needPageLayout: false, maxMapnr: kd?.maxMapnr, physBase: kd ? kd.sub.phys_base : undefined, arch: input.arch,
      });
      if (info.format === 'elf') {
        info.kernel = {
          release: km.release, version: cField(km.utsname, 195), machine: cField(km.utsname, 260) || km.arch.utsMachine,
          nodename: cField(km.utsname, 65),
        };
        info.crashTime = km.crashTime || null;
      }
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
  if (i.logError) {
    out.push('', `Kernel log: can't be read: ${i.logError}`);
  } else {
    out.push('', `Kernel log (last ${i.log.length} lines, read from the dump):`, ...i.log.map((l) => `  ${l}`));
  }
  out.push('');
  return out.join('\n');
}

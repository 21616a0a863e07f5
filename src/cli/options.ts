// Every option cyclodump understands, declared once: the parser, --help, the man page and
// the README's option table are all made from this list. makedumpfile 1.7.2's options keep
// its spelling and meaning; the few it has that cyclodump cannot honour are still declared,
// so that they are refused with a reason instead of being ignored or misread.

export type OptionStatus =
  /** makedumpfile's option, with its meaning */
  | 'supported'
  /** makedumpfile's option that cyclodump refuses (the reason says why) */
  | 'unsupported'
  /** cyclodump's own */
  | 'extension';

export interface OptionDef {
  /** short letter without the dash, if any */
  short?: string;
  /** long name without the dashes, if any */
  long?: string;
  /** value placeholder, e.g. 'LEVEL'; absent for flags */
  arg?: string;
  /** key in the parsed result */
  key: string;
  status: OptionStatus;
  help: string;
  /** for unsupported options: why */
  reason?: string;
}

export const OPTIONS: readonly OptionDef[] = [
  { short: 'c', key: 'c', status: 'supported', help: 'Compress each page with zlib (level 1).' },
  { short: 'l', key: 'l', status: 'supported', help: 'Compress each page with LZO1X-1.' },
  { short: 'p', key: 'p', status: 'supported', help: 'Compress each page with snappy.' },
  { short: 'z', key: 'z', status: 'supported', help: 'Compress each page with zstd (level 1). The last of -c/-l/-p/-z wins.' },
  { short: 'd', arg: 'LEVEL', key: 'd', status: 'supported', help: 'Dump level: the sum of 1 (pages filled with zero), 2 (cache without private data), 4 (all cache), 8 (user data), 16 (free pages). LEVEL,LEVEL,... retries with the next level when the disk fills.' },
  { short: 'E', key: 'E', status: 'supported', help: 'Write an ELF dump file instead of kdump-compressed.' },
  { short: 'F', key: 'F', status: 'supported', help: 'Write the dump to stdout in makedumpfile\'s flattened format (for ssh); rebuild it with -R.' },
  { short: 'R', key: 'R', status: 'supported', help: 'Rebuild a dump file from a flattened stream on stdin: cyclodump -R DUMPFILE < STREAM.' },
  { short: 'f', key: 'f', status: 'supported', help: 'Overwrite an existing dump file (without it, an existing file is refused).' },
  { short: 'b', arg: 'ORDER', key: 'b', status: 'supported', help: 'With -F, write records of at most page size << ORDER bytes (default 4), as makedumpfile\'s cache; no effect on the dump\'s contents.' },
  { short: 'D', key: 'D', status: 'supported', help: 'Print debugging messages (message level 8).' },
  { short: 'L', arg: 'SIZE', key: 'L', status: 'supported', help: 'Limit the dump file to SIZE bytes (K, M, G, T suffixes); reaching it is handled like a full disk.' },
  { short: 'e', key: 'e', status: 'supported', help: 'Also leave out the struct pages (vmemmap) of excluded memory; needs --work-dir.' },
  { short: 'i', arg: 'VMCOREINFO', key: 'i', status: 'supported', help: 'Read VMCOREINFO from this file instead of the vmcore\'s note.' },
  { short: 'g', arg: 'VMCOREINFO', key: 'g', status: 'unsupported', help: 'Generate VMCOREINFO from a vmlinux.', reason: 'it needs the DWARF debug information of a vmlinux, which cyclodump does not read' },
  { short: 'x', arg: 'VMLINUX', key: 'x', status: 'unsupported', help: 'Read symbols from a vmlinux.', reason: 'cyclodump works from VMCOREINFO alone and does not read DWARF debug information' },
  { short: 'X', key: 'X', status: 'unsupported', help: 'Exclude Xen domain-U pages.', reason: 'Xen hypervisor dumps are not supported' },
  { short: 'h', long: 'help', key: 'help', status: 'supported', help: 'Show this help.' },
  { short: 'v', key: 'v', status: 'supported', help: 'Show the version.' },
  { long: 'split', key: 'split', status: 'supported', help: 'Write the dump as several files, written at the same time: cyclodump --split VMCORE DUMPFILE1 DUMPFILE2 [...].' },
  { long: 'reassemble', key: 'reassemble', status: 'supported', help: 'Merge split dump files into one: cyclodump --reassemble DUMPFILE1 DUMPFILE2 [...] DUMPFILE.' },
  { long: 'xen-syms', arg: 'XEN-SYMS', key: 'xenSyms', status: 'unsupported', help: 'Xen hypervisor symbols.', reason: 'Xen hypervisor dumps are not supported' },
  { long: 'xen-vmcoreinfo', arg: 'VMCOREINFO', key: 'xenVmcoreinfo', status: 'unsupported', help: 'Xen VMCOREINFO.', reason: 'Xen hypervisor dumps are not supported' },
  { long: 'xen_phys_start', arg: 'ADDRESS', key: 'xenPhysStart', status: 'unsupported', help: 'Xen physical start.', reason: 'Xen hypervisor dumps are not supported' },
  { long: 'message-level', arg: 'N', key: 'messageLevel', status: 'supported', help: 'Bit mask of messages to print: 1 progress, 2 common, 4 errors, 8 debug, 16 report (default 7).' },
  { long: 'vtop', arg: 'VADDR', key: 'vtop', status: 'supported', help: 'Print the page-table walk translating this kernel virtual address.' },
  { long: 'dump-dmesg', key: 'dumpDmesg', status: 'supported', help: 'Write the kernel log of the crashed kernel: cyclodump --dump-dmesg VMCORE LOGFILE.' },
  { long: 'partial-dmesg', key: 'partialDmesg', status: 'supported', help: 'With --dump-dmesg: only the messages after the last dmesg -c.' },
  { long: 'config', arg: 'FILE', key: 'config', status: 'unsupported', help: 'Erase data named in a filter configuration file.', reason: 'erasing by symbol needs a vmlinux\'s debug information' },
  { long: 'eppic', arg: 'FILE', key: 'eppic', status: 'unsupported', help: 'Erase data with an eppic macro.', reason: 'eppic macros need a vmlinux\'s debug information' },
  { long: 'diskset', arg: 'DEVICE', key: 'diskset', status: 'unsupported', help: 'sadump disk set.', reason: 'sadump dumps are not supported' },
  { long: 'cyclic-buffer', arg: 'KIB', key: 'cyclicBuffer', status: 'supported', help: 'Bitmap memory per cycle in KiB; default: makedumpfile\'s rule (at most 4 MiB, 60% of free memory, enough for all RAM).' },
  { long: 'non-mmap', key: 'nonMmap', status: 'supported', help: 'Read the vmcore with read(2) only, never through mmap(2) (by default /proc/vmcore is read through a 4 MiB window mapped over it, as makedumpfile does; a regular file is read with pread either way).' },
  { long: 'mem-usage', key: 'memUsage', status: 'supported', help: 'Print how many pages of each kind the crashed system had, and write nothing: cyclodump --mem-usage VMCORE.' },
  { long: 'splitblock-size', arg: 'KIB', key: 'splitblockSize', status: 'supported', help: 'With --split: balance the files in blocks of this many KiB (default 1 GiB).' },
  { long: 'work-dir', arg: 'DIR', key: 'workDir', status: 'supported', help: 'Keep the 2nd bitmap in a file in DIR instead of memory (and choose makedumpfile\'s one-cycle mode).' },
  { long: 'num-threads', arg: 'N', key: 'numThreads', status: 'supported', help: 'Worker threads; default: the CPUs this process may run on. 0 or 1: no worker threads.' },
  { long: 'check-params', key: 'checkParams', status: 'supported', help: 'Only check the command line, as makedumpfile does; exit 0 if it is valid.' },
  { long: 'dry-run', key: 'dryRun', status: 'supported', help: 'Do everything but write the dump file.' },
  { long: 'show-stats', key: 'showStats', status: 'supported', help: 'Print the page report (message level 16).' },
  { long: 'bitmap-cache', arg: 'KIB', key: 'bitmapCache', status: 'extension', help: 'Memory for the run-length coded 2nd bitmap kept between the two passes when it cannot wait in the dump file itself (-F, -E, --split, --dry-run; default 32768); cycles that do not fit are scanned again. 0: keep nothing, scan every cycle twice as makedumpfile does.' },
  { long: 'pfn-order', key: 'pfnOrder', status: 'extension', help: 'Write page data in pfn order, as makedumpfile does, so that the file is byte for byte makedumpfile\'s. By default the pages a reader needs first (kernel page tables, utsname, the kernel log, the CPUs\' stacks, node data, mem_section, the struct pages) are written before the rest, so that a dump cut short by a full disk or a reset still tells why the machine died; the bitmaps and descriptors are in pfn order either way. No effect on -E.' },
  { long: 'report-json', arg: 'FILE', key: 'reportJson', status: 'extension', help: 'Also write the page report as JSON to FILE.' },
  { long: 'log-json', key: 'logJson', status: 'extension', help: 'Write log lines as JSON (pino) on stderr instead of text.' },
];

/** How the option is written on a command line, e.g. "-d LEVEL" or "--num-threads N". */
export function optionSynopsis(o: OptionDef): string {
  const names = [o.short ? `-${o.short}` : '', o.long ? `--${o.long}` : ''].filter(Boolean).join(', ');
  return o.arg ? `${names} ${o.arg}` : names;
}

/** cyclodump's own commands, each with its options (rendered in --help and the man page too). */
export interface SubcommandDef {
  name: string;
  synopsis: string;
  help: string;
  options: readonly OptionDef[];
}

export const SUBCOMMANDS: readonly SubcommandDef[] = [
  {
    name: 'info',
    synopsis: 'cyclodump info [--json] [--lines N] DUMPFILE',
    help: 'Describe a dump: kernel release, crash time, dump level, compression, complete or not, split part, pages present, dumped, stored as the zero page, excluded and lost, and the panic message and last lines of the kernel log read from the dump itself. DUMPFILE is a kdump-compressed dump (cyclodump\'s or makedumpfile\'s) or an ELF vmcore.',
    options: [
      { long: 'json', key: 'json', status: 'extension', help: 'Print the information as one JSON object.' },
      { long: 'lines', arg: 'N', key: 'lines', status: 'extension', help: 'Kernel log lines to show (default 20).' },
    ],
  },
  {
    name: 'map',
    synopsis: 'cyclodump map [-c|-l|-p|-z] [--json] VMCORE --svg FILE',
    help: 'Classify every page of VMCORE as dump level 31 does, without writing a dump, and draw physical memory by page class along the pfn axis as an SVG picture, with the pages each dump level (0, 1, 16, 17, 31) keeps and the size of the dump it would write. Every page is read once for the zero test.',
    options: [
      { long: 'svg', arg: 'FILE', key: 'svg', status: 'extension', help: 'Write the picture to FILE.' },
      { short: 'c', key: 'c', status: 'extension', help: 'Estimate sizes with zlib.' },
      { short: 'l', key: 'l', status: 'extension', help: 'Estimate sizes with LZO.' },
      { short: 'p', key: 'p', status: 'extension', help: 'Estimate sizes with snappy.' },
      { short: 'z', key: 'z', status: 'extension', help: 'Estimate sizes with zstd (without -c/-l/-p/-z: pages stored raw).' },
      { long: 'json', key: 'json', status: 'extension', help: 'Print the figures as one JSON object instead of a table.' },
      { long: 'message-level', arg: 'N', key: 'messageLevel', status: 'extension', help: 'As for a dump (bit 1: progress on stderr).' },
    ],
  },
];

export const USAGE_LINES = [
  'cyclodump [-c|-l|-p|-z|-E] [-d LEVEL] [options] VMCORE DUMPFILE',
  'cyclodump -F [-c|-l|-p|-z|-E] [-d LEVEL] [options] VMCORE > STREAM',
  'cyclodump -R DUMPFILE < STREAM',
  'cyclodump --split [-c|-l|-p|-z] [-d LEVEL] [options] VMCORE DUMPFILE1 DUMPFILE2 [...]',
  'cyclodump --reassemble DUMPFILE1 DUMPFILE2 [...] DUMPFILE',
  'cyclodump --dump-dmesg [--partial-dmesg] [-i VMCOREINFO] VMCORE LOGFILE',
  'cyclodump --mem-usage VMCORE',
  ...SUBCOMMANDS.map((c) => c.synopsis),
];

/** Memory use, stated where operators of small capture kernels will look (--help, README). */
export const MEMORY_NOTE = [
  'Memory: about 45 MiB for Node itself, plus the cyclic buffer (at most 4 MiB by default),',
  'plus, with -F, -E, --split or --dry-run, the 2nd-bitmap cache (--bitmap-cache, at most 32 MiB,',
  'usually far less; a dump file keeps that bitmap itself between the passes),',
  'plus 3 x 4 MiB of page batches in flight and a 4 MiB window mapped over /proc/vmcore per worker',
  'thread, plus about 20 MiB per worker thread.',
  'Peak RSS does not grow with the size of the crashed machine\'s RAM.',
];

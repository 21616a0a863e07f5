// What an input file holds, told by the input itself (each format reads its own headers):
// the figures of `cyclodump info` that do not need the kernel's own data.

export interface InputPages {
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
}

export interface InputDescription {
  format: 'kdump-compressed' | 'elf';
  /** kdump-compressed header version */
  headerVersion?: number;
  fileSize: number;
  /** the kernel as the file's header names it (an ELF vmcore names only the machine; VMCOREINFO tells the rest) */
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
  pages: InputPages;
}

// The pages a dump cut short must hold to be read at all and to say why the machine died,
// in the order they are worth writing: the kernel's page tables (every other kernel
// address goes through them), the kernel's name, its log, what VMCOREINFO names, the
// stacks the CPUs' register notes point into, the node data, the mem_section tables and
// the struct pages (mem_map). Found from VMCOREINFO and the notes alone, by the same
// look-ups the readers use (kernel-model, printk, memmap). Pass 2 writes them first
// (src/pipeline/write-order.ts); `cyclodump info` says which of them a dump holds.
// Spec: docs/spec/write-order.md.
import { NT_PRSTATUS } from '../format/elf';
import type { Translator } from '../translate';
import type { ElfNote } from '../vmcore/notes';
import { KernelModel, utsnameAddress } from './kernel-model';
import { logRanges } from './printk';

export type PriorityGroupName = 'page-tables' | 'utsname' | 'printk' | 'symbols' | 'stacks' | 'node-data' | 'mem-section' | 'mem-map';

/** The groups, in write order, and why each is there (info and the docs say it). */
export const PRIORITY_GROUPS: readonly { name: PriorityGroupName; why: string }[] = [
  { name: 'page-tables', why: 'kernel page tables: every kernel virtual address is translated through them' },
  { name: 'utsname', why: 'init_uts_ns: the kernel release and machine the dump header and readers check' },
  { name: 'printk', why: 'the printk ring buffer, its descriptors and infos: the kernel log and the panic message' },
  { name: 'symbols', why: 'the first page of every SYMBOL() VMCOREINFO names' },
  { name: 'stacks', why: 'the stacks the NT_PRSTATUS notes\' stack pointers point into (the crashing task\'s among them)' },
  { name: 'node-data', why: 'node_data / contig_page_data: the nodes and their zones' },
  { name: 'mem-section', why: 'mem_section: where each pfn\'s struct page is' },
  { name: 'mem-map', why: 'the struct pages of the dumped pages: what refiltering and page-class tools read' },
];

export interface PriorityGroup {
  name: PriorityGroupName;
  /** physical page numbers, ascending, each once in the group (empty for mem-map: see memMap) */
  pfns: Float64Array;
  /** mem-map: its pages as runs of physically contiguous mem_map, with the pfns each page describes */
  memMap?: MemMapRuns;
}

/** Pages a group names (mem-map: every page of every run, a page shared by two runs twice). */
export function groupPages(g: PriorityGroup): number {
  return g.memMap ? g.memMap.pages : g.pfns.length;
}

/**
 * Every page of a group, in the group's own order (mem-map: run by run, in mem_map's
 * virtual order), with, for mem-map, the pfns [describeStart, describeEnd) its struct
 * pages describe. For tests and `info`; pass 2 reads the runs directly (write-order.ts).
 */
export function forEachGroupPage(g: PriorityGroup, fn: (pfn: number, describeStart?: number, describeEnd?: number) => void): void {
  if (!g.memMap) {
    for (let i = 0; i < g.pfns.length; i++) fn(g.pfns[i]);
    return;
  }
  const m = g.memMap;
  const d = new Float64Array(2);
  for (let r = 0; r < m.count; r++) {
    for (let k = 0; k < m.runPages[r]; k++) {
      m.describes(r, k, d);
      fn(m.runPfn[r] + k, d[0], d[1]);
    }
  }
}

/**
 * The pages of mem_map (struct pages) as runs: each run a stretch of one memmap range's
 * mem_map that is physically contiguous (translations merged while the next one starts
 * where the last ended), so a run is its first physical pfn and a page count, and the pfns
 * page k of it describes follow by arithmetic (describes()). Runs are in creation order:
 * mem_map's virtual order, so the pfns they describe ascend; their physical pfns need not.
 *
 * Memory: 52 bytes per run (the typed arrays below, grown by doubling), nothing per page.
 * A PMD-mapped vmemmap (x86_64, arm64) gives at most one run per 2 MiB of mem_map (512
 * pages of struct pages, 32,768 pfns), fewer where physically contiguous: on a 1 TiB
 * machine (4M pages of mem_map) at most 8,192 runs, 426 KB. The worst case, every vmemmap
 * page on a physical page of its own (4 KiB mappings, not contiguous), is one run per
 * page: 52 bytes each. WriteOrder adds 2 bits a page and 24 bytes a run.
 */
export class MemMapRuns {
  count = 0;
  /** pages over all runs */
  pages = 0;
  /** first physical pfn of each run, and its pages */
  runPfn: Float64Array = new Float64Array(16);
  runPages: Uint32Array = new Uint32Array(16);
  /** the memmap range's pfns [pfnStart, pfnEnd), whose struct pages the run holds */
  rangeStart: Float64Array = new Float64Array(16);
  rangeEnd: Float64Array = new Float64Array(16);
  /**
   * byte offsets into the range's mem_map: where the run's first physical page would begin
   * (its first byte may lie before the mem_map: base < first), the run's first byte, its end
   */
  base: Float64Array = new Float64Array(16);
  first: Float64Array = new Float64Array(16);
  end: Float64Array = new Float64Array(16);

  constructor(readonly pageSize: number, readonly sizePage: number) {}

  /** Adds len bytes of a range's mem_map at byte offset `offset`, physical address pa. */
  add(pa: number, offset: number, len: number, rangeStart: number, rangeEnd: number): void {
    const ps = this.pageSize;
    const last = this.count - 1;
    if (last >= 0 && this.rangeStart[last] === rangeStart && this.end[last] === offset
      && this.runPfn[last] * ps + (this.end[last] - this.base[last]) === pa) {
      // physically contiguous with the run before: it grows
      this.end[last] = offset + len;
      const pages = Math.ceil((this.end[last] - this.base[last]) / ps);
      this.pages += pages - this.runPages[last];
      this.runPages[last] = pages;
      return;
    }
    if (this.count === this.runPfn.length) this.grow();
    const r = this.count++;
    const inPage = pa % ps;
    this.runPfn[r] = (pa - inPage) / ps;
    this.runPages[r] = Math.ceil((inPage + len) / ps);
    this.rangeStart[r] = rangeStart;
    this.rangeEnd[r] = rangeEnd;
    this.base[r] = offset - inPage;
    this.first[r] = offset;
    this.end[r] = offset + len;
    this.pages += this.runPages[r];
  }

  /** The pfns page k of run r describes: out[0] = first, out[1] = end (exclusive). */
  describes(r: number, k: number, out: Float64Array): void {
    const ps = this.pageSize;
    const from = Math.max(this.first[r], this.base[r] + k * ps);
    const to = Math.min(this.end[r], this.base[r] + (k + 1) * ps);
    out[0] = this.rangeStart[r] + Math.floor(from / this.sizePage);
    out[1] = Math.min(this.rangeEnd[r], this.rangeStart[r] + Math.ceil(to / this.sizePage));
  }

  private grow(): void {
    const n = this.runPfn.length * 2;
    const f = (a: Float64Array): Float64Array => { const b = new Float64Array(n); b.set(a); return b; };
    this.runPfn = f(this.runPfn);
    const p = new Uint32Array(n);
    p.set(this.runPages);
    this.runPages = p;
    this.rangeStart = f(this.rangeStart);
    this.rangeEnd = f(this.rangeEnd);
    this.base = f(this.base);
    this.first = f(this.first);
    this.end = f(this.end);
  }
}

/** Table pages walked at most: a corrupt table cannot make the walk run away. */
const MAX_TABLE_PAGES = 1 << 22;

/** The groups of a kernel, each listing the pages it found (none without VMCOREINFO). */
export function priorityPages(km: KernelModel, noteBytes: Uint8Array, notes: readonly ElfNote[]): PriorityGroup[] {
  const tr = km.translator;
  const vi = km.vmcoreinfo;
  if (!tr || !vi) return [];
  const ps = km.pageSize;
  const virt = (ranges: { va: bigint; len: number }[]): Float64Array => sortedUnique(ranges.flatMap((r) => pfnsOfVirt(tr, r.va, r.len, ps)));
  const groups: PriorityGroup[] = [];
  groups.push({ name: 'page-tables', pfns: sortedUnique(tr.tablePages(MAX_TABLE_PAGES).map((pa) => Math.floor(pa / ps))) });
  const uts = utsnameAddress(vi);
  groups.push({ name: 'utsname', pfns: uts === undefined ? new Float64Array(0) : virt([{ va: uts, len: 390 }]) });
  groups.push({ name: 'printk', pfns: virt(logRanges(km)) });
  groups.push({ name: 'symbols', pfns: virt(symbolRanges(km)) });
  groups.push({ name: 'stacks', pfns: virt(stackRanges(km, noteBytes, notes)) });
  groups.push({ name: 'node-data', pfns: virt(nodeRanges(km)) });
  groups.push({ name: 'mem-section', pfns: virt(km.memmap?.read ?? []) });
  groups.push(memMapGroup(km, tr));
  return groups;
}

/** The physical pages of [va, va+len), as far as the tables map them. */
export function pfnsOfVirt(tr: Translator, va: bigint, len: number, pageSize: number): number[] {
  const out: number[] = [];
  let done = 0;
  while (done < len) {
    const t = tr.translate(va + BigInt(done));
    if (!t) {
      // an unmapped page: on to the next one
      done += pageSize - Number((va + BigInt(done)) % BigInt(pageSize));
      continue;
    }
    const n = Math.min(len - done, t.span);
    for (let p = Math.floor(t.pa / pageSize); p * pageSize < t.pa + n; p++) out.push(p);
    done += n;
  }
  return out;
}

function sortedUnique(list: number[]): Float64Array {
  const a = Float64Array.from(list).sort();
  let n = 0;
  for (let i = 0; i < a.length; i++) if (i === 0 || a[i] !== a[n - 1]) a[n++] = a[i];
  return a.slice(0, n);
}

/** The page each SYMBOL() line names (its first byte's page). */
function symbolRanges(km: KernelModel): { va: bigint; len: number }[] {
  const vi = km.vmcoreinfo!;
  const out: { va: bigint; len: number }[] = [];
  for (const name of vi.symbolNames()) {
    try {
      const va = vi.symbol(name)!;
      if (va >= km.kernelBase) out.push({ va, len: 1 });
    } catch {
      // a value makedumpfile would refuse: no page for it
    }
  }
  return out;
}

/**
 * Around each CPU's saved stack pointer: its aligned THREAD_SIZE block (the task's whole
 * stack) and a page below and two above (an IRQ or exception stack is not so aligned).
 */
function stackRanges(km: KernelModel, noteBytes: Uint8Array, notes: readonly ElfNote[]): { va: bigint; len: number }[] {
  const at = km.arch.prstatusSpOffset;
  const size = BigInt(Math.max(km.arch.threadSize, km.pageSize));
  const ps = BigInt(km.pageSize);
  const out: { va: bigint; len: number }[] = [];
  const view = Buffer.from(noteBytes.buffer, noteBytes.byteOffset, noteBytes.byteLength);
  for (const n of notes) {
    if (n.name !== 'CORE' || n.type !== NT_PRSTATUS || n.descSize < at + 8 || n.descOffset + at + 8 > view.length) continue;
    const sp = view.readBigUInt64LE(n.descOffset + at);
    if (sp < km.kernelBase || km.kernelBase === 0n) continue;
    out.push({ va: sp - (sp % size), len: Number(size) });
    const page = sp - (sp % ps);
    if (page >= ps) out.push({ va: page - ps, len: Number(3n * ps) });
  }
  return out;
}

/** node_online_map, node_data[] and each node's pglist_data (its zones inside), or contig_page_data. */
function nodeRanges(km: KernelModel): { va: bigint; len: number }[] {
  const vi = km.vmcoreinfo!;
  const tr = km.translator!;
  const out: { va: bigint; len: number }[] = [];
  const pgdat = vi.size('pglist_data') ?? km.pageSize;
  const sym = (name: string): bigint | undefined => {
    try { return vi.symbol(name); } catch { return undefined; }
  };
  const online = sym('node_online_map');
  if (online !== undefined) out.push({ va: online, len: vi.size('nodemask_t') ?? 8 });
  const contig = sym('contig_page_data');
  if (contig !== undefined) out.push({ va: contig, len: pgdat });
  const nodeData = sym('node_data');
  const n = vi.length('node_data') ?? 0;
  if (nodeData !== undefined && n > 0 && n <= 1 << 16) {
    out.push({ va: nodeData, len: 8 * n });
    // the pointer array in one read (up to the first page it cannot read)
    const ptrs = new Uint8Array(8 * n);
    const got = Math.floor(tr.readVirt(nodeData, ptrs, 0, ptrs.length) / 8);
    const view = Buffer.from(ptrs.buffer, 0, got * 8);
    for (let i = 0; i < got; i++) {
      const p = view.readBigUInt64LE(8 * i);
      if (p !== 0n && p >= km.kernelBase && km.kernelBase !== 0n) out.push({ va: p, len: pgdat });
    }
  }
  return out;
}

/** The pages of struct pages of every mem_map range, as runs (MemMapRuns). */
function memMapGroup(km: KernelModel, tr: Translator): PriorityGroup {
  const sizePage = km.vmcoreinfo?.size('page') ?? 0;
  const ps = km.pageSize;
  const g: PriorityGroup = { name: 'mem-map', pfns: new Float64Array(0), memMap: new MemMapRuns(ps, Math.max(1, sizePage)) };
  if (!km.memmap || sizePage <= 0) return g;
  for (const r of km.memmap.ranges) {
    const len = (r.pfnEnd - r.pfnStart) * sizePage;
    let done = 0;
    while (done < len) {
      const va = r.memMap + BigInt(done);
      const t = tr.translate(va);
      const n = Math.min(len - done, t ? t.span : ps - Number(va % BigInt(ps)));
      if (t) g.memMap!.add(t.pa, done, n, r.pfnStart, r.pfnEnd);
      done += n;
    }
  }
  return g;
}

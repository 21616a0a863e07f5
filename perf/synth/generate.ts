// Synthetic vmcore generator (issue 3): writes an ELF64 x86_64 vmcore as a
// Linux 6.1 /proc/vmcore presents it to makedumpfile 1.7.2 (spec elf-output.md §1),
// with page tables, mem_section / mem_map, struct pages and page contents laid
// out so that makedumpfile's filtering gives known counts, and writes those
// counts for every dump level next to it (FILE.expected.json).
//
// Disk use: zero pages are never written (the file is sparse); struct pages,
// page tables and non-zero pages are written in large positioned writes.

import * as fs from 'fs';
import { Elf64Ehdr, Elf64Nhdr, Elf64Phdr, ELFCLASS64, ELFDATA2LSB, ELF_MAGIC, EM_AARCH64, EM_X86_64, ET_CORE, NT_PRSTATUS, PT_LOAD, PT_NOTE, noteAlign } from '../../src/format/elf';
import { arm64Prstatus } from './arm64';
import { C, ContentPools, isZeroPage } from './content';
import { K, KIND_NAMES, LevelCounts, expectedByLevel } from './kinds';
import { buildKernelMemory, poolBytesFor } from './kernel';
import { GiB, Layout, MemoryModel, PAGE, SynthArch, buildLayout, directMap, textVirt } from './layout';
import { Mix, parseMix } from './mix';
import { CHUNK, ChunkPlan, Planner } from './planner';
import { Rng, hashOf } from './prng';
import { StructPageEncoder } from './structpage';
import { buildVmcoreinfo, kernelFacts, templateOsrelease } from './vmcoreinfo';

export const GENERATOR_VERSION = 1;

export interface GenerateOptions {
  /** the crashed machine: x86_64 (default) or arm64 (4 KiB pages, 48-bit VAs) */
  arch?: SynthArch;
  /** RAM size in bytes (like QEMU -m); multiple of 2 MiB, ≥ 256 MiB */
  ramBytes: number;
  /** output vmcore path; the expected counts go to `${out}.expected.json` */
  out: string;
  seed?: number;
  layout?: MemoryModel;
  levels?: 4 | 5;
  /** preset name and/or key=value list (mix.ts) */
  mix?: string;
  nodes?: number;
  cpus?: number;
  /** PT_LOAD p_vaddr: direct-map address (kdump /proc/vmcore) or = p_paddr (QEMU) */
  vaddr?: 'direct' | 'phys';
  /** bytes of non-zero page data to aim for outside the kernel's own structures;
   * default min(RAM, 4 GiB); 'all' = no cap */
  dataBytes?: number | 'all';
  osrelease?: string;
  crashTime?: number;
  /** pages per write batch (default 4096 = 16 MiB) */
  batchPages?: number;
  /** progress lines on stderr */
  progress?: boolean;
  /** write FILE.expected.json (default true) */
  writeExpected?: boolean;
}

export interface ExpectedJson {
  generator: {
    version: number;
    arch: SynthArch;
    seed: number;
    ram_bytes: number;
    layout: MemoryModel;
    levels: 4 | 5;
    mix_name: string;
    mix: Mix;
    vaddr: 'direct' | 'phys';
    data_bytes: number | 'all';
  };
  machine: {
    osrelease: string;
    nodes: number;
    cpus: number;
    max_mapnr: number;
    ram_pages: number;
    sections_present: number;
    pt_loads: { paddr: number; size: number; offset: number; node: number }[];
    page_offset_base: string;
    vmemmap_base: string;
    kernel_offset: string;
    phys_base: number;
    /** arm64: PHYS_OFFSET */
    phys_offset?: number;
    text_phys: string;
    init_top_pgt: string;
    mem_section?: string;
    length_mem_section?: number;
    mem_map?: string;
    max_physmem_bits: number;
    vmcoreinfo: string[];
  };
  /** pages and zero-filled pages per unit kind (the page's compound/buddy head decides) */
  kinds: Record<string, { pages: number; zero: number }>;
  /** makedumpfile --message-level 31 report counts per dump level "0".."31" */
  levels: Record<string, LevelCounts>;
  file: {
    bytes: number;
    data_offset: number;
    written_bytes: number;
    nonzero_pages: number;
  };
  timing: { seconds: number; virtual_mb_per_s: number; written_mb_per_s: number };
}

export interface GenerateResult {
  path: string;
  expectedPath: string;
  expected: ExpectedJson;
}

const PROGRESS_EVERY_MS = 2000;

export async function generateVmcore(opts: GenerateOptions): Promise<GenerateResult> {
  const t0 = process.hrtime.bigint();
  const seed = (opts.seed ?? 1) >>> 0;
  const model = opts.layout ?? 'sparse-extreme';
  const levels = opts.levels ?? 4;
  const { name: mixName, mix } = parseMix(opts.mix);
  const vaddrMode = opts.vaddr ?? 'direct';
  const rng = new Rng(hashOf(seed, 0x6c61796f));
  const arch = opts.arch ?? 'x86_64';
  const layout = buildLayout({ arch, ramBytes: opts.ramBytes, model, levels, nodes: opts.nodes, seed }, rng, poolBytesFor);
  const cpus = opts.cpus ?? Math.min(64, Math.max(2, Math.round(opts.ramBytes / (16 * GiB)) * 2));
  const facts = kernelFacts(layout.arch);
  const pools = new ContentPools(seed, Number(layout.pageOffsetBase >> 32n));
  const osrelease = opts.osrelease ?? templateOsrelease(layout.arch);
  const km = buildKernelMemory(layout, facts, pools, {
    nodename: `synth-${seed}`,
    release: osrelease,
    version: '#1 SMP PREEMPT_DYNAMIC cyclodump synthetic vmcore',
  });
  const crashTime = opts.crashTime ?? 1700000000 + (hashOf(seed, 0x74696d65) % 50000000);
  const buildId = [0, 1, 2, 3, 4].map((i) => hashOf(seed, 0x6275696c, i).toString(16).padStart(8, '0')).join('');
  const vmcoreinfo = buildVmcoreinfo(layout, {
    osrelease, buildId, memSection: km.symbols.memSection, lengthMemSection: km.symbols.lengthMemSection,
    memMap: km.symbols.memMap, contigPageData: km.symbols.contigPageData, crashTime,
  });

  const planner = new Planner(layout, mix, seed);
  const dataBytes = opts.dataBytes ?? Math.min(opts.ramBytes, 4 * GiB);
  setDataBudget(planner, layout, mix, dataBytes);
  const encoder = new StructPageEncoder(layout, planner, facts);

  // ---- ELF headers and notes ----
  const notes = buildNotes(layout, cpus, vmcoreinfo);
  const phnum = 1 + layout.ranges.length;
  const notesOffset = 64 + 56 * phnum;
  const dataOffset = Math.ceil((notesOffset + notes.length) / PAGE) * PAGE;
  const head = Buffer.alloc(dataOffset);
  Elf64Ehdr.encode({
    e_ident: Buffer.from([...ELF_MAGIC, ELFCLASS64, ELFDATA2LSB, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    e_type: ET_CORE, e_machine: arch === 'arm64' ? EM_AARCH64 : EM_X86_64, e_version: 1, e_entry: 0n, e_phoff: 64, e_shoff: 0, e_flags: 0,
    e_ehsize: 64, e_phentsize: 56, e_phnum: phnum, e_shentsize: 0, e_shnum: 0, e_shstrndx: 0,
  }, head, 0);
  Elf64Phdr.encode({
    p_type: PT_NOTE, p_flags: 0, p_offset: notesOffset, p_vaddr: 0n, p_paddr: 0,
    p_filesz: notes.length, p_memsz: notes.length, p_align: 0n,
  }, head, 64);
  const loads: { paddr: number; size: number; offset: number; node: number }[] = [];
  let off = dataOffset;
  layout.ranges.forEach((r, i) => {
    const size = r.end - r.start;
    Elf64Phdr.encode({
      p_type: PT_LOAD, p_flags: 7, p_offset: off,
      p_vaddr: vaddrMode === 'direct' ? directMap(layout, r.start) : BigInt(r.start),
      p_paddr: r.start, p_filesz: size, p_memsz: size, p_align: 0n,
    }, head, 64 + 56 * (i + 1));
    loads.push({ paddr: r.start, size, offset: off, node: r.node });
    off += size;
  });
  const fileBytes = off;
  notes.copy(head, notesOffset);

  // ---- page data ----
  const fd = fs.openSync(opts.out, 'w');
  const pages = new Float64Array(K.COUNT);
  const zeros = new Float64Array(K.COUNT);
  const writer = new BatchWriter(fd, opts.batchPages ?? 4096, 4);
  let nonzeroPages = 0;
  try {
    fs.writeSync(fd, head, 0, head.length, 0);
    fs.ftruncateSync(fd, fileBytes);
    writer.written = head.length;
    const batch = writer.batchPages;
    const plan = new ChunkPlan();
    const resv = layout.reservations;
    let lastReport = Date.now();
    let donePages = 0;
    for (const load of loads) {
      const p0 = load.paddr / PAGE;
      const p1 = p0 + load.size / PAGE;
      for (let a = p0; a < p1;) {
        // batches end on chunk boundaries so a chunk is planned once
        let b = Math.min(p1, a + batch);
        if (b < p1 && Math.floor(b / CHUNK) * CHUNK > a) b = Math.floor(b / CHUNK) * CHUNK;
        const slot = await writer.acquire();
        const { buf, w32, nz } = slot;
        let ri = firstReservationEndingAfter(resv, a);
        for (let pfn = a; pfn < b;) {
          const r = ri < resv.length && resv[ri].startPfn <= pfn ? resv[ri] : undefined;
          if (r) {
            const end = Math.min(r.endPfn, b);
            const n = end - pfn;
            const at = (pfn - a) * PAGE;
            if (r.what === 'memmap') {
              encoder.encode(r.section as number, pfn - r.startPfn, end - r.startPfn, w32, at / 4);
            } else {
              const src: Buffer = r.what === 'kernel' ? km.image : km.pool;
              const so = (pfn - r.startPfn) * PAGE;
              src.copy(buf, at, so, so + n * PAGE);
            }
            for (let j = 0; j < n; j++) {
              const z = isZeroPage(w32, at + j * PAGE);
              nz[pfn - a + j] = z ? 0 : 1;
              if (z) zeros[K.OVERLAY]++;
            }
            pages[K.OVERLAY] += n;
            pfn = end;
            if (end === r.endPfn) ri++;
            continue;
          }
          const end = Math.min(b, ri < resv.length ? resv[ri].startPfn : b);
          for (let q = pfn; q < end; q++) {
            const i = q & (CHUNK - 1);
            if (i === 0 || q === pfn) planner.plan(Math.floor(q / CHUNK), plan, true);
            const acct = plan.acct[i];
            pages[acct]++;
            const ck = plan.content[i];
            if (ck === C.ZERO) {
              zeros[acct]++;
              nz[q - a] = 0;
            } else {
              pools.fill(buf, (q - a) * PAGE, ck, q);
              nz[q - a] = 1;
            }
          }
          pfn = end;
        }
        for (let j = 0; j < b - a; j++) nonzeroPages += nz[j];
        writer.submit(slot, b - a, load.offset + (a - p0) * PAGE);
        donePages += b - a;
        a = b;
        if (opts.progress && Date.now() - lastReport > PROGRESS_EVERY_MS) {
          lastReport = Date.now();
          const s = Number(process.hrtime.bigint() - t0) / 1e9;
          process.stderr.write(`synth: ${(100 * donePages / layout.ramPages).toFixed(1)}% `
            + `${(donePages * PAGE / 2 ** 20 / s).toFixed(0)} MiB/s virtual, ${(writer.written / 2 ** 20 / s).toFixed(0)} MiB/s written\n`);
        }
      }
    }
    await writer.drain();
  } finally {
    await writer.drain().catch(() => undefined);
    fs.closeSync(fd);
  }
  const written = writer.written;
  if (pages[K.HOLE] !== 0) throw new Error('internal: a RAM page was planned as a hole');

  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const kinds: Record<string, { pages: number; zero: number }> = {};
  for (let k = 0; k < K.COUNT; k++) {
    if (pages[k] > 0) kinds[KIND_NAMES[k]] = { pages: pages[k], zero: zeros[k] };
  }
  const expected: ExpectedJson = {
    generator: {
      version: GENERATOR_VERSION, arch, seed, ram_bytes: opts.ramBytes, layout: model, levels, mix_name: mixName, mix,
      vaddr: vaddrMode, data_bytes: dataBytes,
    },
    machine: {
      osrelease, nodes: layout.nodes, cpus, max_mapnr: layout.maxMapnr, ram_pages: layout.ramPages,
      sections_present: layout.sections.length, pt_loads: loads,
      page_offset_base: `0x${layout.pageOffsetBase.toString(16)}`,
      vmemmap_base: `0x${layout.vmemmapBase.toString(16)}`,
      kernel_offset: `0x${layout.kernelOffset.toString(16)}`,
      phys_base: layout.physBase,
      phys_offset: arch === 'arm64' ? layout.physOffset : undefined,
      text_phys: `0x${layout.textPhys.toString(16)}`,
      init_top_pgt: `0x${km.symbols.initTopPgt.toString(16)}`,
      mem_section: km.symbols.memSection === undefined ? undefined : `0x${km.symbols.memSection.toString(16)}`,
      length_mem_section: km.symbols.lengthMemSection,
      mem_map: km.symbols.memMap === undefined ? undefined : `0x${km.symbols.memMap.toString(16)}`,
      max_physmem_bits: layout.maxPhysmemBits,
      vmcoreinfo: vmcoreinfo.trimEnd().split('\n'),
    },
    kinds,
    levels: expectedByLevel(pages, zeros, layout.ramPages, layout.maxMapnr),
    file: { bytes: fileBytes, data_offset: dataOffset, written_bytes: written, nonzero_pages: nonzeroPages },
    timing: {
      seconds: Math.round(seconds * 1000) / 1000,
      virtual_mb_per_s: Math.round(fileBytes / 1e6 / seconds),
      written_mb_per_s: Math.round(written / 1e6 / seconds),
    },
  };
  const expectedPath = `${opts.out}.expected.json`;
  if (opts.writeExpected ?? true) fs.writeFileSync(expectedPath, `${JSON.stringify(expected, null, 1)}\n`);
  return { path: opts.out, expectedPath, expected };
}

interface Slot {
  buf: Buffer;
  w32: Int32Array;
  nz: Uint8Array;
}

/**
 * A few batch buffers in rotation: while the kernel writes one (positioned writes
 * of its runs of non-zero pages, from the libuv thread pool), the next is built.
 * Zero pages are never written, so they stay holes in the sparse file.
 */
class BatchWriter {
  written = 0;
  private readonly free: Slot[] = [];
  private readonly waiting: ((s: Slot) => void)[] = [];
  private inFlight = 0;
  private error: Error | undefined;
  private drained: (() => void)[] = [];

  constructor(private readonly fd: number, readonly batchPages: number, slots: number) {
    for (let i = 0; i < slots; i++) {
      const buf = Buffer.allocUnsafeSlow(batchPages * PAGE);
      this.free.push({ buf, w32: new Int32Array(buf.buffer, buf.byteOffset, buf.length / 4), nz: new Uint8Array(batchPages) });
    }
  }

  acquire(): Promise<Slot> {
    if (this.error) return Promise.reject(this.error);
    const s = this.free.pop();
    if (s) return Promise.resolve(s);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Writes the runs of non-zero pages among the first n pages of the slot, file offset `at` for page 0. */
  submit(slot: Slot, n: number, at: number): void {
    const nz = slot.nz;
    let pending = 1;
    const done = (err?: Error | null): void => {
      if (err && !this.error) this.error = err;
      if (--pending === 0) this.release(slot);
    };
    this.inFlight++;
    for (let j = 0; j < n;) {
      if (nz[j] === 0) {
        j++;
        continue;
      }
      let e = j + 1;
      while (e < n && nz[e] !== 0) e++;
      const len = (e - j) * PAGE;
      pending++;
      this.written += len;
      fs.write(this.fd, slot.buf, j * PAGE, len, at + j * PAGE, (err, bytes) => {
        done(err ?? (bytes !== len ? new Error(`short write (${bytes} of ${len} bytes)`) : null));
      });
      j = e;
    }
    done();
  }

  private release(slot: Slot): void {
    this.inFlight--;
    const w = this.waiting.shift();
    if (w) w(slot);
    else this.free.push(slot);
    if (this.inFlight === 0) {
      const d = this.drained;
      this.drained = [];
      for (const f of d) f();
    }
  }

  async drain(): Promise<void> {
    if (this.inFlight > 0) await new Promise<void>((resolve) => this.drained.push(resolve));
    if (this.error) throw this.error;
  }
}

function firstReservationEndingAfter(resv: Layout['reservations'], pfn: number): number {
  let lo = 0;
  let hi = resv.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (resv[mid].endPfn <= pfn) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Spread the non-zero data budget: kernel-kind pages (kept at every level) first,
 * then the rest. Chunks draw their data flags with these probabilities, so data
 * stays clustered in 4 MiB chunks and writes stay large.
 */
function setDataBudget(planner: Planner, layout: Layout, mix: Mix, dataBytes: number | 'all'): void {
  if (dataBytes === 'all') return;
  const budget = dataBytes / PAGE;
  const ram = layout.ramPages;
  const alloc = 1 - mix.free;
  const kept = ram * (mix.slab + mix.kernel + mix.pgtable + mix.pcp + mix.reserved * 0.5 + mix.edge) * (1 - mix.zero);
  const other = ram * Math.max(0, alloc - mix.slab - mix.kernel - mix.pgtable - mix.pcp - mix.reserved) * (1 - mix.zero)
    + ram * mix.free * (1 - mix.freezero) * (1 - mix.zero);
  const pKept = kept <= 0 ? 1 : Math.min(1, (0.6 * budget) / kept);
  const rest = Math.max(0, budget - pKept * kept);
  planner.pKept = pKept;
  planner.pOther = other <= 0 ? 1 : Math.min(1, rest / other);
}

function buildNotes(layout: Layout, cpus: number, vmcoreinfo: string): Buffer {
  const parts: Buffer[] = [];
  const note = (name: string, type: number, desc: Buffer): void => {
    const nameBytes = Buffer.from(`${name}\0`, 'latin1');
    const h = Buffer.alloc(12 + noteAlign(nameBytes.length) + noteAlign(desc.length));
    Elf64Nhdr.encode({ n_namesz: nameBytes.length, n_descsz: desc.length, n_type: type }, h, 0);
    nameBytes.copy(h, 12);
    desc.copy(h, 12 + noteAlign(nameBytes.length));
    parts.push(h);
  };
  const text = textVirt(layout);
  for (let cpu = 0; cpu < cpus; cpu++) {
    if (layout.arch === 'arm64') {
      const sp = directMap(layout, layout.poolStart) + BigInt(cpu) * 0x4000n + 0x3f00n;
      note('CORE', NT_PRSTATUS, arm64Prstatus(cpu, text + 0x123450n + BigInt(cpu) * 0x40n, sp));
      continue;
    }
    // struct elf_prstatus (336 bytes): pr_pid at 32, pr_reg (27 × u64) at 112
    const d = Buffer.alloc(336);
    d.writeUInt32LE(cpu === 0 ? 1 : 0, 32);
    const reg = (i: number, v: bigint): void => {
      d.writeBigUInt64LE(BigInt.asUintN(64, v), 112 + 8 * i);
    };
    const stack = directMap(layout, layout.poolStart) + BigInt(cpu) * 0x4000n + 0x3f00n;
    reg(4, stack + 0x40n); // rbp
    reg(16, text + 0x123450n + BigInt(cpu) * 0x40n); // rip
    reg(17, 0x10n); // cs
    reg(18, 0x246n); // eflags
    reg(19, stack); // rsp
    reg(20, 0x18n); // ss
    d.writeUInt32LE(1, 328); // pr_fpvalid
    note('CORE', NT_PRSTATUS, d);
  }
  note('VMCOREINFO', 0, Buffer.from(vmcoreinfo, 'latin1'));
  return Buffer.concat(parts);
}


// A small arm64 machine with 16 or 64 KiB pages, written as an ELF vmcore the way
// /proc/vmcore shows it: RAM at physical 1 GiB, a 48-bit VA kernel (4 levels with 16 KiB
// pages, 3 with 64 KiB) whose swapper_pg_dir maps its image, the linear map and the
// vmemmap with page descriptors, SPARSEMEM_EXTREME sections, struct pages of known
// classes, and the real-arm64-512m fixture's VMCOREINFO with these values. It lets the
// whole pipeline run on page sizes no fixture has, against makedumpfile and against the
// classes placed here.
import * as fs from 'fs';
import { TEMPLATE_VMCOREINFO_ARM64 } from '../../perf/synth/template-arm64';
import { kernelFacts } from '../../perf/synth/vmcoreinfo';
import { EM_AARCH64 } from '../../src/format/elf';
import { encodeNotes } from './elf-builder';
import { Elf64Ehdr, Elf64Phdr, ELFCLASS64, ELFDATA2LSB, ELF_MAGIC, ET_CORE, PT_LOAD, PT_NOTE } from '../../src/format/elf';

const RAM_START = 0x40000000;
const PAGE_OFFSET = 0xffff000000000000n;
const KIMAGE_VADDR = 0xffff800008000000n;
const VA_BITS = 48;

/** pages of each class placed, as makedumpfile's report counts them */
export interface PlacedClasses {
  pages: number;
  free: number;
  cache: number;
  cachePrivate: number;
  user: number;
  hwpoison: number;
  /** pages whose bytes are all zero */
  zero: number;
}

/** 6.1's PG_reserved, which VMCOREINFO does not export; the other flags are the template's */
const PG_RESERVED = 12;

export function writeArm64Machine(file: string, pageSize: 16384 | 65536, ramBytes = 256 << 20): PlacedClasses {
  const f = kernelFacts('arm64');
  const shift = Math.log2(pageSize);
  const sectionBits = pageSize === 65536 ? 29 : 27;
  const perSection = 2 ** (sectionBits - shift);
  const nPages = ramBytes / pageSize;
  const pfn0 = RAM_START / pageSize;
  const pages = new Map<number, Buffer>();
  const page = (pa: number): Buffer => {
    const base = pa - (pa % pageSize);
    let p = pages.get(base);
    if (!p) {
      p = Buffer.alloc(pageSize);
      pages.set(base, p);
    }
    return p;
  };
  let next = RAM_START;
  const alloc = (bytes: number = pageSize): number => {
    const at = next;
    next += Math.ceil(bytes / pageSize) * pageSize;
    for (let a = at; a < next; a += pageSize) page(a);
    return at;
  };
  const u64 = (pa: number, v: bigint): void => {
    page(pa).writeBigUInt64LE(BigInt.asUintN(64, v), pa % pageSize);
  };

  // ---- page tables: levels for 48-bit VAs, descriptors 0b11 (table, page) with AF and SH
  const levels = Math.ceil((VA_BITS - shift) / (shift - 3));
  const swapper = alloc();
  const levelShift = (level: number): number => (shift - 3) * (3 - level) + shift;
  const map = (va: bigint, pa: number): void => {
    let table = swapper;
    for (let level = 4 - levels; level <= 3; level++) {
      const bits = level === 4 - levels ? VA_BITS - levelShift(level) : shift - 3;
      const at = table + Number((va >> BigInt(levelShift(level))) & ((1n << BigInt(bits)) - 1n)) * 8;
      if (level === 3) {
        u64(at, BigInt(pa) | 0x70bn);
        return;
      }
      let e = page(at).readBigUInt64LE(at % pageSize);
      if (e === 0n) {
        e = BigInt(alloc()) | 3n;
        u64(at, e);
      }
      table = Number(e & 0x0000ffffffffffffn & ~BigInt(pageSize - 1));
    }
  };
  const linear = (pa: number): bigint => PAGE_OFFSET + BigInt(pa - RAM_START);
  const image = (pa: number): bigint => KIMAGE_VADDR + BigInt(pa - RAM_START);

  // ---- the kernel's structures
  const uts = alloc();
  ['Linux', 'arm64-machine', '6.1.0-57-arm64', '#1 SMP Debian 6.1.192-3', 'aarch64', '(none)']
    .forEach((f, i) => page(uts).write(f, i * 65, 'latin1'));
  const nodeOnlineMap = uts + 0x400;
  u64(nodeOnlineMap, 1n);
  const nrRoots = 2 ** (48 - sectionBits) / (pageSize / 32);
  const rootArray = alloc(nrRoots * 8);
  const vmemmapStart = -(1n << BigInt(VA_BITS - (shift - 6)));
  const vmemmap = BigInt.asUintN(64, vmemmapStart - BigInt(pfn0) * 64n);
  const firstSection = Math.floor(pfn0 / perSection);
  const lastSection = Math.floor((pfn0 + nPages - 1) / perSection);
  const memmapPa = new Map<number, number>();
  const sectionPages = new Map<number, number>();
  for (let s = firstSection; s <= lastSection; s++) {
    const root = Math.floor(s / (pageSize / 32));
    if (!sectionPages.has(root)) {
      const at = alloc();
      sectionPages.set(root, at);
      u64(rootArray + root * 8, linear(at));
    }
    const ms = (sectionPages.get(root) as number) + (s % (pageSize / 32)) * 32;
    // section_mem_map: vmemmap (the struct page of pfn 0) with PRESENT, HAS_MEM_MAP, ONLINE, EARLY
    u64(ms, vmemmap | 0xfn);
    const mm = alloc(perSection * 64);
    memmapPa.set(s, mm);
    for (let o = 0; o < perSection * 64; o += pageSize) map(vmemmap + BigInt(s * perSection * 64 + o), mm + o);
  }
  // room for the tables the mappings below still need; the kernel's area ends on a 64-page block
  const kernelEnd = Math.ceil((next + 32 * pageSize) / (64 * pageSize)) * 64 * pageSize;
  for (let pa = RAM_START; pa < RAM_START + ramBytes; pa += pageSize) map(linear(pa), pa);
  for (let pa = RAM_START; pa < kernelEnd; pa += pageSize) map(image(pa), pa);
  if (next > kernelEnd) throw new Error('arm64 machine: page tables outgrew the kernel area');

  // ---- struct pages and page contents, by 64-page blocks after the kernel's area
  const placed: PlacedClasses = { pages: nPages, free: 0, cache: 0, cachePrivate: 0, user: 0, hwpoison: 0, zero: 0 };
  const data = new Map<number, 'text' | 'random' | 'zero'>();
  let rng = 0x2545f491;
  const setPage = (pfn: number, flags: number, mapping: bigint, mapcount: number, priv: bigint): void => {
    const at = (memmapPa.get(Math.floor(pfn / perSection)) as number) + (pfn % perSection) * 64;
    u64(at, BigInt(flags));
    u64(at + 24, mapping);
    u64(at + 40, priv);
    page(at).writeInt32LE(mapcount, (at % pageSize) + 48);
    page(at).writeInt32LE(1, (at % pageSize) + 52);
  };
  for (let i = 0; i < nPages; i++) {
    const pfn = pfn0 + i;
    const pa = pfn * pageSize;
    if (pa < kernelEnd) {
      setPage(pfn, 1 << PG_RESERVED, 0n, -1, 0n);
      continue;
    }
    const k = i % 64;
    const anonMapping = linear(RAM_START + 0x1000 + (i % 16) * 64) | 1n;
    const fileMapping = linear(RAM_START + 0x2000 + (i % 16) * 64);
    if (k < 16) {
      // a free block of order 4: only its first page says so
      setPage(pfn, 0, 0n, k === 0 ? f.buddyMapcount : -1, k === 0 ? 4n : 0n);
      data.set(pa, 'text');
      placed.free++;
    } else if (k < 24) {
      setPage(pfn, 1 << f.pgLru, fileMapping, -1, 0n);
      data.set(pa, 'text');
      placed.cache++;
    } else if (k < 28) {
      setPage(pfn, (1 << f.pgLru) | (1 << f.pgPrivate), fileMapping, -1, 0n);
      data.set(pa, 'text');
      placed.cachePrivate++;
    } else if (k < 36) {
      setPage(pfn, (1 << f.pgLru) | (1 << f.pgSwapbacked), anonMapping, 0, 0n);
      data.set(pa, 'random');
      placed.user++;
    } else if (k < 40) {
      setPage(pfn, 1 << f.pgSlab, 0n, -1, 0n);
      data.set(pa, 'random');
    } else if (k < 48) {
      setPage(pfn, 0, 0n, -1, 0n);
      placed.zero++;
    } else if (k === 50 && i % 128 === 50) {
      setPage(pfn, 1 << f.pgHwpoison, 0n, -1, 0n);
      data.set(pa, 'text');
      placed.hwpoison++;
    } else {
      setPage(pfn, 0, 0n, -1, 0n);
      data.set(pa, 'text');
    }
  }

  for (let pa = RAM_START; pa < kernelEnd; pa += pageSize) {
    const p = pages.get(pa);
    if (!p || p.every((b) => b === 0)) placed.zero++;
  }

  // ---- VMCOREINFO: the fixture's, these addresses and sizes; symbols of nothing mapped here dropped
  const over: Record<string, string> = {
    PAGESIZE: String(pageSize),
    'SYMBOL(init_uts_ns)': image(uts).toString(16),
    'SYMBOL(node_online_map)': image(nodeOnlineMap).toString(16),
    'SYMBOL(swapper_pg_dir)': image(swapper).toString(16),
    'SYMBOL(_stext)': (KIMAGE_VADDR + 0x10000n).toString(16),
    'SYMBOL(mem_section)': linear(rootArray).toString(16),
    'LENGTH(mem_section)': String(nrRoots),
    'NUMBER(SECTION_SIZE_BITS)': String(sectionBits),
    'NUMBER(VMEMMAP_START)': `0x${BigInt.asUintN(64, vmemmapStart).toString(16)}`,
    'NUMBER(kimage_voffset)': `0x${(KIMAGE_VADDR - BigInt(RAM_START)).toString(16)}`,
    'NUMBER(PHYS_OFFSET)': `0x${RAM_START.toString(16)}`,
    KERNELOFFSET: '0',
  };
  const lines = TEMPLATE_VMCOREINFO_ARM64.flatMap((l) => {
    const key = l.slice(0, l.indexOf('='));
    if (key in over) return [`${key}=${over[key]}`];
    return key.startsWith('SYMBOL(') ? [] : [l];
  });
  const notes = encodeNotes([
    { name: 'CORE', type: 1, desc: Buffer.alloc(392) },
    { name: 'VMCOREINFO', type: 0, desc: Buffer.from(`${lines.join('\n')}\nCRASHTIME=1700000000\n`, 'latin1') },
  ]);

  // ---- the ELF file: one PT_LOAD, pages written where they hold something (sparse)
  const noteOff = 64 + 2 * Elf64Phdr.size;
  const dataOff = Math.ceil((noteOff + notes.length) / pageSize) * pageSize;
  const head = Buffer.alloc(dataOff);
  const ident = Buffer.alloc(16);
  ELF_MAGIC.copy(ident);
  ident[4] = ELFCLASS64;
  ident[5] = ELFDATA2LSB;
  ident[6] = 1;
  Elf64Ehdr.encode({
    e_ident: ident, e_type: ET_CORE, e_machine: EM_AARCH64, e_version: 1, e_entry: 0n, e_phoff: 64, e_shoff: 0,
    e_flags: 0, e_ehsize: 64, e_phentsize: Elf64Phdr.size, e_phnum: 2, e_shentsize: 0, e_shnum: 0, e_shstrndx: 0,
  }, head, 0);
  Elf64Phdr.encode({ p_type: PT_NOTE, p_flags: 0, p_offset: noteOff, p_vaddr: 0n, p_paddr: 0, p_filesz: notes.length, p_memsz: notes.length, p_align: 0n }, head, 64);
  Elf64Phdr.encode({
    p_type: PT_LOAD, p_flags: 7, p_offset: dataOff, p_vaddr: linear(RAM_START), p_paddr: RAM_START,
    p_filesz: ramBytes, p_memsz: ramBytes, p_align: 0n,
  }, head, 64 + Elf64Phdr.size);
  notes.copy(head, noteOff);
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, head, 0, head.length, 0);
    fs.ftruncateSync(fd, dataOff + ramBytes);
    for (const [pa, p] of pages) fs.writeSync(fd, p, 0, pageSize, dataOff + pa - RAM_START);
    const buf = Buffer.alloc(pageSize);
    for (const [pa, kind] of data) {
      if (kind === 'random') {
        for (let o = 0; o < pageSize; o += 4) {
          rng ^= rng << 13; rng ^= rng >>> 17; rng ^= rng << 5;
          buf.writeInt32LE(rng | 0, o);
        }
      } else {
        const line = `pfn ${(pa / pageSize).toString(16)} log line: the quick brown fox jumps over the lazy dog\n`;
        for (let o = 0; o < pageSize; o += line.length) buf.write(line, o, 'latin1');
      }
      fs.writeSync(fd, buf, 0, pageSize, dataOff + pa - RAM_START);
    }
  } finally {
    fs.closeSync(fd);
  }
  return placed;
}

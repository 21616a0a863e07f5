// Writes the bad-input corpus (test/corpus/*): small files, each named after the DumpError
// code it must produce (`CODE--what.ext`), and expected.json with the dump level to run at
// and the message each must print. The files are committed; run this again only to change
// them:  npx tsc -p tsconfig.json && node dist/test/corpus/make-corpus.js
//
// Most VMCOREINFO cases sit on a tiny "kernel": seven pages of physical memory holding real
// x86_64 page tables that map the kernel-text addresses 0xffffffff80000000.. onto them, a
// utsname, and a page of zeros, with the Debian 6.1 VMCOREINFO of perf/synth's template
// pointed at them. Each case changes one thing of it. The arm64 cases sit on the same kind
// of kernel for arm64: 4 KiB pages, 48-bit VAs, swapper_pg_dir mapping a kernel image at
// 0xffff800008000000 onto RAM at PHYS_OFFSET 0x40000000, with the real-arm64-512m
// fixture's VMCOREINFO.
import * as fs from 'fs';
import * as path from 'path';
import { TEMPLATE_VMCOREINFO } from '../../perf/synth/template';
import { TEMPLATE_VMCOREINFO_ARM64 } from '../../perf/synth/template-arm64';
import {
  DISKDUMP_SIGNATURE, DiskDumpHeader, KDUMP_SIGNATURE, KdumpSubHeader,
} from '../../src/format/diskdump';
import { ELF_MAGIC, EM_AARCH64, Elf64Ehdr, Elf64Phdr, PT_LOAD, PT_NOTE } from '../../src/format/elf';
import { encodeNotes, writeElfVmcore } from '../helpers/elf-builder';

const DIR = path.resolve(__dirname, '..', '..', '..', 'test', 'corpus');
const PAGE = 4096;
const TEXT = 0xffffffff80000000n;

export interface Expected {
  /** -d to run at */
  level: number;
  /** the message, as a regular expression source; the path of the input is `FILE` */
  message: string;
}

const expected: Record<string, Expected> = {};

function put(name: string, level: number, message: string, make: (file: string) => void): void {
  const file = path.join(DIR, name);
  make(file);
  expected[name] = { level, message };
}

const PRSTATUS = { name: 'CORE', type: 1, desc: Buffer.alloc(336) };

/** VMCOREINFO of the tiny kernel: the template with the addresses moved onto it. */
function tinyVmcoreinfo(edit: (lines: string[]) => string[] = (l) => l): string {
  const over: Record<string, string> = {
    'SYMBOL(init_uts_ns)': 'ffffffff80005000',
    'SYMBOL(mem_section)': 'ffffffff80006000',
    'NUMBER(phys_base)': '0',
    'SYMBOL(init_top_pgt)': 'ffffffff80001000',
    'KERNELOFFSET': '0',
  };
  const lines = TEMPLATE_VMCOREINFO.map((l) => {
    const k = l.slice(0, l.indexOf('='));
    return k in over ? `${k}=${over[k]}` : l;
  });
  return edit(lines).join('\n') + '\n';
}

function without(...keys: string[]): (lines: string[]) => string[] {
  return (lines) => lines.filter((l) => !keys.some((k) => l.startsWith(`${k}=`)));
}

/** key=value instead of the template's line, or added at the end when the template has none */
function withValue(key: string, value: string): (lines: string[]) => string[] {
  return (lines) => (lines.some((l) => l.startsWith(`${key}=`))
    ? lines.map((l) => (l.startsWith(`${key}=`) ? `${key}=${value}` : l))
    : [...lines, `${key}=${value}`]);
}

/**
 * Seven pages: 0 zeros, 1 PGD, 2 PUD, 3 PMD, 4 PTE (maps TEXT + i*4096 to page i), 5 the
 * utsname, 6 zeros (an empty mem_section root array, a NULL mem_map pointer).
 */
function tinyMemory(release: string): Buffer {
  const m = Buffer.alloc(7 * PAGE);
  const entry = (table: number, index: number, pa: number): void => {
    m.writeBigUInt64LE(BigInt(pa) | 0x63n, table * PAGE + index * 8);
  };
  entry(1, Number((TEXT >> 39n) & 511n), 2 * PAGE);
  entry(2, Number((TEXT >> 30n) & 511n), 3 * PAGE);
  entry(3, Number((TEXT >> 21n) & 511n), 4 * PAGE);
  for (let i = 0; i < 7; i++) entry(4, i, i * PAGE);
  const uts = 5 * PAGE;
  m.write('Linux', uts, 'latin1');
  m.write('corpus', uts + 65, 'latin1');
  m.write(release, uts + 130, 'latin1');
  m.write('#1 SMP PREEMPT_DYNAMIC', uts + 195, 'latin1');
  m.write('x86_64', uts + 260, 'latin1');
  return m;
}

function tinyKernel(file: string, vmcoreinfo: string, opts: { release?: string; extraLoad?: number } = {}): void {
  const notes = encodeNotes([PRSTATUS, { name: 'VMCOREINFO', type: 0, desc: Buffer.from(vmcoreinfo, 'latin1') }]);
  const loads = [{ paddr: 0, data: tinyMemory(opts.release ?? '6.1.0-56-amd64') }];
  if (opts.extraLoad !== undefined) loads.push({ paddr: opts.extraLoad, data: Buffer.alloc(PAGE, 0x5a) });
  writeElfVmcore(file, { notes, loads });
}

/** the arm64 tiny kernel: image VA (KIMAGE_VADDR of a 48-bit VA kernel without KASLR), RAM start */
const ARM64_TEXT = 0xffff800008000000n;
const ARM64_PHYS = 0x40000000;

function tinyVmcoreinfoArm64(edit: (lines: string[]) => string[] = (l) => l): string {
  const img = (page: number): string => (ARM64_TEXT + BigInt(page * PAGE)).toString(16);
  const over: Record<string, string> = {
    'SYMBOL(init_uts_ns)': img(5),
    'SYMBOL(swapper_pg_dir)': img(1),
    'SYMBOL(_stext)': img(0),
    'SYMBOL(mem_section)': img(6),
    'NUMBER(kimage_voffset)': `0x${(ARM64_TEXT - BigInt(ARM64_PHYS)).toString(16)}`,
    'NUMBER(PHYS_OFFSET)': `0x${ARM64_PHYS.toString(16)}`,
    'KERNELOFFSET': '0',
  };
  const lines = TEMPLATE_VMCOREINFO_ARM64.map((l) => {
    const k = l.slice(0, l.indexOf('='));
    return k in over ? `${k}=${over[k]}` : l;
  });
  return edit(lines).join('\n') + '\n';
}

/**
 * Seven pages at PHYS_OFFSET, as tinyMemory but with arm64 descriptors: 0 zeros, 1 level 0
 * table (swapper_pg_dir), 2 level 1, 3 level 2, 4 level 3 (maps ARM64_TEXT + i*4096 to
 * page i), 5 the utsname, 6 zeros.
 */
function tinyMemoryArm64(): Buffer {
  const m = Buffer.alloc(7 * PAGE);
  // table descriptors 0b11; pages 0b11 with the access flag
  const entry = (table: number, index: number, page: number, bits: bigint): void => {
    m.writeBigUInt64LE(BigInt(ARM64_PHYS + page * PAGE) | bits, table * PAGE + index * 8);
  };
  entry(1, Number((ARM64_TEXT >> 39n) & 511n), 2, 3n);
  entry(2, Number((ARM64_TEXT >> 30n) & 511n), 3, 3n);
  entry(3, Number((ARM64_TEXT >> 21n) & 511n), 4, 3n);
  for (let i = 0; i < 7; i++) entry(4, i, i, 0x403n);
  const uts = 5 * PAGE;
  m.write('Linux', uts, 'latin1');
  m.write('corpus', uts + 65, 'latin1');
  m.write('6.1.0-57-arm64', uts + 130, 'latin1');
  m.write('#1 SMP Debian 6.1.192-3', uts + 195, 'latin1');
  m.write('aarch64', uts + 260, 'latin1');
  return m;
}

function tinyKernelArm64(file: string, vmcoreinfo: string): void {
  // an arm64 NT_PRSTATUS is 392 bytes
  const notes = encodeNotes([{ name: 'CORE', type: 1, desc: Buffer.alloc(392) }, { name: 'VMCOREINFO', type: 0, desc: Buffer.from(vmcoreinfo, 'latin1') }]);
  writeElfVmcore(file, { notes, loads: [{ paddr: ARM64_PHYS, data: tinyMemoryArm64() }], machine: EM_AARCH64 });
}

/** A plain valid ELF vmcore without VMCOREINFO, then patched. */
function plainElf(file: string, patch: (b: Buffer) => void = () => undefined): void {
  writeElfVmcore(file, { notes: encodeNotes([PRSTATUS]), loads: [{ paddr: 0, data: Buffer.alloc(PAGE, 0x11) }] });
  const b = fs.readFileSync(file);
  patch(b);
  fs.writeFileSync(file, b);
}

/** ELF header field patch helpers */
function setEhdr(b: Buffer, field: 'e_phoff' | 'e_shoff', v: bigint): void {
  b.writeBigUInt64LE(v, Elf64Ehdr.offsets[field]);
}

/** program header i's field */
function phdrAt(i: number): number {
  return 64 + i * Elf64Phdr.size;
}

function kdumpHeader(blockSize: number, bitmapBlocks: number, maxMapnr: number): Buffer {
  const b = Buffer.alloc(blockSize * 2);
  DiskDumpHeader.encode({
    signature: KDUMP_SIGNATURE, header_version: 6, utsname: Buffer.alloc(390), tv_sec: 0, tv_usec: 0, status: 0,
    block_size: blockSize, sub_hdr_size: 1, bitmap_blocks: bitmapBlocks, max_mapnr: maxMapnr, total_ram_blocks: 0,
    device_blocks: 0, written_blocks: 0, current_cpu: 0, nr_cpus: 1,
  }, b);
  return b;
}

function main(): void {
  fs.mkdirSync(DIR, { recursive: true });
  for (const f of fs.readdirSync(DIR)) if (/--/.test(f)) fs.rmSync(path.join(DIR, f));

  // ---- not a vmcore at all
  put('not-elf--text.bin', 31, 'FILE is not an ELF file \\(no ELF magic\\) nor a kdump-compressed dump',
    (f) => fs.writeFileSync(f, 'this is a text file, not a crash dump\n'.repeat(20)));
  put('not-elf--empty.bin', 31, 'FILE is not an ELF file', (f) => fs.writeFileSync(f, ''));
  put('flattened-input--stream.bin', 31, 'FILE is a flattened stream \\(-F\\): rebuild it first with cyclodump -R', (f) => {
    const b = Buffer.alloc(4096);
    b.write('makedumpfile', 0, 'latin1');
    b.writeBigInt64BE(1n, 16);
    b.writeBigInt64BE(1n, 24);
    fs.writeFileSync(f, b);
  });

  // ---- the ELF header
  put('unsupported-class--elf32.vmcore', 31, 'FILE is a 32-bit ELF file', (f) => plainElf(f, (b) => { b[4] = 1; }));
  put('bad-elf--class-7.vmcore', 31, 'FILE: unknown ELF class 7', (f) => plainElf(f, (b) => { b[4] = 7; }));
  put('truncated--short-elf-header.vmcore', 31, 'FILE is truncated: ELF header needs 64 bytes, file has 20', (f) => {
    const b = Buffer.alloc(20);
    ELF_MAGIC.copy(b);
    b[4] = 2;
    b[5] = 1;
    fs.writeFileSync(f, b);
  });
  put('unsupported-arch--big-endian.vmcore', 31, 'FILE is a big-endian ELF file', (f) => plainElf(f, (b) => { b[5] = 2; }));
  put('unsupported-arch--riscv.vmcore', 31, 'FILE: unsupported architecture riscv; cyclodump supports x86_64 and arm64 only',
    (f) => plainElf(f, (b) => { b.writeUInt16LE(243, Elf64Ehdr.offsets.e_machine); }));
  put('no-load--no-program-headers.vmcore', 31, 'FILE: ELF file has no program headers',
    (f) => plainElf(f, (b) => { b.writeUInt16LE(0, Elf64Ehdr.offsets.e_phnum); }));
  put('bad-elf--phentsize-32.vmcore', 31, 'FILE: program header size 32, expected 56',
    (f) => plainElf(f, (b) => { b.writeUInt16LE(32, Elf64Ehdr.offsets.e_phentsize); }));
  put('bad-elf--phoff-beyond-2-53.vmcore', 31, 'FILE: ELF header: Elf64_Ehdr.e_phoff: value 0x7fff000000000040 is out of range',
    (f) => plainElf(f, (b) => setEhdr(b, 'e_phoff', 0x7fff000000000040n)));
  put('truncated--program-headers-past-eof.vmcore', 31, 'FILE is truncated: program headers end at \\d+, file has \\d+ bytes',
    (f) => plainElf(f, (b) => setEhdr(b, 'e_phoff', BigInt(b.length - 60))));
  put('bad-elf--pn-xnum-without-section-header.vmcore', 31, 'FILE: e_phnum is PN_XNUM but there is no section header to hold the count',
    (f) => plainElf(f, (b) => { b.writeUInt16LE(0xffff, Elf64Ehdr.offsets.e_phnum); }));

  // ---- program headers
  put('bad-elf--filesz-over-memsz.vmcore', 31, 'FILE: PT_LOAD 0 has p_filesz 4096 > p_memsz 2048',
    (f) => plainElf(f, (b) => b.writeBigUInt64LE(2048n, phdrAt(1) + Elf64Phdr.offsets.p_memsz)));
  put('truncated--pt-load-past-eof.vmcore', 31, 'FILE is truncated: PT_LOAD 0 \\(physical 0x0\\) needs file bytes up to \\d+, file has \\d+', (f) => {
    plainElf(f);
    fs.truncateSync(f, fs.statSync(f).size - 2000);
  });
  put('bad-elf--pt-load-beyond-52-bits.vmcore', 1, 'FILE: PT_LOAD 0 lies beyond the 52-bit physical address space',
    (f) => plainElf(f, (b) => b.writeBigUInt64LE(1n << 52n, phdrAt(1) + Elf64Phdr.offsets.p_paddr)));
  put('no-load--only-a-note.vmcore', 31, 'FILE: ELF file has no PT_LOAD segments \\(no memory in it\\)',
    (f) => plainElf(f, (b) => b.writeUInt32LE(PT_NOTE, phdrAt(1))));
  put('no-note--only-a-load.vmcore', 31, 'FILE: ELF file has no PT_NOTE segment',
    (f) => plainElf(f, (b) => b.writeUInt32LE(PT_LOAD, phdrAt(0))));
  put('truncated--pt-note-past-eof.vmcore', 31, 'FILE is truncated: PT_NOTE ends at \\d+, file has \\d+ bytes',
    (f) => plainElf(f, (b) => b.writeBigUInt64LE(1n << 40n, phdrAt(0) + Elf64Phdr.offsets.p_filesz)));
  put('beyond-physmem--no-vmcoreinfo.vmcore', 1,
    'PT_LOAD 0 reaches physical address 0x800000001000, beyond the 2\\^46 bytes x86_64 \\(no VMCOREINFO to say otherwise\\) can address',
    (f) => plainElf(f, (b) => b.writeBigUInt64LE(1n << 47n, phdrAt(1) + Elf64Phdr.offsets.p_paddr)));

  // ---- notes
  put('bad-note--vmcoreinfo-past-segment.vmcore', 31, 'FILE: VMCOREINFO note runs past the end of the PT_NOTE segment', (f) => {
    tinyKernel(f, tinyVmcoreinfo());
    const b = fs.readFileSync(f);
    // the PT_NOTE ends 64 bytes early: the VMCOREINFO descriptor runs past it
    const size = b.readBigUInt64LE(phdrAt(0) + Elf64Phdr.offsets.p_filesz) - 64n;
    b.writeBigUInt64LE(size, phdrAt(0) + Elf64Phdr.offsets.p_filesz);
    b.writeBigUInt64LE(size, phdrAt(0) + Elf64Phdr.offsets.p_memsz);
    fs.writeFileSync(f, b);
  });
  put('no-vmcoreinfo--core-notes-only.vmcore', 31, 'FILE has no VMCOREINFO note: dump level 31 needs it', (f) => plainElf(f));

  // ---- VMCOREINFO values
  put('bad-vmcoreinfo--no-osrelease.vmcore', 31, 'VMCOREINFO has no OSRELEASE',
    (f) => tinyKernel(f, tinyVmcoreinfo(without('OSRELEASE'))));
  put('bad-vmcoreinfo--pagesize-not-a-number.vmcore', 31, 'invalid VMCOREINFO value: PAGESIZE=4k',
    (f) => tinyKernel(f, tinyVmcoreinfo(withValue('PAGESIZE', '4k'))));
  put('unsupported-page-size--8192.vmcore', 31, 'PAGESIZE=8192 in VMCOREINFO; x86_64 kernels have 4 KiB pages',
    (f) => tinyKernel(f, tinyVmcoreinfo(withValue('PAGESIZE', '8192'))));
  put('bad-vmcoreinfo--crashtime-zero.vmcore', 31, 'invalid VMCOREINFO value: CRASHTIME=0',
    (f) => tinyKernel(f, tinyVmcoreinfo(withValue('CRASHTIME', '0'))));
  put('bad-vmcoreinfo--symbol-not-hex.vmcore', 31, 'invalid VMCOREINFO value: SYMBOL\\(init_top_pgt\\)=xyz',
    (f) => tinyKernel(f, tinyVmcoreinfo(withValue('SYMBOL(init_top_pgt)', 'xyz'))));
  put('bad-vmcoreinfo--number-beyond-long.vmcore', 31, 'invalid VMCOREINFO value: NUMBER\\(pgtable_l5_enabled\\)=99999999999999999999',
    (f) => tinyKernel(f, tinyVmcoreinfo(withValue('NUMBER(pgtable_l5_enabled)', '99999999999999999999'))));
  put('bad-vmcoreinfo--section-size-bits-5.vmcore', 31, 'implausible memory section geometry: SECTION_SIZE_BITS=5 MAX_PHYSMEM_BITS=46',
    (f) => tinyKernel(f, tinyVmcoreinfo(withValue('NUMBER(SECTION_SIZE_BITS)', '5'))));
  put('bad-vmcoreinfo--size-page-not-a-number.vmcore', 31, 'invalid VMCOREINFO value: SIZE\\(page\\)=abc is not a number',
    (f) => tinyKernel(f, tinyVmcoreinfo(withValue('SIZE(page)', 'abc'))));
  put('conflicting-vmcoreinfo--key-twice.vmcore', 31, 'VMCOREINFO gives SIZE\\(page\\) two values: 64 and 56',
    (f) => tinyKernel(f, tinyVmcoreinfo((l) => [...l, 'SIZE(page)=56'])));
  put('conflicting-vmcoreinfo--two-notes.vmcore', 31, 'FILE: two VMCOREINFO notes give SIZE\\(page\\) two values: 64 and 56', (f) => {
    const first = tinyVmcoreinfo();
    const second = tinyVmcoreinfo(withValue('SIZE(page)', '56'));
    const notes = encodeNotes([PRSTATUS, { name: 'VMCOREINFO', type: 0, desc: Buffer.from(first, 'latin1') },
      { name: 'VMCOREINFO', type: 0, desc: Buffer.from(second, 'latin1') }]);
    writeElfVmcore(f, { notes, loads: [{ paddr: 0, data: tinyMemory('6.1.0-56-amd64') }] });
  });
  put('no-page-layout--no-size-page.vmcore', 31, 'VMCOREINFO lacks SIZE\\(page\\), needed to read struct page',
    (f) => tinyKernel(f, tinyVmcoreinfo(without('SIZE(page)'))));
  put('no-page-table--no-init-top-pgt.vmcore', 31, 'VMCOREINFO has no SYMBOL\\(init_top_pgt\\): cannot translate kernel addresses',
    (f) => tinyKernel(f, tinyVmcoreinfo(without('SYMBOL(init_top_pgt)'))));
  put('bad-page-table--root-not-page-aligned.vmcore', 31, 'page-table root 1008 \\(from init_top_pgt and phys_base\\) is not a page address',
    (f) => tinyKernel(f, tinyVmcoreinfo(withValue('SYMBOL(init_top_pgt)', 'ffffffff80001008'))));
  put('bad-page-table--utsname-not-mapped.vmcore', 31, 'can\'t read init_uts_ns at ffffffff80100000: the page tables do not map it',
    (f) => tinyKernel(f, tinyVmcoreinfo(withValue('SYMBOL(init_uts_ns)', 'ffffffff80100000'))));
  put('no-utsname--no-init-uts-ns.vmcore', 31, 'VMCOREINFO has no SYMBOL\\(init_uts_ns\\): cannot read the kernel name',
    (f) => tinyKernel(f, tinyVmcoreinfo(without('SYMBOL(init_uts_ns)'))));
  put('bad-utsname--release-not-a-version.vmcore', 31, 'can\'t get the kernel version from release "garbage"',
    (f) => tinyKernel(f, tinyVmcoreinfo(), { release: 'garbage' }));
  put('beyond-physmem--pt-load-at-128-tib.vmcore', 31,
    'PT_LOAD 1 reaches physical address 0x800000001000, beyond the 2\\^46 bytes this kernel \\(MAX_PHYSMEM_BITS=46\\) can address',
    (f) => tinyKernel(f, tinyVmcoreinfo(), { extraLoad: 2 ** 47 }));

  // ---- where the struct pages are
  put('bad-mem-section--no-section-present.vmcore', 31, 'can\'t find any memory section with a mem_map \\(mem_section at ffffffff80006000\\)',
    (f) => tinyKernel(f, tinyVmcoreinfo()));
  put('no-memory-model--neither-symbol.vmcore', 31, 'can\'t tell the memory model: VMCOREINFO has neither SYMBOL\\(mem_section\\) nor SYMBOL\\(mem_map\\)',
    (f) => tinyKernel(f, tinyVmcoreinfo(without('SYMBOL(mem_section)'))));
  put('bad-mem-map--null-pointer.vmcore', 31, 'can\'t read the address of mem_map at ffffffff80006000',
    (f) => tinyKernel(f, tinyVmcoreinfo((l) => [...without('SYMBOL(mem_section)')(l), 'SYMBOL(mem_map)=ffffffff80006000'])));

  // ---- arm64: the tiny arm64 kernel reads (no memory section is the first thing it lacks)
  put('bad-mem-section--arm64-no-section-present.vmcore', 31, 'can\'t find any memory section with a mem_map \\(mem_section at ffff800008006000\\)',
    (f) => tinyKernelArm64(f, tinyVmcoreinfoArm64()));
  put('no-va-bits--arm64-va-bits-missing.vmcore', 31, 'VMCOREINFO has no NUMBER\\(VA_BITS\\): cannot translate arm64 kernel addresses',
    (f) => tinyKernelArm64(f, tinyVmcoreinfoArm64(without('NUMBER(VA_BITS)'))));
  put('bad-vmcoreinfo--arm64-va-bits-40.vmcore', 31, 'NUMBER\\(VA_BITS\\)=40 in VMCOREINFO is not an arm64 virtual address size',
    (f) => tinyKernelArm64(f, tinyVmcoreinfoArm64(withValue('NUMBER(VA_BITS)', '40'))));
  put('bad-vmcoreinfo--arm64-t1sz-beyond-va-bits.vmcore', 31,
    'NUMBER\\(TCR_EL1_T1SZ\\)=12 in VMCOREINFO gives 52-bit addresses, which VA_BITS=48 with 4096-byte pages cannot have',
    (f) => tinyKernelArm64(f, tinyVmcoreinfoArm64(withValue('NUMBER(TCR_EL1_T1SZ)', '0xc'))));
  put('bad-page-table--arm64-kimage-voffset-wrong.vmcore', 31,
    'page-table root 0x10000001000 \\(SYMBOL\\(swapper_pg_dir\\) - NUMBER\\(kimage_voffset\\)\\) is not in the dump\'s memory: wrong kimage_voffset\\?',
    (f) => tinyKernelArm64(f, tinyVmcoreinfoArm64(withValue('NUMBER(kimage_voffset)', `0x${(ARM64_TEXT - 0x10000000000n).toString(16)}`))));
  put('bad-page-table--arm64-kimage-voffset-off-by-a-page.vmcore', 31,
    'can\'t read init_uts_ns at ffff800008005000: the page tables do not map it \\(wrong kimage_voffset or swapper_pg_dir\\?\\)',
    (f) => tinyKernelArm64(f, tinyVmcoreinfoArm64(withValue('NUMBER(kimage_voffset)', `0x${(ARM64_TEXT - BigInt(ARM64_PHYS) - 0x1000n).toString(16)}`))));
  put('no-page-table--arm64-no-kimage-voffset.vmcore', 31,
    'VMCOREINFO has no NUMBER\\(kimage_voffset\\): cannot find swapper_pg_dir, a kernel-image address, in physical memory',
    (f) => tinyKernelArm64(f, tinyVmcoreinfoArm64(without('NUMBER(kimage_voffset)'))));
  put('no-page-table--arm64-no-swapper-pg-dir.vmcore', 31, 'VMCOREINFO has no SYMBOL\\(swapper_pg_dir\\): cannot translate kernel addresses',
    (f) => tinyKernelArm64(f, tinyVmcoreinfoArm64(without('SYMBOL(swapper_pg_dir)'))));
  put('unsupported-page-size--arm64-8192.vmcore', 31, 'PAGESIZE=8192 in VMCOREINFO; arm64 kernels have 4 KiB, 16 KiB, 64 KiB pages',
    (f) => tinyKernelArm64(f, tinyVmcoreinfoArm64(withValue('PAGESIZE', '8192'))));

  // ---- kdump-compressed input (refiltering)
  put('truncated--kdump-header.kdump', 31, 'FILE is truncated: no complete dump header', (f) => {
    const b = Buffer.alloc(100);
    b.write(KDUMP_SIGNATURE, 0, 'latin1');
    fs.writeFileSync(f, b);
  });
  put('bad-kdump--block-size-1000.kdump', 31, 'FILE: invalid block size 1000', (f) => {
    const b = kdumpHeader(4096, 2, 16);
    b.writeInt32LE(1000, DiskDumpHeader.offsets.block_size);
    fs.writeFileSync(f, b);
  });
  put('truncated--kdump-bitmaps-past-eof.kdump', 31, 'FILE is truncated: bitmaps end past the end of the file', (f) => {
    const b = kdumpHeader(4096, 64, 16 * 4096 * 8);
    b.write(DISKDUMP_SIGNATURE, 0, 'latin1');
    KdumpSubHeader.encode({ max_mapnr_64: 16 * 4096 * 8 }, b, 4096);
    fs.writeFileSync(f, b);
  });
  put('bad-kdump--max-mapnr-beyond-2-53.kdump', 31, 'FILE: sub-header: kdump_sub_header.max_mapnr_64: value 0x80000000000000 is out of range', (f) => {
    const b = kdumpHeader(4096, 2, 16);
    b.writeBigUInt64LE(1n << 55n, 4096 + KdumpSubHeader.offsets.max_mapnr_64);
    fs.writeFileSync(f, b);
  });

  put('bad-kdump--size-note-2-40.kdump', 31, 'FILE: sub-header gives notes of 1099511627776 bytes, more than any kernel writes', (f) => {
    const b = Buffer.alloc(4 * 4096);
    kdumpHeader(4096, 2, 16).copy(b);
    KdumpSubHeader.encode({ max_mapnr_64: 16, offset_note: 4096 + KdumpSubHeader.size, size_note: 2 ** 40 }, b, 4096);
    fs.writeFileSync(f, b);
  });

  fs.writeFileSync(path.join(DIR, 'expected.json'), JSON.stringify(expected, null, 2) + '\n');
  process.stdout.write(`${Object.keys(expected).length} files in ${DIR}\n`);
}

if (require.main === module) main();


// Issue 17: the arm64 translator on page tables written here from the Arm ARM's
// VMSAv8-64 descriptor formats, for every granule and VA size the kernel can be built
// with, set up from VMCOREINFO keys alone as a vmcore gives them. The 4 KiB / 48-bit case
// is also checked end to end on the real fixture and on synthetic dumps against
// makedumpfile; these cover what no dump here has: 16 and 64 KiB granules, 52-bit VAs
// (LPA2 with 4 and 16 KiB, LPA with 64 KiB), 2, 3 and 5 levels, and a kernel built for 52
// bits running with 48.
import { expect } from 'chai';
import { ARM64, Arm64Desc, Arm64Translator } from '../../src/translate/arm64';
import type { KernelKeys } from '../../src/translate';
import type { LoadSegment, PhysicalMemory } from '../../src/vmcore/physical';

/** Physical memory made of the granule pages written to it; everything else is absent. */
class PageMemory implements PhysicalMemory {
  readonly pages = new Map<number, Buffer>();
  readonly loads: LoadSegment[] = [];
  constructor(readonly pageSize: number) {}

  page(pa: number): Buffer {
    const base = pa - (pa % this.pageSize);
    let p = this.pages.get(base);
    if (!p) {
      p = Buffer.alloc(this.pageSize);
      this.pages.set(base, p);
    }
    return p;
  }

  fileOffset(): number {
    return -1;
  }

  read(pa: number, buf: Uint8Array, off: number, len: number): boolean {
    for (let done = 0; done < len;) {
      const base = (pa + done) - ((pa + done) % this.pageSize);
      const p = this.pages.get(base);
      if (!p) return false;
      const at = pa + done - base;
      const n = Math.min(len - done, this.pageSize - at);
      p.copy(buf, off + done, at, at + n);
      done += n;
    }
    return true;
  }
}

interface Config {
  name: string;
  pageSize: number;
  vaBits: number;
  t1sz: number;
  physmemBits: number;
  /** what the translator must make of it */
  levels: number;
  topIndexBits: number;
  format: Arm64Desc['format'];
  /** kernel-image addresses mapped here: KIMAGE_VADDR, above _PAGE_END(VA_BITS_MIN) also with 52 bits */
  base: bigint;
  /** a physical address as high as the format can hold */
  highPa: number;
}

const CONFIGS: Config[] = [
  { name: '4 KiB, 48-bit (Debian)', pageSize: 4096, vaBits: 48, t1sz: 16, physmemBits: 48, levels: 4, topIndexBits: 48, format: 'v8', base: 0xffff800008000000n, highPa: 2 ** 47 + 0x5000 },
  { name: '4 KiB, 39-bit', pageSize: 4096, vaBits: 39, t1sz: 25, physmemBits: 48, levels: 3, topIndexBits: 39, format: 'v8', base: 0xffffffc008000000n, highPa: 2 ** 47 + 0x5000 },
  { name: '4 KiB, 52-bit with LPA2 (5 levels)', pageSize: 4096, vaBits: 52, t1sz: 12, physmemBits: 52, levels: 5, topIndexBits: 52, format: 'lpa2', base: 0xffff800008000000n, highPa: 2 ** 51 + 2 ** 49 + 0x5000 },
  { name: '4 KiB, built for 52 bits, running with 48', pageSize: 4096, vaBits: 52, t1sz: 16, physmemBits: 52, levels: 4, topIndexBits: 48, format: 'v8', base: 0xffff800008000000n, highPa: 2 ** 47 + 0x5000 },
  { name: '16 KiB, 47-bit', pageSize: 16384, vaBits: 47, t1sz: 17, physmemBits: 48, levels: 3, topIndexBits: 47, format: 'v8', base: 0xffffc00008000000n, highPa: 2 ** 47 + 0x4000 },
  { name: '16 KiB, 48-bit (2-entry top table)', pageSize: 16384, vaBits: 48, t1sz: 16, physmemBits: 48, levels: 4, topIndexBits: 48, format: 'v8', base: 0xffff800008000000n, highPa: 2 ** 47 + 0x4000 },
  { name: '16 KiB, 52-bit with LPA2', pageSize: 16384, vaBits: 52, t1sz: 12, physmemBits: 52, levels: 4, topIndexBits: 52, format: 'lpa2', base: 0xffff800008000000n, highPa: 2 ** 51 + 2 ** 49 + 0x4000 },
  { name: '64 KiB, 42-bit (2 levels)', pageSize: 65536, vaBits: 42, t1sz: 22, physmemBits: 48, levels: 2, topIndexBits: 42, format: 'v8', base: 0xfffffe0008000000n, highPa: 2 ** 47 + 0x10000 },
  { name: '64 KiB, 48-bit', pageSize: 65536, vaBits: 48, t1sz: 16, physmemBits: 48, levels: 3, topIndexBits: 48, format: 'v8', base: 0xffff800008000000n, highPa: 2 ** 47 + 0x10000 },
  { name: '64 KiB, 52-bit with LPA', pageSize: 65536, vaBits: 52, t1sz: 12, physmemBits: 52, levels: 3, topIndexBits: 52, format: 'lpa', base: 0xffff800008000000n, highPa: 2 ** 51 + 2 ** 48 + 0x10000 },
  // the top table is sized for 52 bits and TTBR1 points into it (TTBR1_BADDR_4852_OFFSET)
  { name: '64 KiB, built for 52 bits, running with 48', pageSize: 65536, vaBits: 52, t1sz: 16, physmemBits: 52, levels: 3, topIndexBits: 52, format: 'lpa', base: 0xffff800008000000n, highPa: 2 ** 47 + 0x10000 },
];

/** Descriptors in the Arm ARM's formats, written into PageMemory. */
class TableWriter {
  private next: number;
  readonly shift: number;
  constructor(private readonly mem: PageMemory, private readonly c: Config, readonly root: number) {
    this.shift = Math.log2(c.pageSize);
    this.next = root + 16 * c.pageSize;
    mem.page(root);
  }

  levelShift(level: number): number {
    return (this.shift - 3) * (3 - level) + this.shift;
  }

  /** the output-address bits of a descriptor for pa, in the configuration's format */
  oa(pa: number): bigint {
    const a = BigInt(pa);
    if (this.c.format === 'lpa') return (a & ((1n << 48n) - 1n)) | (((a >> 48n) & 0xfn) << 12n);
    if (this.c.format === 'lpa2') return (a & ((1n << 50n) - 1n)) | (((a >> 50n) & 3n) << 8n);
    return a;
  }

  private index(va: bigint, level: number): number {
    const top = 4 - this.c.levels;
    const s = this.levelShift(level);
    const bits = level === top ? this.c.topIndexBits - s : this.shift - 3;
    return Number((va >> BigInt(s)) & ((1n << BigInt(bits)) - 1n));
  }

  /** Maps va to pa with a descriptor at `leafLevel` (3: a page, else a block). */
  map(va: bigint, pa: number, leafLevel: number): void {
    let table = this.root;
    for (let level = 4 - this.c.levels; level < leafLevel; level++) {
      const at = table + this.index(va, level) * 8;
      let e = this.mem.page(at).readBigUInt64LE(at % this.c.pageSize);
      if (e === 0n) {
        const child = this.next;
        this.next += this.c.pageSize;
        this.mem.page(child);
        e = this.oa(child) | 3n;
        this.mem.page(at).writeBigUInt64LE(e, at % this.c.pageSize);
      }
      table = Number(BigInt(this.decodeTable(e)));
    }
    const at = table + this.index(va, leafLevel) * 8;
    // pages 0b11, blocks 0b01; AF and inner-shareable bits as the kernel sets them
    const attrs = this.c.format === 'lpa2' ? 0x400n : 0x700n;
    this.mem.page(at).writeBigUInt64LE(this.oa(pa) | attrs | (leafLevel === 3 ? 3n : 1n), at % this.c.pageSize);
  }

  private decodeTable(e: bigint): number {
    const pageMask = ~(BigInt(this.c.pageSize) - 1n);
    if (this.c.format === 'lpa') return Number(((e & ((1n << 48n) - 1n)) | (((e >> 12n) & 0xfn) << 48n)) & pageMask);
    if (this.c.format === 'lpa2') return Number(((e & ((1n << 50n) - 1n)) | (((e >> 8n) & 3n) << 50n)) & pageMask);
    return Number(e & ((1n << 48n) - 1n) & pageMask);
  }
}

function keys(values: Record<string, bigint | number>): KernelKeys {
  return {
    symbol: (n) => (typeof values[`SYMBOL(${n})`] === 'bigint' ? values[`SYMBOL(${n})`] as bigint : undefined),
    number: (n) => (values[`NUMBER(${n})`] === undefined ? undefined : Number(values[`NUMBER(${n})`])),
    numberBig: (n) => (values[`NUMBER(${n})`] === undefined ? undefined : BigInt(values[`NUMBER(${n})`])),
  };
}

describe('arm64 translator: every granule and VA size, set up from VMCOREINFO', function () {
  for (const c of CONFIGS) {
    it(c.name, function () {
      const mem = new PageMemory(c.pageSize);
      const physOffset = 0x40000000;
      const rootPa = physOffset + 0x200000;
      const swapper = c.base + 0x200000n;
      const w = new TableWriter(mem, c, rootPa);
      const addr = keys({
        'NUMBER(VA_BITS)': c.vaBits, 'NUMBER(TCR_EL1_T1SZ)': c.t1sz, 'NUMBER(MAX_PHYSMEM_BITS)': c.physmemBits,
        'NUMBER(PHYS_OFFSET)': physOffset, 'NUMBER(kimage_voffset)': BigInt.asUintN(64, c.base - BigInt(physOffset)),
        'SYMBOL(swapper_pg_dir)': swapper, 'SYMBOL(_stext)': c.base + 0x10000n,
      });
      const a = ARM64.addressing(mem, addr, { pageSize: c.pageSize });
      const d = a.translator.desc as Arm64Desc;
      expect(d).to.deep.include({ rootPa, pageShift: w.shift, levels: c.levels, topIndexBits: c.topIndexBits, format: c.format });
      expect(a.physBase).to.equal(BigInt(physOffset));
      // a page, a block one level up, and a page at the highest physical address the format holds
      const page = c.base + 3n * BigInt(c.pageSize) + 0x123n;
      w.map(page - 0x123n, physOffset + 7 * c.pageSize, 3);
      const blockSize = 2 ** w.levelShift(2);
      const blockVa = (c.base & ~BigInt(blockSize - 1)) + BigInt(blockSize) * 4n;
      w.map(blockVa, physOffset + blockSize * 2, 2);
      const high = c.base + 9n * BigInt(c.pageSize);
      w.map(high, c.highPa, 3);

      const t = a.translator;
      expect(t.translate(page)).to.deep.equal({ pa: physOffset + 7 * c.pageSize + 0x123, span: c.pageSize - 0x123 });
      expect(t.translate(blockVa + 0x4567n)).to.deep.equal({ pa: physOffset + blockSize * 2 + 0x4567, span: blockSize - 0x4567 });
      expect(t.vtop(high + 8n)).to.equal(c.highPa + 8);
      // unmapped: the next page, and an address another top-level entry would map
      expect(t.translate(page + BigInt(c.pageSize))).to.equal(undefined);
      expect(t.translate(c.base - (1n << BigInt(w.levelShift(4 - c.levels))))).to.equal(undefined);
      // --vtop shows one entry per level walked, top to bottom
      const walk = t.walk(page);
      expect(walk.steps.map(([name]) => name)).to.have.length(c.levels);
      expect(walk.pa).to.equal(physOffset + 7 * c.pageSize + 0x123);
      expect(t.walk(blockVa).steps).to.have.length(c.levels - 1);
      // a worker rebuilds the same translator from the description
      const again = new Arm64Translator(mem, JSON.parse(JSON.stringify(d)) as Arm64Desc);
      expect(again.vtop(high)).to.equal(c.highPa);
    });
  }

  it('reads the kernel through the linear map where swapper_pg_dir lies in it (kernels before 4.6 had no kimage_voffset)', function () {
    const c = CONFIGS[0];
    const mem = new PageMemory(4096);
    const physOffset = 0x80000000;
    const rootPa = physOffset + 0x1000;
    new TableWriter(mem, c, rootPa);
    // flipped layout (_stext in the upper half): linear map at 0xffff000000000000
    const a = ARM64.addressing(mem, keys({
      'NUMBER(VA_BITS)': 48, 'NUMBER(TCR_EL1_T1SZ)': 16, 'NUMBER(PHYS_OFFSET)': physOffset,
      'SYMBOL(swapper_pg_dir)': 0xffff000000001000n, 'SYMBOL(_stext)': 0xffff800008010000n,
    }), { pageSize: 4096 });
    expect((a.translator.desc as Arm64Desc).rootPa).to.equal(rootPa);
    expect(a.kernelBase).to.equal(0xffff000000000000n);
  });

  it('before 5.4 (linear map in the upper half): _stext below it says so, and the kernel base is -2^VA_BITS', function () {
    const mem = new PageMemory(4096);
    new TableWriter(mem, CONFIGS[0], 0x40001000);
    const a = ARM64.addressing(mem, keys({
      'NUMBER(VA_BITS)': 48, 'NUMBER(PHYS_OFFSET)': 0x40000000, 'NUMBER(kimage_voffset)': 0xffff000008000000n - 0x40000000n,
      'SYMBOL(swapper_pg_dir)': 0xffff000008001000n, 'SYMBOL(_stext)': 0xffff000008010000n,
    }), { pageSize: 4096 });
    expect((a.translator.desc as Arm64Desc).rootPa).to.equal(0x40001000);
    expect(a.kernelBase).to.equal(0xffff000000000000n);
  });
});

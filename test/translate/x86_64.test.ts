// x86_64 page-table walks (src/translate/x86_64.ts) over page tables built here in a
// sparse physical memory: 4 KiB, 2 MiB and 1 GiB pages, 4 and 5 levels, an entry not
// present, the SME bit, and a read that crosses from one mapping into the next.
import { expect } from 'chai';
import { X86_64Translator } from '../../src/translate/x86_64';
import type { PhysicalMemory } from '../../src/vmcore/physical';

const P = 1n; // present
const RW = 2n;
const PSE = 0x80n;

/** Physical memory as 4 KiB pages made on first write; unwritten memory reads as zero. */
class SparseMemory implements PhysicalMemory {
  readonly pageSize = 4096;
  readonly loads = [{ paddr: 0, memsz: 2 ** 40, filesz: 2 ** 40, fileOffset: 0, vaddr: 0n }];
  private readonly pages = new Map<number, Uint8Array>();
  fileOffset(pa: number): number { return pa; }
  private page(pa: number): Uint8Array {
    const n = Math.floor(pa / 4096);
    let p = this.pages.get(n);
    if (!p) this.pages.set(n, (p = new Uint8Array(4096)));
    return p;
  }
  read(pa: number, buf: Uint8Array, off: number, len: number): boolean {
    for (let i = 0; i < len; i++) buf[off + i] = this.pages.get(Math.floor((pa + i) / 4096))?.[(pa + i) % 4096] ?? 0;
    return true;
  }
  writeEntry(table: number, index: number, value: bigint): void {
    new DataView(this.page(table).buffer).setBigUint64(index * 8, value, true);
  }
  write(pa: number, bytes: Uint8Array): void {
    bytes.forEach((b, i) => { this.page(pa + i)[(pa + i) % 4096] = b; });
  }
}

const idx = (va: bigint, shift: bigint): number => Number((va >> shift) & 511n);

describe('x86_64 page-table walk', function () {
  const ROOT = 0x1000;
  const SME = 1n << 47n;
  let mem: SparseMemory;
  const va4k = 0xffff888000201000n;
  const va2m = 0xffff888000400000n + 0x1234n;
  const va1g = 0xffff888040000000n + 0x123456n;
  const vaHole = 0xffff888000202000n;

  before(function () {
    mem = new SparseMemory();
    // one p4d entry -> pud table at 0x2000; pud[0] -> pmd at 0x3000; pud[1]: a 1 GiB page
    mem.writeEntry(ROOT, idx(va4k, 39n), 0x2000n | P | RW | SME);
    mem.writeEntry(0x2000, idx(va4k, 30n), 0x3000n | P | RW);
    mem.writeEntry(0x2000, idx(va1g, 30n), 0x80000000n | P | PSE | SME);
    // pmd[1] -> pte table at 0x4000; pmd[2]: a 2 MiB page at 6 MiB
    mem.writeEntry(0x3000, idx(va4k, 21n), 0x4000n | P | RW);
    mem.writeEntry(0x3000, idx(va2m, 21n), 0x600000n | P | PSE);
    // pte[1] -> 0x9000; pte[2] not present; pte[0] -> 0xa000 (the page before va4k)
    mem.writeEntry(0x4000, idx(va4k, 12n), 0x9000n | P | SME);
    mem.writeEntry(0x4000, idx(va4k, 12n) - 1, 0xa000n | P);
    mem.write(0x9000, Buffer.from('four KiB page'));
    mem.write(0xaff8, Buffer.from('12345678'));
  });

  it('4 KiB, 2 MiB and 1 GiB pages, with the SME bit masked off', function () {
    const tr = new X86_64Translator(mem, ROOT, false, SME);
    expect(tr.translate(va4k + 5n)).to.deep.equal({ pa: 0x9005, span: 4096 - 5 });
    expect(tr.translate(va2m)).to.deep.equal({ pa: 0x600000 + 0x1234, span: 0x200000 - 0x1234 });
    expect(tr.translate(va1g)).to.deep.equal({ pa: 0x80000000 + 0x123456, span: 0x40000000 - 0x123456 });
  });

  it('an entry not present on the way: no translation, and a read stops there', function () {
    const tr = new X86_64Translator(mem, ROOT, false, SME);
    expect(tr.translate(vaHole)).to.equal(undefined);
    expect(tr.translate(0xffffc90000000000n)).to.equal(undefined);
    const buf = new Uint8Array(16);
    expect(tr.readVirt(vaHole - 8n, buf, 0, 16)).to.equal(8);
  });

  it('a read across two 4 KiB mappings takes each part from its own page', function () {
    const tr = new X86_64Translator(mem, ROOT, false, SME);
    const buf = Buffer.alloc(21);
    expect(tr.readVirt(va4k - 8n, buf, 0, 21)).to.equal(21);
    expect(buf.toString('latin1')).to.equal('12345678four KiB page');
  });

  it('5 levels: one more table above', function () {
    const root5 = 0x20000;
    mem.writeEntry(root5, idx(va4k, 48n), BigInt(ROOT) | P | RW);
    const tr = new X86_64Translator(mem, root5, true, SME);
    expect(tr.translate(va4k)).to.deep.equal({ pa: 0x9000, span: 4096 });
    expect(new X86_64Translator(mem, ROOT, true, SME).translate(va4k)).to.equal(undefined);
  });
});

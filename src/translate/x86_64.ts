// x86_64 virtual-to-physical translation by walking the crashed kernel's page tables,
// 4- or 5-level, with 2 MiB and 1 GiB pages. Nothing here knows about file formats:
// it reads physical memory through the PhysicalMemory interface.
// Spec: vmcoreinfo-and-translation.md §5 (upstream: makedumpfile arch/x86_64.c).
import type { PhysicalMemory } from '../vmcore/physical';

/** __START_KERNEL_map: base of the kernel text mapping */
export const START_KERNEL_MAP = 0xffffffff80000000n;
const PAGE_PRESENT = 1n;
const PAGE_PSE = 0x80n;
/** physical-address bits of an entry (ENTRY_MASK) */
const ENTRY_MASK = 0x000ffffffffff000n;
const TABLE_CACHE_PAGES = 256;

export interface Translation {
  /** physical address of the virtual address asked for */
  pa: number;
  /** bytes from there to the end of its mapping (4 KiB, 2 MiB or 1 GiB page) */
  span: number;
}

export class X86_64Translator {
  private readonly entryMask: bigint;
  private readonly tableCache = new Map<number, BigUint64Array>();
  private readonly tableBuf = new Uint8Array(4096);

  constructor(
    private readonly mem: PhysicalMemory,
    /** physical address of the top-level table */
    readonly rootPa: number,
    readonly fiveLevel: boolean,
    smeMask: bigint,
  ) {
    this.entryMask = ENTRY_MASK & ~smeMask;
  }

  /** Where `va` is mapped, or undefined when an entry on the way is not present or unreadable. */
  translate(va: bigint): Translation | undefined {
    let table = this.rootPa;
    if (this.fiveLevel) {
      const pgd = this.entry(table, Number((va >> 48n) & 511n));
      if (pgd === undefined || !(pgd & PAGE_PRESENT)) return undefined;
      table = Number(pgd & this.entryMask);
    }
    const p4d = this.entry(table, Number((va >> 39n) & 511n));
    if (p4d === undefined || !(p4d & PAGE_PRESENT)) return undefined;
    const pud = this.entry(Number(p4d & this.entryMask), Number((va >> 30n) & 511n));
    if (pud === undefined || !(pud & PAGE_PRESENT)) return undefined;
    if (pud & PAGE_PSE) {
      const off = Number(va & 0x3fffffffn);
      return { pa: Number(pud & this.entryMask & ~0x3fffffffn) + off, span: 0x40000000 - off };
    }
    const pmd = this.entry(Number(pud & this.entryMask), Number((va >> 21n) & 511n));
    if (pmd === undefined || !(pmd & PAGE_PRESENT)) return undefined;
    if (pmd & PAGE_PSE) {
      const off = Number(va & 0x1fffffn);
      return { pa: Number(pmd & this.entryMask & ~0x1fffffn) + off, span: 0x200000 - off };
    }
    const pte = this.entry(Number(pmd & this.entryMask), Number((va >> 12n) & 511n));
    if (pte === undefined || !(pte & PAGE_PRESENT)) return undefined;
    const off = Number(va & 0xfffn);
    return { pa: Number(pte & this.entryMask) + off, span: 4096 - off };
  }

  /** The page-table entries read to translate va, for --vtop: [level name, entry address, entry]. */
  walk(va: bigint): { steps: [string, number, bigint][]; pa: number } {
    const steps: [string, number, bigint][] = [];
    let table = this.rootPa;
    const levels: [string, bigint][] = this.fiveLevel
      ? [['PGD', 48n], ['P4D', 39n], ['PUD', 30n], ['PMD', 21n], ['PTE', 12n]]
      : [['PGD', 39n], ['PUD', 30n], ['PMD', 21n], ['PTE', 12n]];
    for (const [name, shift] of levels) {
      const index = Number((va >> shift) & 511n);
      const e = this.entry(table, index);
      if (e === undefined) return { steps, pa: -1 };
      steps.push([name, table + index * 8, e]);
      if (!(e & PAGE_PRESENT)) return { steps, pa: -1 };
      if ((name === 'PUD' || name === 'PMD') && (e & PAGE_PSE)) break;
      table = Number(e & this.entryMask);
    }
    return { steps, pa: this.vtop(va) };
  }

  vtop(va: bigint): number {
    return this.translate(va)?.pa ?? -1;
  }

  /**
   * Reads [va, va+len) into buf. Returns the number of bytes read from the start before
   * the first untranslatable or unreadable page (len when all of it was read).
   */
  readVirt(va: bigint, buf: Uint8Array, off: number, len: number): number {
    let done = 0;
    while (done < len) {
      const t = this.translate(va + BigInt(done));
      if (!t) return done;
      // stay within one 4 KiB page so a physical read never runs off a PT_LOAD edge unnoticed
      const n = Math.min(len - done, t.span);
      if (!this.readPhys(t.pa, buf, off + done, n)) return done;
      done += n;
    }
    return done;
  }

  /** Reads a little-endian u64 at a kernel virtual address. */
  readU64(va: bigint): bigint | undefined {
    const b = new Uint8Array(8);
    if (this.readVirt(va, b, 0, 8) !== 8) return undefined;
    return Buffer.from(b.buffer).readBigUInt64LE(0);
  }

  /**
   * A physical read that cannot fail the caller: data the input cannot give (a file that
   * ends early or shrank, an I/O error) is unreadable like an unmapped page, and the last
   * such error is kept for messages.
   */
  private readPhys(pa: number, buf: Uint8Array, off: number, len: number): boolean {
    try {
      return this.mem.read(pa, buf, off, len);
    } catch (e) {
      this.lastReadError = (e as Error)?.message ?? String(e);
      return false;
    }
  }

  /** the message of the last input read that failed (not merely unmapped), if any */
  lastReadError?: string;

  private entry(tablePa: number, index: number): bigint | undefined {
    let t = this.tableCache.get(tablePa);
    if (!t) {
      if (!this.readPhys(tablePa, this.tableBuf, 0, 4096)) return undefined;
      t = new BigUint64Array(this.tableBuf.slice().buffer);
      if (this.tableCache.size >= TABLE_CACHE_PAGES) {
        const first = this.tableCache.keys().next().value as number;
        this.tableCache.delete(first);
      }
      this.tableCache.set(tablePa, t);
    }
    return t[index];
  }
}

// What every architecture's translator shares: reading kernel virtual memory once a
// page-table walk has said where an address is, a cache of the table pages the walks
// read, and the plain description a worker thread rebuilds the translator from.
// Nothing here knows about file formats: physical memory is read through PhysicalMemory.
import type { PhysicalMemory } from '../vmcore/physical';

export interface Translation {
  /** physical address of the virtual address asked for */
  pa: number;
  /** bytes from there to the end of its mapping (a page or a block) */
  span: number;
}

/** One entry read on the way to a translation, for --vtop: [level name, entry address, entry]. */
export type WalkStep = [string, number, bigint];

/**
 * A translator as plain data (numbers, booleans, bigints: what structured clone carries to
 * a worker thread). Each architecture's module declares its own variant; the pipeline
 * passes it along without looking inside.
 */
export interface TranslatorDesc {
  arch: string;
}

export interface Translator {
  /** what rebuilds this translator in another thread */
  readonly desc: TranslatorDesc;
  /** Where `va` is mapped, or undefined when an entry on the way is not present or unreadable. */
  translate(va: bigint): Translation | undefined;
  /** The page-table entries read to translate va (--vtop), and the physical address or -1. */
  walk(va: bigint): { steps: WalkStep[]; pa: number };
  vtop(va: bigint): number;
  /** Reads [va, va+len) into buf; returns the bytes read from the start before the first gap. */
  readVirt(va: bigint, buf: Uint8Array, off: number, len: number): number;
  /** a little-endian u64 at a kernel virtual address */
  readU64(va: bigint): bigint | undefined;
  /** the message of the last input read that failed (not merely unmapped), if any */
  readonly lastReadError?: string;
  /**
   * Physical addresses of the table pages reachable from the root (each once, the root
   * first), at most `limit` of them: what a reader of the dump needs to translate any
   * kernel address. Tables that cannot be read are left out with what hangs below them.
   */
  tablePages(limit: number): number[];
}

/** table pages kept per translator: the walks of one scan touch a few dozen */
const TABLE_CACHE_PAGES = 256;

export abstract class PageWalker implements Translator {
  abstract readonly desc: TranslatorDesc;
  abstract translate(va: bigint): Translation | undefined;
  abstract walk(va: bigint): { steps: WalkStep[]; pa: number };

  lastReadError?: string;
  private readonly tableCache = new Map<number, BigUint64Array>();
  private readonly tableBuf: Uint8Array;

  constructor(protected readonly mem: PhysicalMemory,
    /** bytes read and cached at a time: the translation granule (4 KiB on x86_64) */
    private readonly tablePage: number) {
    this.tableBuf = new Uint8Array(tablePage);
  }

  vtop(va: bigint): number {
    return this.translate(va)?.pa ?? -1;
  }

  readVirt(va: bigint, buf: Uint8Array, off: number, len: number): number {
    let done = 0;
    while (done < len) {
      const t = this.translate(va + BigInt(done));
      if (!t) return done;
      // stay within one mapping so a physical read never runs off a PT_LOAD edge unnoticed
      const n = Math.min(len - done, t.span);
      if (!this.readPhys(t.pa, buf, off + done, n)) return done;
      done += n;
    }
    return done;
  }

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
  protected readPhys(pa: number, buf: Uint8Array, off: number, len: number): boolean {
    try {
      return this.mem.read(pa, buf, off, len);
    } catch (e) {
      this.lastReadError = (e as Error)?.message ?? String(e);
      return false;
    }
  }

  abstract tablePages(limit: number): number[];

  /** The u64 table entry at physical address `pa`, through the cache of table pages. */
  protected entryAt(pa: number): bigint | undefined {
    const page = pa - (pa % this.tablePage);
    return this.tableAt(page)?.[(pa - page) / 8];
  }

  /** The entries of the table page at `page` (a multiple of the granule), through the cache. */
  protected tableAt(page: number): BigUint64Array | undefined {
    let t = this.tableCache.get(page);
    if (!t) {
      if (!this.readPhys(page, this.tableBuf, 0, this.tablePage)) return undefined;
      t = new BigUint64Array(this.tableBuf.slice().buffer);
      if (this.tableCache.size >= TABLE_CACHE_PAGES) {
        const first = this.tableCache.keys().next().value as number;
        this.tableCache.delete(first);
      }
      this.tableCache.set(page, t);
    }
    return t;
  }
}

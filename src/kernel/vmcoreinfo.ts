// VMCOREINFO: the crashed kernel's KEY=VALUE note, parsed once into typed look-ups.
// Parsing follows makedumpfile's rules so that we accept and reject the same notes
// (spec vmcoreinfo-and-translation.md §1): the first line with a key wins, SYMBOL values
// are hex (0 or all-ones is invalid), SIZE/OFFSET/LENGTH/NUMBER are decimal with a hex
// retry, trailing garbage is fatal.
import { DumpError, printable } from '../util/errors';

const HEX = /^\s*(?:0[xX])?([0-9a-fA-F]+)$/;
const DEC = /^\s*([+-]?\d+)$/;
const SHEX = /^\s*([+-]?)(?:0[xX])?([0-9a-fA-F]+)$/;
const LONG_MAX = 2n ** 63n - 1n;

export class VmcoreInfo {
  private readonly values = new Map<string, string>();

  constructor(readonly text: string) {
    for (const raw of text.split('\n')) {
      // makedumpfile reads the note with fgets: a NUL ends the text
      const nul = raw.indexOf('\0');
      const line = nul >= 0 ? raw.slice(0, nul) : raw;
      const eq = line.indexOf('=');
      if (eq <= 0) continue;
      const key = line.slice(0, eq);
      if (!this.values.has(key)) this.values.set(key, line.slice(eq + 1));
      if (nul >= 0) break;
    }
  }

  has(key: string): boolean {
    return this.values.has(key);
  }

  raw(key: string): string | undefined {
    return this.values.get(key);
  }

  /** SYMBOL(name): a kernel virtual address */
  symbol(name: string): bigint | undefined {
    const key = `SYMBOL(${name})`;
    const v = this.values.get(key);
    if (v === undefined) return undefined;
    const m = HEX.exec(v);
    const val = m ? BigInt('0x' + m[1]) : 0n;
    if (!m || val === 0n || val >= 2n ** 64n - 1n) {
      throw new DumpError('bad-vmcoreinfo', `invalid VMCOREINFO value: ${printable(key)}=${printable(v)}`);
    }
    return val;
  }

  size(name: string): number | undefined { return this.long(`SIZE(${name})`); }
  offset(name: string): number | undefined { return this.long(`OFFSET(${name})`); }
  length(name: string): number | undefined { return this.long(`LENGTH(${name})`); }
  number(name: string): number | undefined { return this.long(`NUMBER(${name})`); }

  /** A SIZE/OFFSET/LENGTH/NUMBER line as a signed long. */
  long(key: string): number | undefined {
    const v = this.values.get(key);
    if (v === undefined) return undefined;
    let val: bigint;
    const d = DEC.exec(v);
    if (d) {
      val = BigInt(d[1]);
    } else if (v.trim() === '') {
      val = 0n;
    } else {
      const h = SHEX.exec(v);
      if (!h) throw new DumpError('bad-vmcoreinfo', `invalid VMCOREINFO value: ${printable(key)}=${printable(v)}`);
      val = BigInt('0x' + h[2]) * (h[1] === '-' ? -1n : 1n);
    }
    if (val >= LONG_MAX || val < -LONG_MAX) {
      throw new DumpError('bad-vmcoreinfo', `invalid VMCOREINFO value: ${printable(key)}=${printable(v)}`);
    }
    if (val > BigInt(Number.MAX_SAFE_INTEGER) || val < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new DumpError('bad-vmcoreinfo', `VMCOREINFO value out of range: ${printable(key)}=${printable(v)}`);
    }
    return Number(val);
  }

  /** NUMBER(name) as a full 64-bit signed value (phys_base can be negative and large). */
  numberBig(name: string): bigint | undefined {
    const key = `NUMBER(${name})`;
    const v = this.values.get(key);
    if (v === undefined) return undefined;
    const d = DEC.exec(v);
    if (d) return BigInt(d[1]);
    const h = SHEX.exec(v);
    if (!h) throw new DumpError('bad-vmcoreinfo', `invalid VMCOREINFO value: ${printable(key)}=${printable(v)}`);
    return BigInt('0x' + h[2]) * (h[1] === '-' ? -1n : 1n);
  }

  get osRelease(): string {
    const v = this.values.get('OSRELEASE');
    if (v === undefined || v === '') throw new DumpError('bad-vmcoreinfo', 'VMCOREINFO has no OSRELEASE');
    return v;
  }

  get pageSize(): number {
    const v = this.values.get('PAGESIZE');
    if (v === undefined) throw new DumpError('bad-vmcoreinfo', 'VMCOREINFO has no PAGESIZE');
    const n = DEC.exec(v) ? Number(v.trim()) : NaN;
    if (!Number.isSafeInteger(n) || n <= 0 || (n & (n - 1)) !== 0) {
      throw new DumpError('bad-vmcoreinfo', `invalid VMCOREINFO value: PAGESIZE=${printable(v)}`);
    }
    return n;
  }

  /** CRASHTIME (seconds), 0 when absent (QEMU dumps have none). */
  get crashTime(): number {
    const v = this.values.get('CRASHTIME');
    if (v === undefined) return 0;
    const d = DEC.exec(v);
    const n = d ? Number(d[1]) : NaN;
    if (!Number.isSafeInteger(n) || n === 0) {
      throw new DumpError('bad-vmcoreinfo', `invalid VMCOREINFO value: CRASHTIME=${printable(v)}`);
    }
    return n;
  }

  get kernelOffset(): bigint {
    const v = this.values.get('KERNELOFFSET');
    const m = v === undefined ? null : HEX.exec(v);
    return m ? BigInt('0x' + m[1]) : 0n;
  }
}

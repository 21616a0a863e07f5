// VMCOREINFO: the crashed kernel's KEY=VALUE note, parsed once into typed look-ups.
// Parsing follows makedumpfile's rules so that we accept and reject the same notes
// (spec vmcoreinfo-and-translation.md §1): SYMBOL values are hex (0 or all-ones is
// invalid), trailing garbage is fatal. Two departures, both refusals of notes no kernel
// writes (docs/faults.md): a key given twice with different values is refused instead of
// the first line winning, and SIZE/OFFSET/LENGTH/NUMBER must be decimal or 0x-prefixed hex
// (the kernel prints them with %lu/%ld, arm64 a few with 0x%llx) where makedumpfile reads
// "abc" as hex 0xabc.
import { DumpError, printable } from '../util/errors';

const HEX = /^\s*(?:0[xX])?([0-9a-fA-F]+)$/;
const DEC = /^\s*([+-]?\d+)$/;
const SHEX = /^\s*([+-]?)0[xX]([0-9a-fA-F]+)$/;
const LONG_MAX = 2n ** 63n - 1n;

/** The one line for a key whose values disagree (two lines of a note, or two notes). */
function conflict(key: string, a: string, b: string, twoNotes: boolean): DumpError {
  const who = twoNotes ? 'two VMCOREINFO notes give' : 'VMCOREINFO gives';
  return new DumpError('conflicting-vmcoreinfo', `${who} ${printable(key)} two values: ${printable(a, 40)} and ${printable(b, 40)}`);
}

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
      const value = line.slice(eq + 1);
      const earlier = this.values.get(key);
      if (earlier === undefined) this.values.set(key, value);
      else if (earlier !== value) throw conflict(key, earlier, value, false);
      if (nul >= 0) break;
    }
  }

  /**
   * Every key looked up so far, whether the note has it or not: what the run read
   * (test/faults/vmcoreinfo-values.test.ts mutates each of them).
   */
  readonly keysRead = new Set<string>();

  private get(key: string): string | undefined {
    this.keysRead.add(key);
    return this.values.get(key);
  }

  /**
   * Throws when another VMCOREINFO (an earlier note of the same dump) gives a key this
   * one has a different value; keys only one of them has are not a conflict.
   */
  checkAgrees(other: VmcoreInfo): void {
    for (const [key, value] of this.values) {
      const v = other.values.get(key);
      if (v !== undefined && v !== value) throw conflict(key, v, value, true);
    }
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  raw(key: string): string | undefined {
    return this.get(key);
  }

  /** SYMBOL(name): a kernel virtual address */
  symbol(name: string): bigint | undefined {
    const key = `SYMBOL(${name})`;
    const v = this.get(key);
    if (v === undefined) return undefined;
    const m = HEX.exec(v);
    const val = m ? BigInt('0x' + m[1]) : 0n;
    if (!m || val === 0n || val >= 2n ** 64n - 1n) {
      throw new DumpError('bad-vmcoreinfo', `invalid VMCOREINFO value: ${printable(key)}=${printable(v)}`);
    }
    return val;
  }

  /** the names of every SYMBOL() line, in note order */
  symbolNames(): string[] {
    const names: string[] = [];
    for (const key of this.values.keys()) {
      const m = /^SYMBOL\((.+)\)$/.exec(key);
      if (m) names.push(m[1]);
    }
    return names;
  }

  size(name: string): number | undefined { return this.long(`SIZE(${name})`); }
  offset(name: string): number | undefined { return this.long(`OFFSET(${name})`); }
  length(name: string): number | undefined { return this.long(`LENGTH(${name})`); }
  number(name: string): number | undefined { return this.long(`NUMBER(${name})`); }

  /** A SIZE/OFFSET/LENGTH/NUMBER line as a signed long. */
  long(key: string): number | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    const val = parseNumber(key, v);
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
    const v = this.get(key);
    if (v === undefined) return undefined;
    return parseNumber(key, v);
  }

  get osRelease(): string {
    const v = this.get('OSRELEASE');
    if (v === undefined || v === '') throw new DumpError('bad-vmcoreinfo', 'VMCOREINFO has no OSRELEASE');
    return v;
  }

  get pageSize(): number {
    const v = this.get('PAGESIZE');
    if (v === undefined) throw new DumpError('bad-vmcoreinfo', 'VMCOREINFO has no PAGESIZE');
    const n = DEC.exec(v) ? Number(v.trim()) : NaN;
    if (!Number.isSafeInteger(n) || n <= 0 || (n & (n - 1)) !== 0) {
      throw new DumpError('bad-vmcoreinfo', `invalid VMCOREINFO value: PAGESIZE=${printable(v)}`);
    }
    return n;
  }

  /** CRASHTIME (seconds), 0 when absent (QEMU dumps have none). */
  get crashTime(): number {
    const v = this.get('CRASHTIME');
    if (v === undefined) return 0;
    const d = DEC.exec(v);
    const n = d ? Number(d[1]) : NaN;
    if (!Number.isSafeInteger(n) || n === 0) {
      throw new DumpError('bad-vmcoreinfo', `invalid VMCOREINFO value: CRASHTIME=${printable(v)}`);
    }
    return n;
  }

  get kernelOffset(): bigint {
    const v = this.get('KERNELOFFSET');
    const m = v === undefined ? null : HEX.exec(v);
    return m ? BigInt('0x' + m[1]) : 0n;
  }
}

/** A SIZE/OFFSET/LENGTH/NUMBER value: decimal, or hex with 0x; anything else is not a number. */
function parseNumber(key: string, v: string): bigint {
  const d = DEC.exec(v);
  if (d) return BigInt(d[1]);
  const h = SHEX.exec(v);
  if (!h) throw new DumpError('bad-vmcoreinfo', `invalid VMCOREINFO value: ${printable(key)}=${printable(v)} is not a number`);
  return BigInt('0x' + h[2]) * (h[1] === '-' ? -1n : 1n);
}

// Fuzzed inputs never crash the engine: seeded mutations of a small synthetic vmcore's ELF
// header, program headers, notes, VMCOREINFO text, page tables, mem_section and struct
// pages, each run in this process through the library API (prepare + pass 1 for most,
// the whole dump to a null sink for some). Every run must end either complete or in a
// DumpError with a one-line message (never an internal error, never another exception),
// within a fixed time and memory bound, without a flood of messages.
//
// CYCLODUMP_FUZZ_RUNS=N changes the number of inputs (default 5000), CYCLODUMP_FUZZ_SEED
// the seed; a failure prints the seed and path fast-check needs to replay it, and
// CYCLODUMP_FUZZ_PATH=path replays that input alone, printing what it was and what it gave.
import { expect } from 'chai';
import fc from 'fast-check';
import * as fs from 'fs';
import * as path from 'path';
import { buildKernelModel } from '../../src/kernel/kernel-model';
import { runDump } from '../../src/pipeline/dump';
import { closeJob, prepareDump } from '../../src/pipeline/prepare';
import { scanPass } from '../../src/pipeline/scan-pass';
import { DumpError } from '../../src/util/errors';
import { Messages } from '../../src/util/messages';
import { ElfVmcore } from '../../src/vmcore/elf-vmcore';
import { synthVmcore, sparseCopy } from '../helpers/faults';
import { scratchDir } from '../helpers/fixtures';

const RUNS = Number(process.env.CYCLODUMP_FUZZ_RUNS ?? 5000);
const SEED = Number(process.env.CYCLODUMP_FUZZ_SEED ?? 20261122);
const REPLAY = process.env.CYCLODUMP_FUZZ_PATH;
/** no single input may take longer (the clean input takes about 15 ms, a full dump 150 ms) */
const MAX_MS_PER_INPUT = 15_000;
/** resident memory after any input (the clean run needs about 150 MB) */
const MAX_RSS = 1536 << 20;
/** message lines of one run: warnings are capped, never one per page */
const MAX_LINES = 400;

interface Region {
  name: string;
  /** file offset */
  off: number;
  len: number;
}

/** One change to the file: bytes written at a file offset (undone after the run). */
interface Patch {
  at: number;
  bytes: Buffer;
}

interface Target {
  ehdr: Region;
  phdrs: Region;
  notes: Region;
  /** the VMCOREINFO note (the last one of the segment) */
  vmcoreinfo: { nhdrAt: number; descAt: number; text: string; room: number; notePhdrAt: number; descOffset: number };
  memmap: Region[];
  tables: { pa: number; off: number }[];
  memSection: Region;
}

const U32 = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
  0xffffff7f /* buddy */, 0xfffffeff /* offline */, 0xf0000080, 0xf4000000, 9, 10, 11, 18, 63, 64, 65];
const U64 = [0n, 1n, 0x1000n, 0x10000000000000n /* 2^52 */, 0x3fffffffffffn, 0x400000000000n, 0x7fffffffffffffffn,
  0x8000000000000000n, 0xffffffffffffffffn, 0xffff888000000000n, 0xffffffff80000000n, 0xfffffffffffff000n,
  0x100000000n, 0xfffffffffn];

function le32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}

function le64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt.asUintN(64, v));
  return b;
}

/** A value to write somewhere: one byte, an interesting u32/u64, or random bytes. */
const valueArb: fc.Arbitrary<Buffer> = fc.oneof(
  fc.integer({ min: 0, max: 255 }).map((b) => Buffer.from([b])),
  fc.constantFrom(...U32).map(le32),
  fc.constantFrom(...U64).map(le64),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map(le64),
  fc.uint8Array({ minLength: 1, maxLength: 24 }).map((a) => Buffer.from(a)),
);

/** Up to `max` patches inside a region, at word-aligned or any offsets. */
function regionPatches(r: Region, max: number, align = 1): fc.Arbitrary<Patch[]> {
  return fc.array(fc.tuple(fc.nat(), valueArb), { minLength: 1, maxLength: max }).map((list) => list.map(([n, bytes]) => {
    let rel = n % r.len;
    rel -= rel % align;
    const b = bytes.subarray(0, Math.max(1, r.len - rel));
    return { at: r.off + rel, bytes: b };
  }));
}

const GARBAGE = ['', 'zz', '-1', '0', '0x', '1', '-129', '18446744073709551615', '9223372036854775807',
  '99999999999999999999', ' 12', '12abc', '-9223372036854775808', 'ffffffffffffffff', '1e9', '0x1000',
  '4096', '8192', '63', '64', '40', '13', '52', '47', '27', 'ffffffff80000000', 'ffff888000000000', '\x01\x02'];

type TextEdit =
  | { kind: 'delete'; line: number }
  | { kind: 'value'; line: number; value: string }
  | { kind: 'shadow'; line: number; value: string }
  | { kind: 'swap'; a: number; b: number }
  | { kind: 'nul'; at: number }
  | { kind: 'cut'; at: number }
  | { kind: 'dup-key'; line: number; to: number };

const textEditArb: fc.Arbitrary<TextEdit> = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), line: fc.nat() }),
  fc.record({ kind: fc.constant('value' as const), line: fc.nat(), value: fc.oneof(fc.constantFrom(...GARBAGE), fc.string({ maxLength: 20 })) }),
  fc.record({ kind: fc.constant('shadow' as const), line: fc.nat(), value: fc.constantFrom(...GARBAGE) }),
  fc.record({ kind: fc.constant('swap' as const), a: fc.nat(), b: fc.nat() }),
  fc.record({ kind: fc.constant('nul' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('dup-key' as const), line: fc.nat(), to: fc.nat() }),
);

function editText(text: string, edits: TextEdit[]): string {
  let lines = text.split('\n');
  for (const e of edits) {
    const n = lines.length || 1;
    const kv = (i: number): [string, string] => {
      const l = lines[i % n] ?? '';
      const eq = l.indexOf('=');
      return eq < 0 ? [l, ''] : [l.slice(0, eq), l.slice(eq + 1)];
    };
    switch (e.kind) {
      case 'delete': lines.splice(e.line % n, 1); break;
      case 'value': lines[e.line % n] = `${kv(e.line)[0]}=${e.value}`; break;
      // the first line with a key wins: a garbage line before the real one replaces it
      case 'shadow': lines.splice(e.line % n, 0, `${kv(e.line)[0]}=${e.value}`); break;
      case 'swap': {
        const [ka, va] = kv(e.a);
        const [kb, vb] = kv(e.b);
        lines[e.a % n] = `${ka}=${vb}`;
        lines[e.b % n] = `${kb}=${va}`;
        break;
      }
      case 'nul': {
        const t = lines.join('\n');
        const at = e.at % (t.length + 1);
        lines = (t.slice(0, at) + '\0' + t.slice(at)).split('\n');
        break;
      }
      case 'cut': {
        const t = lines.join('\n');
        lines = t.slice(0, e.at % (t.length + 1)).split('\n');
        break;
      }
      case 'dup-key': lines[e.to % n] = `${kv(e.line)[0]}=${kv(e.to)[1]}`; break;
    }
  }
  return lines.join('\n');
}

/** The VMCOREINFO note rewritten with new text (it is the segment's last note: it may grow into the gap before the first PT_LOAD's data). */
function vmcoreinfoPatches(t: Target, text: string): Patch[] {
  const v = t.vmcoreinfo;
  let desc = Buffer.from(text, 'latin1');
  if (desc.length > v.text.length + v.room) desc = desc.subarray(0, v.text.length + v.room);
  const padded = Buffer.alloc(Math.max(v.text.length, (desc.length + 3) & ~3));
  desc.copy(padded);
  const segSize = v.descOffset + ((desc.length + 3) & ~3);
  return [
    { at: v.descAt, bytes: padded },
    { at: v.nhdrAt + 4, bytes: le32(desc.length) },
    // PT_NOTE p_filesz and p_memsz
    { at: v.notePhdrAt + 32, bytes: Buffer.concat([le64(BigInt(segSize)), le64(BigInt(segSize))]) },
  ];
}

/** A page-table entry: a loop back to a table, another table, a 2 MiB or 1 GiB page, garbage. */
function tablePatches(t: Target): fc.Arbitrary<Patch[]> {
  const entry = fc.tuple(fc.nat(t.tables.length - 1), fc.nat(511), fc.nat(t.tables.length - 1),
    fc.constantFrom('self', 'other', 'pse', 'huge', 'zero', 'random'), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }));
  return fc.array(entry, { minLength: 1, maxLength: 6 }).map((list) => list.map(([ti, idx, oi, kind, rnd]) => {
    const table = t.tables[ti];
    const other = t.tables[oi];
    const v = kind === 'self' ? BigInt(table.pa) | 0x63n
      : kind === 'other' ? BigInt(other.pa) | 0x63n
        : kind === 'pse' ? BigInt(other.pa) | 0xe3n
          : kind === 'huge' ? 0xffffffffff000n | 0x63n
            : kind === 'zero' ? 0n : rnd;
    return { at: table.off + idx * 8, bytes: le64(v) };
  }));
}

interface Input {
  what: string;
  patches: Patch[];
  level: number;
  full: boolean;
}

function inputArb(t: Target): fc.Arbitrary<Input> {
  const level = fc.constantFrom(31, 31, 31, 1, 0, 17, 8, 2, 5, 30);
  const full = fc.integer({ min: 0, max: 24 }).map((x) => x === 0);
  const memmapRegion = fc.nat(t.memmap.length - 1).chain((i) => regionPatches(t.memmap[i], 24, 4));
  const target: fc.Arbitrary<[string, Patch[]]> = fc.oneof(
    { weight: 10, arbitrary: regionPatches(t.ehdr, 4).map((p): [string, Patch[]] => ['ehdr', p]) },
    { weight: 15, arbitrary: regionPatches(t.phdrs, 4, 4).map((p): [string, Patch[]] => ['phdr', p]) },
    { weight: 10, arbitrary: regionPatches(t.notes, 6).map((p): [string, Patch[]] => ['notes', p]) },
    { weight: 25, arbitrary: fc.array(textEditArb, { minLength: 1, maxLength: 3 }).map((e): [string, Patch[]] => ['vmcoreinfo', vmcoreinfoPatches(t, editText(t.vmcoreinfo.text, e))]) },
    { weight: 25, arbitrary: memmapRegion.map((p): [string, Patch[]] => ['memmap', p]) },
    { weight: 10, arbitrary: tablePatches(t).map((p): [string, Patch[]] => ['page-table', p]) },
    { weight: 5, arbitrary: regionPatches(t.memSection, 6, 8).map((p): [string, Patch[]] => ['mem_section', p]) },
  );
  return fc.record({ target, level, full }).map(({ target: [what, patches], level: l, full: f }) => ({
    what, patches, level: l, full: f,
    // a short counterexample; CYCLODUMP_FUZZ_PATH prints the bytes
    [fc.toStringMethod]: () => `${what} at ${patches.map((p) => `${p.at}+${p.bytes.length}`).join(' ')}, -d ${l}${f ? ', whole dump' : ''}`,
  }));
}

/** Where the interesting bytes of the clean vmcore are, found with the engine itself. */
function findTargets(file: string): Target {
  const vm = ElfVmcore.open(file);
  try {
    const info = vm.info;
    const vi = info.vmcoreinfo!;
    let phNote = -1;
    const eh = info.ehdr;
    const phoff = Number(eh.readBigUInt64LE(32));
    const phnum = eh.readUInt16LE(56);
    const ph = Buffer.alloc(56 * phnum);
    fs.readSync(vm.fd, ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) if (ph.readUInt32LE(i * 56) === 4) phNote = phoff + i * 56;
    const viNote = info.notes.find((n) => n.name === 'VMCOREINFO')!;
    const firstData = Math.min(...vm.loads.map((l) => l.fileOffset));
    const km = buildKernelModel(vm, vi.text, { warn: () => undefined, needPageLayout: true, arch: vm.arch });
    const tr = km.translator!;
    const memmap: Region[] = [];
    for (const r of km.memmap!.ranges) {
      const pa = tr.vtop(r.memMap);
      memmap.push({ name: `mem_map ${r.pfnStart}`, off: vm.fileOffset(pa), len: (r.pfnEnd - r.pfnStart) * 64 });
    }
    // the tables on the walk to the first struct page and to init_uts_ns
    const tables = new Map<number, number>();
    for (const va of [km.memmap!.ranges[0].memMap, km.vmcoreinfo!.symbol('init_uts_ns')!]) {
      for (const [, entryAt] of tr.walk(va).steps) {
        const pa = entryAt - (entryAt % 4096);
        tables.set(pa, vm.fileOffset(pa));
      }
    }
    const msPa = tr.vtop(km.vmcoreinfo!.symbol('mem_section')!);
    return {
      ehdr: { name: 'ehdr', off: 0, len: 64 },
      phdrs: { name: 'phdrs', off: phoff, len: 56 * phnum },
      notes: { name: 'notes', off: info.noteOffset, len: info.noteSize },
      vmcoreinfo: {
        nhdrAt: info.noteOffset + viNote.offset, descAt: info.noteOffset + vi.descOffset, text: vi.text,
        room: firstData - (info.noteOffset + info.noteSize), notePhdrAt: phNote, descOffset: vi.descOffset,
      },
      memmap,
      tables: [...tables].map(([pa, off]) => ({ pa, off })),
      memSection: { name: 'mem_section', off: vm.fileOffset(msPa), len: 4096 },
    };
  } finally {
    vm.close();
  }
}

describe('fuzzed vmcores: a DumpError or a dump, within bounds, never a crash', function () {
  this.timeout(600_000);
  let dir: string;
  let work: string;
  let fd: number;
  let target: Target;

  before(async function () {
    dir = scratchDir('fuzz');
    const base = await synthVmcore();
    work = path.join(dir, 'work.vmcore');
    sparseCopy(base, work);
    fd = fs.openSync(work, 'r+');
    target = findTargets(base);
  });

  after(function () {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function runOne(input: Input): Promise<{ outcome: string; ms: number; lines: number }> {
    let lines = 0;
    const out = { write: (s: string): boolean => { lines += s.split('\n').length - 1; return true; } };
    // common and error messages, no progress meter
    const msgs = new Messages(6, out, out);
    const opts = {
      input: work, dumpLevel: input.level, codec: 'none' as const, dryRun: true, force: true, numThreads: 1,
      freeMemory: 1 << 30,
    };
    const t0 = Date.now();
    let outcome = 'ok';
    try {
      if (input.full) {
        const r = await runDump(opts, msgs);
        if (r.error) throw r.error;
      } else {
        const job = prepareDump(opts, msgs);
        try {
          await scanPass(job);
        } finally {
          await closeJob(job);
        }
      }
    } catch (e) {
      if (!(e instanceof DumpError)) throw new Error(`${input.what}: not a DumpError: ${(e as Error)?.stack ?? String(e)}`);
      if (e.code === 'internal') throw new Error(`${input.what}: internal error: ${e.message}`);
      if (e.message.includes('\n')) throw new Error(`${input.what}: a message of more than one line: ${e.message}`);
      outcome = e.code;
    }
    return { outcome, ms: Date.now() - t0, lines };
  }

  it('the clean vmcore dumps without a message', async function () {
    const r = await runOne({ what: 'clean', patches: [], level: 31, full: true });
    expect(r.outcome).to.equal('ok');
    expect(r.lines).to.equal(0);
  });

  it(`${RUNS} mutated inputs (seed ${SEED}): every run ends in a dump or a one-line DumpError, bounded`, async function () {
    const outcomes = new Map<string, number>();
    const byTarget = new Map<string, Map<string, number>>();
    let slowest = 0;
    let peakRss = 0;
    await fc.assert(fc.asyncProperty(inputArb(target), async (input) => {
      const saved = input.patches.map((p) => {
        const b = Buffer.alloc(p.bytes.length);
        fs.readSync(fd, b, 0, b.length, p.at);
        return { at: p.at, bytes: b };
      });
      for (const p of input.patches) fs.writeSync(fd, p.bytes, 0, p.bytes.length, p.at);
      try {
        const r = await runOne(input);
        if (REPLAY) {
          console.log(`      ${input.what}, -d ${input.level}${input.full ? ', whole dump' : ''}: ${r.outcome} in ${r.ms} ms, ${r.lines} lines`);
          for (const p of input.patches) console.log(`        at ${p.at}: ${p.bytes.length > 64 ? JSON.stringify(p.bytes.toString('latin1')) : p.bytes.toString('hex')}`);
        }
        outcomes.set(r.outcome, (outcomes.get(r.outcome) ?? 0) + 1);
        const t = byTarget.get(input.what) ?? new Map<string, number>();
        t.set(r.outcome, (t.get(r.outcome) ?? 0) + 1);
        byTarget.set(input.what, t);
        slowest = Math.max(slowest, r.ms);
        const rss = process.memoryUsage().rss;
        peakRss = Math.max(peakRss, rss);
        if (r.ms > MAX_MS_PER_INPUT) throw new Error(`${input.what}: took ${r.ms} ms`);
        if (rss > MAX_RSS) throw new Error(`${input.what}: resident memory ${rss >> 20} MiB`);
        if (r.lines > MAX_LINES) throw new Error(`${input.what}: ${r.lines} message lines`);
      } finally {
        // undo in reverse order: patches may overlap
        for (const p of saved.reverse()) fs.writeSync(fd, p.bytes, 0, p.bytes.length, p.at);
      }
    }), REPLAY ? { seed: SEED, path: REPLAY, numRuns: 1 } : { seed: SEED, numRuns: RUNS, endOnFailure: true });
    if (REPLAY) return;
    const summary = [...byTarget].map(([w, m]) => `${w}: ${[...m].map(([k, v]) => `${k} ${v}`).join(', ')}`).join('\n      ');
    console.log(`      outcomes: ${[...outcomes].map(([k, v]) => `${k} ${v}`).join(', ')}\n      ${summary}\n      slowest ${slowest} ms, peak RSS ${peakRss >> 20} MiB`);
    // the mutations reach both sides: dumps that go through and inputs that are refused
    expect(outcomes.get('ok') ?? 0).to.be.greaterThan(RUNS / 10);
    expect(outcomes.size).to.be.greaterThan(RUNS >= 1000 ? 8 : 2);
  });
});

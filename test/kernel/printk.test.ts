// --dump-dmesg against makedumpfile 1.7.2 on real vmcores: the lockless ring buffer of
// 6.1 and 6.12, read from the ELF vmcore and from our own kdump-compressed dump of it;
// then a patched copy of real-1g (records with escapes, truncated and wrapped blocks,
// skipped states, a latched clear_seq, and a rewritten VMCOREINFO that describes a
// 3.5-5.9 structured log_buf, including corrupt ones) where makedumpfile runs live on the
// same bytes. Layouts makedumpfile cannot be run on (the < 3.5 character ring) and garbage
// are checked on a model over fake memory.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { KernelModel, buildKernelModel } from '../../src/kernel/kernel-model';
import { DmesgCorruptError, extractDmesg, writeDmesg } from '../../src/kernel/printk';
import { VmcoreInfo } from '../../src/kernel/vmcoreinfo';
import { X86_64, X86_64Translator } from '../../src/translate/x86_64';
import { DumpError } from '../../src/util/errors';
import { ElfVmcore } from '../../src/vmcore/elf-vmcore';
import { KdumpVmcore, isKdumpCompressed } from '../../src/vmcore/kdump-vmcore';
import { FIXTURES } from '../helpers/paths';
import { fixtureVmcore, scratchDir } from '../helpers/fixtures';
import { cyclodump, makedumpfile } from '../helpers/tools';

interface Opened {
  km: KernelModel;
  close(): void;
}

function openModel(p: string): Opened {
  const head = Buffer.alloc(8);
  const fd = fs.openSync(p, 'r');
  fs.readSync(fd, head, 0, 8, 0);
  fs.closeSync(fd);
  const opts = { warn: () => undefined, needPageLayout: false };
  if (isKdumpCompressed(head)) {
    const kd = KdumpVmcore.open(p);
    return { km: buildKernelModel(kd, kd.vmcoreinfo?.text, { ...opts, arch: kd.arch }), close: () => kd.close() };
  }
  const vm = ElfVmcore.open(p);
  return { km: buildKernelModel(vm, vm.info.vmcoreinfo?.text, { ...opts, arch: vm.arch }), close: () => vm.close() };
}

function ours(p: string, partial = false): Buffer {
  const o = openModel(p);
  try {
    return extractDmesg(o.km, { partial });
  } finally {
    o.close();
  }
}

/** makedumpfile --dump-dmesg: exit code and the file it leaves (even on failure). */
function theirs(dir: string, p: string, partial = false): { code: number; text: Buffer; stderr: string } {
  const out = path.join(dir, `mdf-${Date.now()}-${Math.random().toString(36).slice(2)}.txt`);
  const r = makedumpfile(['--dump-dmesg', ...(partial ? ['--partial-dmesg'] : []), p, out]);
  const text = fs.existsSync(out) ? fs.readFileSync(out) : Buffer.alloc(0);
  fs.rmSync(out, { force: true });
  return { code: r.code, text, stderr: r.stderr + r.stdout };
}

function firstDiff(a: Buffer, b: Buffer): string {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return `differs at byte ${i}: ours ${JSON.stringify(a.subarray(i, i + 40).toString('latin1'))} theirs ${JSON.stringify(b.subarray(i, i + 40).toString('latin1'))}`;
  }
  return a.length === b.length ? 'same' : `lengths ${a.length} vs ${b.length}`;
}

function expectSame(a: Buffer, b: Buffer, what: string): void {
  expect(a.equals(b), `${what}: ${firstDiff(a, b)}`).to.equal(true);
}

describe('dmesg (lockless ring buffer) against makedumpfile 1.7.2', function () {
  let dir: string;
  before(function () {
    dir = scratchDir('printk');
  });
  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const name of ['real-1g', 'real-6.12-1g']) {
    describe(name, function () {
      let vmcore: string;
      before(function () {
        vmcore = fixtureVmcore(name);
      });

      it('--dump-dmesg from the ELF vmcore is byte-identical', function () {
        const mine = ours(vmcore);
        const ref = theirs(dir, vmcore);
        expect(ref.code, ref.stderr).to.equal(0);
        expectSame(mine, ref.text, 'dmesg');
        expectSame(mine, fs.readFileSync(path.join(FIXTURES, name, 'dmesg.txt')), 'recorded dmesg.txt');
        expect(mine.toString('latin1')).to.match(/\]\s.*Kernel panic - not syncing/);
      });

      it('--partial-dmesg is byte-identical (clear_seq 0: the whole log)', function () {
        const ref = theirs(dir, vmcore, true);
        expect(ref.code, ref.stderr).to.equal(0);
        expectSame(ours(vmcore, true), ref.text, 'partial dmesg');
      });

      it('reading our own kdump-compressed dump (-l -d 31) gives the same text', function () {
        const dump = path.join(dir, `${name}.kdump`);
        const r = cyclodump(['-l', '-d', '31', vmcore, dump]);
        expect(r.code, r.stderr).to.equal(0);
        const mine = ours(dump);
        expectSame(mine, fs.readFileSync(path.join(FIXTURES, name, 'dmesg.txt')), 'dmesg from kdump dump');
        const ref = theirs(dir, dump);
        expect(ref.code, ref.stderr).to.equal(0);
        expectSame(mine, ref.text, 'makedumpfile on the kdump dump');
        fs.rmSync(dump, { force: true });
      });
    });
  }
});

// ---------------------------------------------------------------------------------------
// a patched copy of real-1g

const ID_MASK = (1n << 62n) - 1n;

class Patcher {
  readonly vm: ElfVmcore;
  readonly km: KernelModel;
  private readonly fd: number;

  constructor(readonly file: string) {
    this.vm = ElfVmcore.open(file);
    this.km = buildKernelModel(this.vm, this.vm.info.vmcoreinfo?.text, { warn: () => undefined, needPageLayout: false, arch: this.vm.arch });
    this.fd = fs.openSync(file, 'r+');
  }

  get tr(): X86_64Translator {
    return this.km.translator as X86_64Translator;
  }

  read(va: bigint, len: number): Buffer {
    const b = Buffer.alloc(len);
    expect(this.tr.readVirt(va, b, 0, len)).to.equal(len);
    return b;
  }

  /** Writes bytes at a kernel virtual address, page by page into the ELF file. */
  write(va: bigint, data: Buffer): void {
    let done = 0;
    while (done < data.length) {
      const t = this.tr.translate(va + BigInt(done));
      if (!t) throw new Error(`unmapped ${va + BigInt(done)}`);
      const n = Math.min(data.length - done, t.span, 4096 - (t.pa % 4096));
      const off = this.vm.fileOffset(t.pa);
      if (off < 0) throw new Error(`pa ${t.pa.toString(16)} not in the file`);
      fs.writeSync(this.fd, data, done, n, off);
      done += n;
    }
  }

  /** Replaces the VMCOREINFO note text in place (same length, padded with a dummy key). */
  setVmcoreinfo(text: string): void {
    const v = this.vm.info.vmcoreinfo;
    if (!v) throw new Error('no VMCOREINFO');
    if (text.length > v.size) throw new Error('new VMCOREINFO too long');
    let padded = text;
    if (padded.length < v.size) {
      const padLen = v.size - padded.length;
      padded += ('CYCLODUMP_TEST_PAD=' + 'x'.repeat(padLen)).slice(0, padLen - 1) + '\n';
    }
    fs.writeSync(this.fd, Buffer.from(padded, 'latin1'), 0, v.size, this.vm.info.noteOffset + v.descOffset);
  }

  close(): void {
    fs.closeSync(this.fd);
    this.vm.close();
  }
}

describe('dmesg on a patched real-1g, against makedumpfile 1.7.2 on the same bytes', function () {
  let dir: string;
  let copy: string;
  let original: string;
  let p: Patcher;

  before(function () {
    dir = scratchDir('printk-patched');
    copy = path.join(dir, 'patched.vmcore');
    fs.copyFileSync(fixtureVmcore('real-1g'), copy);
    fs.chmodSync(copy, 0o600);
    p = new Patcher(copy);
    original = p.vm.info.vmcoreinfo!.text;
  });
  after(function () {
    p?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('lockless ring buffer', function () {
    let vi: VmcoreInfo;
    let rbVa: bigint;
    let rb: Buffer;
    let descsVa: bigint;
    let infosVa: bigint;
    let count: number;
    let head: bigint;
    let tail: bigint;

    before(function () {
      vi = p.km.vmcoreinfo!;
      rbVa = p.tr.readU64(vi.symbol('prb')!)!;
      rb = p.read(rbVa, vi.size('printk_ringbuffer')!);
      count = 2 ** rb.readUInt32LE(0);
      descsVa = rb.readBigUInt64LE(8);
      infosVa = rb.readBigUInt64LE(16);
      head = rb.readBigUInt64LE(24);
      tail = rb.readBigUInt64LE(32);
      expect(Number((head - tail) & ID_MASK)).to.be.greaterThan(300);
    });

    const slotOf = (id: bigint): number => Number(id % BigInt(count));

    it('escapes, continuation lines, a truncated, a wrapped and skipped records: byte-identical', function () {
      const textVa = rb.readBigUInt64LE(56);
      const size = 2 ** rb.readUInt32LE(48);
      // record tail+20: special bytes inside its text
      const d1 = p.read(descsVa + BigInt(slotOf(tail + 20n) * 24), 24);
      const begin1 = Number(d1.readBigUInt64LE(8) % BigInt(size));
      p.write(textVa + BigInt(begin1 + 8), Buffer.from([
        0x41, 0x0a, 0x09, 0x01, 0x7f, 0x80, 0xff, 0xc3, 0xa9, 0x1b, 0x0d, 0x0b, 0x0c, 0x20, 0x00, 0x0a, 0x42,
      ]));
      // record tail+30: text_len far beyond its block (truncated to the block)
      const info2 = infosVa + BigInt(slotOf(tail + 30n) * 88);
      p.write(info2 + 16n, Buffer.from([0xff, 0xff]));
      // record tail+40: a block that wraps (begin > next): its text is read from the ring start
      const d0 = p.read(descsVa + BigInt(slotOf(tail + 1n) * 24), 24);
      const next0 = d0.readBigUInt64LE(16);
      const wrap = Buffer.alloc(16);
      wrap.writeBigUInt64LE(BigInt(size) * 3n - 24n, 0);
      wrap.writeBigUInt64LE(BigInt(size) * 3n + (next0 % BigInt(size)), 8);
      p.write(descsVa + BigInt(slotOf(tail + 40n) * 24) + 8n, wrap);
      // record tail+50: state reserved (skipped); tail+51: id mismatch (skipped)
      const st = Buffer.alloc(8);
      st.writeBigUInt64LE(tail + 50n, 0);
      p.write(descsVa + BigInt(slotOf(tail + 50n) * 24), st);
      st.writeBigUInt64LE((2n << 62n) | ((tail + 51n + 7n) & ID_MASK), 0);
      p.write(descsVa + BigInt(slotOf(tail + 51n) * 24), st);
      // record tail+60: data-less (begin == next)
      const dl = p.read(descsVa + BigInt(slotOf(tail + 60n) * 24), 24);
      p.write(descsVa + BigInt(slotOf(tail + 60n) * 24) + 16n, dl.subarray(8, 16));

      const ref = theirs(dir, copy);
      expect(ref.code, ref.stderr).to.equal(0);
      const mine = ours(copy);
      expectSame(mine, ref.text, 'patched dmesg');
      const s = mine.toString('latin1');
      expect(s).to.contain('A\n               \t\\x01\\x7f\\xffffff80\\xffffffff\\xffffffc3\\xffffffa9\\x1b\r\x0b\x0c \\x00\n               B');
      expect(s.split('\n').length).to.be.lessThan(fs.readFileSync(path.join(FIXTURES, 'real-1g', 'dmesg.txt'), 'latin1').split('\n').length + 5);
    });

    it('--partial-dmesg from a latched clear_seq: byte-identical', function () {
      const csVa = vi.symbol('clear_seq')!;
      const seq = ((head % BigInt(count)) - 150n + BigInt(count)) % BigInt(count) + 5n * BigInt(count);
      const b = Buffer.alloc(24);
      b.writeBigUInt64LE(3n, 0); // latch sequence odd: val[1] is the valid copy
      b.writeBigUInt64LE(999n, 8);
      b.writeBigUInt64LE(seq, 16);
      p.write(csVa, b);
      const ref = theirs(dir, copy, true);
      expect(ref.code, ref.stderr).to.equal(0);
      const mine = ours(copy, true);
      expectSame(mine, ref.text, 'partial dmesg');
      const lines = mine.toString('latin1').split('\n').filter((l) => l.startsWith('['));
      expect(lines.length).to.be.within(140, 151);
      expect(ours(copy, false).length).to.be.greaterThan(mine.length);
    });
  });

  describe('structured log_buf (3.5-5.9 layout), VMCOREINFO rewritten', function () {
    const LEN = 4096;
    let varsVa: bigint;
    let bufVa: bigint;
    const layout = { A: 0, B: 0, C: 1000, D: 0, E: 0, X: 0 };

    function rec(ts: bigint, text: Buffer, opts: { len?: number; textLen?: number } = {}): Buffer {
      const size = (16 + text.length + 3) & ~3;
      const b = Buffer.alloc(size);
      b.writeBigUInt64LE(ts, 0);
      b.writeUInt16LE(opts.len ?? size, 8);
      b.writeUInt16LE(opts.textLen ?? text.length, 10);
      b[14] = 0; b[15] = 6;
      text.copy(b, 16);
      return b;
    }

    /** Writes log_buf and the index variables, then the VMCOREINFO naming them. */
    function setup(records: { at: number; rec: Buffer }[], first: number, next: number, clear: number): void {
      const buf = Buffer.alloc(LEN, 0xee);
      for (const r of records) r.rec.copy(buf, r.at);
      p.write(bufVa, buf);
      const vars = Buffer.alloc(64);
      vars.writeBigUInt64LE(bufVa, 0); // log_buf (a pointer)
      vars.writeInt32LE(LEN, 8); // log_buf_len
      vars.writeUInt32LE(first, 16); // log_first_idx
      vars.writeUInt32LE(next, 24); // log_next_idx
      vars.writeUInt32LE(clear, 32); // clear_idx
      p.write(varsVa, vars);
    }

    before(function () {
      const vi = p.km.vmcoreinfo!;
      const rbVa = p.tr.readU64(vi.symbol('prb')!)!;
      const rb = p.read(rbVa, 88);
      varsVa = rb.readBigUInt64LE(8); // the prb descriptor array: scratch space now
      bufVa = rb.readBigUInt64LE(56); // the text ring: holds our log_buf
      const sym = (off: number): string => (varsVa + BigInt(off)).toString(16);
      const legacy = [
        `SYMBOL(log_buf)=${sym(0)}`, `SYMBOL(log_buf_len)=${sym(8)}`, `SYMBOL(log_first_idx)=${sym(16)}`,
        `SYMBOL(log_next_idx)=${sym(24)}`, `SYMBOL(clear_idx)=${sym(32)}`,
        'SIZE(printk_log)=16', 'OFFSET(printk_log.ts_nsec)=0', 'OFFSET(printk_log.len)=8', 'OFFSET(printk_log.text_len)=10',
      ].join('\n') + '\n';
      const i = original.indexOf('SYMBOL(prb)=');
      const endKey = 'OFFSET(latched_seq.val)=8\n';
      const j = original.indexOf(endKey) + endKey.length;
      expect(i).to.be.greaterThan(0);
      expect(j).to.be.greaterThan(i);
      p.setVmcoreinfo(original.slice(0, i) + legacy + original.slice(j));
    });

    function records(): { at: number; rec: Buffer }[] {
      const A = rec(1000n, Buffer.from('record A at the buffer start'));
      const B = rec(2_500_000_000n, Buffer.from('record B\nsecond line\tTAB \x1b[0m end'));
      const C = rec(123_456_789_012n, Buffer.from('record C: high \x80\xfe bytes'));
      const D = rec(99_999_999_999_999n, Buffer.from('record D: text_len runs into E'), { textLen: 60 });
      const E = rec(5n, Buffer.from(''));
      layout.A = 0;
      layout.B = A.length;
      layout.D = layout.C + C.length;
      layout.E = layout.D + D.length;
      layout.X = layout.E + E.length;
      const X = Buffer.alloc(16); // wrap marker: len 0
      return [
        { at: layout.A, rec: A }, { at: layout.B, rec: B }, { at: layout.C, rec: C }, { at: layout.D, rec: D },
        { at: layout.E, rec: E }, { at: layout.X, rec: X },
      ];
    }

    it('a wrapped log: byte-identical, and --partial-dmesg from clear_idx', function () {
      const rs = records();
      const afterB = layout.B + rs[1].rec.length;
      setup(rs, layout.C, afterB, layout.D);
      const ref = theirs(dir, copy);
      expect(ref.code, ref.stderr).to.equal(0);
      const mine = ours(copy);
      expectSame(mine, ref.text, 'structured dmesg');
      expect(mine.toString('latin1').split('\n').filter((l) => l.startsWith('[')).map((l) => l.slice(15, 23))).to.deep.equal([
        'record C', 'record D', '', 'record A', 'record B',
      ]);
      expect(mine.toString('latin1')).to.contain('[99999.999999] ');
      const refP = theirs(dir, copy, true);
      expect(refP.code, refP.stderr).to.equal(0);
      const mineP = ours(copy, true);
      expectSame(mineP, refP.text, 'structured partial dmesg');
      expect(mineP.length).to.be.lessThan(mine.length);
    });

    it('a cycle of records: the same partial text as makedumpfile, then a clear error', function () {
      const rs = records();
      // B's length leads back to D: C, D, E, X(-> A's successor B), B, D, E, ...
      rs[1].rec.writeUInt16LE(layout.D - layout.B, 8);
      setup(rs, layout.C, 3000, 0);
      const ref = theirs(dir, copy);
      expect(ref.code).to.equal(1);
      expect(ref.stderr).to.contain('Cycle when parsing dmesg detected');
      const o = openModel(copy);
      try {
        expect(() => extractDmesg(o.km, {})).to.throw(DmesgCorruptError, /cycle.*log_buf is most likely corrupt/);
        try {
          extractDmesg(o.km, {});
        } catch (e) {
          expectSame((e as DmesgCorruptError).partialText, ref.text, 'text written before the cycle');
        }
      } finally {
        o.close();
      }
    });

    it('a record index outside the buffer: the same partial text, then a clear error', function () {
      const rs = records();
      rs[3].rec.writeUInt16LE(LEN - 8 - layout.D, 8); // D's successor lies in the last 8 bytes
      setup(rs, layout.C, 3000, 0);
      const ref = theirs(dir, copy);
      expect(ref.code).to.equal(1);
      expect(ref.stderr).to.contain('Index outside log_buf detected');
      const o = openModel(copy);
      try {
        let err: unknown;
        try {
          extractDmesg(o.km, {});
        } catch (e) {
          err = e;
        }
        expect(err).to.be.instanceOf(DmesgCorruptError);
        expect((err as Error).message).to.match(/outside the buffer/);
        expectSame((err as DmesgCorruptError).partialText, ref.text, 'text written before the bad index');
      } finally {
        o.close();
      }
    });
  });
});

// ---------------------------------------------------------------------------------------
// fake memory: layouts makedumpfile cannot be run on here, and garbage

interface Region {
  va: bigint;
  bytes: Buffer;
}

function fakeModel(vmcoreinfo: string, regions: Region[], kernelVersion: number): KernelModel {
  const translator = {
    readVirt(va: bigint, buf: Uint8Array, off: number, len: number): number {
      for (const r of regions) {
        if (va >= r.va && va < r.va + BigInt(r.bytes.length)) {
          const at = Number(va - r.va);
          const n = Math.min(len, r.bytes.length - at);
          buf.set(r.bytes.subarray(at, at + n), off);
          return n;
        }
      }
      return 0;
    },
  };
  return {
    vmcoreinfo: new VmcoreInfo(vmcoreinfo), pageSize: 4096, utsname: Buffer.alloc(390), release: '', kernelVersion,
    crashTime: 0, arch: X86_64, physBase: 0n, translator: translator as unknown as X86_64Translator,
    kernelBase: 0n, maxMapnrLoads: 1, maxMapnr: 1,
  };
}

const u64 = (v: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt.asUintN(64, v));
  return b;
};
const u32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
};

const LOCKLESS_KEYS = [
  'SIZE(printk_ringbuffer)=88', 'OFFSET(printk_ringbuffer.desc_ring)=0', 'OFFSET(printk_ringbuffer.text_data_ring)=48',
  'OFFSET(prb_desc_ring.count_bits)=0', 'OFFSET(prb_desc_ring.descs)=8', 'OFFSET(prb_desc_ring.infos)=16',
  'OFFSET(prb_desc_ring.head_id)=24', 'OFFSET(prb_desc_ring.tail_id)=32', 'SIZE(prb_desc)=24',
  'OFFSET(prb_desc.state_var)=0', 'OFFSET(prb_desc.text_blk_lpos)=8', 'OFFSET(prb_data_blk_lpos.begin)=0',
  'OFFSET(prb_data_blk_lpos.next)=8', 'SIZE(printk_info)=88', 'OFFSET(printk_info.ts_nsec)=8',
  'OFFSET(printk_info.text_len)=16', 'OFFSET(prb_data_ring.size_bits)=0', 'OFFSET(prb_data_ring.data)=8',
  'OFFSET(atomic_long_t.counter)=0',
];

/** A lockless ring: prb pointer at 0x1000, the ring at 0x2000, descs/infos/text as given. */
function locklessModel(p: { countBits: number; sizeBits: number; head: bigint; tail: bigint; descs?: Buffer; infos?: Buffer; text?: Buffer }, keys = LOCKLESS_KEYS): KernelModel {
  const rb = Buffer.alloc(88);
  rb.writeUInt32LE(p.countBits, 0);
  rb.writeBigUInt64LE(0x10000n, 8);
  rb.writeBigUInt64LE(0x20000000n, 16);
  rb.writeBigUInt64LE(p.head, 24);
  rb.writeBigUInt64LE(p.tail, 32);
  rb.writeUInt32LE(p.sizeBits, 48);
  rb.writeBigUInt64LE(0x40000000n, 56);
  return fakeModel(['SYMBOL(prb)=1000', ...keys].join('\n') + '\n', [
    { va: 0x1000n, bytes: u64(0x2000n) }, { va: 0x2000n, bytes: rb },
    ...(p.descs ? [{ va: 0x10000n, bytes: p.descs }] : []),
    ...(p.infos ? [{ va: 0x20000000n, bytes: p.infos }] : []),
    ...(p.text ? [{ va: 0x40000000n, bytes: p.text }] : []),
  ], 0x060100);
}

function expectDumpError(fn: () => unknown, code: string, re: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'a DumpError').to.be.instanceOf(DumpError);
  expect((err as DumpError).code).to.equal(code);
  expect((err as Error).message).to.match(re);
  expect((err as Error).message).to.not.contain('\n');
}

describe('dmesg on fake memory', function () {
  it('< 3.5 character ring: verbatim, rotated at log_end once it wrapped', function () {
    const keys = (v: number): string => `SYMBOL(log_buf)=100\nSYMBOL(log_buf_len)=200\nSYMBOL(log_end)=300\n`.slice(0, v);
    const ring = Buffer.from('0123456789abcdef');
    const mk = (logEnd: number, version: number, wide: boolean): KernelModel => fakeModel(keys(1000), [
      { va: 0x100n, bytes: u64(0x1000n) }, { va: 0x200n, bytes: u32(16) },
      { va: 0x300n, bytes: wide ? u64(BigInt(logEnd)) : u32(logEnd) }, { va: 0x1000n, bytes: ring },
    ], version);
    expect(extractDmesg(mk(5, 0x030400, false), {}).toString()).to.equal('01234');
    expect(extractDmesg(mk(16 * 3 + 5, 0x030400, false), {}).toString()).to.equal('56789abcdef01234');
    expect(extractDmesg(mk(16 + 5, 0x020618, true), {}).toString()).to.equal('56789abcdef01234');
  });

  it('a structured log whose cycle starts at a wrap marker ends (makedumpfile would write forever)', function () {
    const buf = Buffer.alloc(256);
    // 0: record A (len 32); 32: record B (len 32); 64: marker -> 0 + len(A) = 32
    buf.writeUInt16LE(32, 8); buf.writeUInt16LE(1, 10); buf[16] = 0x41;
    buf.writeUInt16LE(32, 32 + 8); buf.writeUInt16LE(1, 32 + 10); buf[48] = 0x42;
    const km = fakeModel('SYMBOL(log_buf)=100\nSYMBOL(log_buf_len)=200\nSYMBOL(log_first_idx)=300\nSYMBOL(log_next_idx)=400\nSIZE(printk_log)=16\nOFFSET(printk_log.ts_nsec)=0\nOFFSET(printk_log.len)=8\nOFFSET(printk_log.text_len)=10\n', [
      { va: 0x100n, bytes: u64(0x1000n) }, { va: 0x200n, bytes: u32(256) }, { va: 0x300n, bytes: u32(64) },
      { va: 0x400n, bytes: u32(200) }, { va: 0x1000n, bytes: buf },
    ], 0x040000);
    let err: unknown;
    try {
      extractDmesg(km, {});
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(DmesgCorruptError);
    expect((err as DmesgCorruptError).partialText.toString()).to.equal('[    0.000000] A\n[    0.000000] B\n'.repeat(2));
  });

  it('garbage: absurd ring sizes, missing keys, unmapped memory, bad ids end in one-line DumpErrors, fast', function () {
    const t0 = Date.now();
    expectDumpError(() => extractDmesg(locklessModel({ countBits: 40, sizeBits: 12, head: 1n, tail: 0n }), {}),
      'dmesg-implausible', /descriptor ring of 2\^40/);
    expectDumpError(() => extractDmesg(locklessModel({ countBits: 25, sizeBits: 12, head: 1n, tail: 0n }), {}),
      'dmesg-implausible', /limit/);
    expectDumpError(() => extractDmesg(locklessModel({ countBits: 2, sizeBits: 31, head: 1n, tail: 0n, descs: Buffer.alloc(96), infos: Buffer.alloc(352) }), {}),
      'dmesg-implausible', /text ring of 2\^31/);
    expectDumpError(() => extractDmesg(locklessModel({ countBits: 2, sizeBits: 12, head: 1n, tail: 0n }), {}),
      'dmesg-read', /descriptors/);
    expectDumpError(() => extractDmesg(locklessModel({ countBits: 2, sizeBits: 12, head: 1n, tail: 0n }, LOCKLESS_KEYS.slice(1)), {}),
      'dmesg-no-layout', /SIZE\(printk_ringbuffer\)/);
    expectDumpError(() => extractDmesg(locklessModel({ countBits: 2, sizeBits: 12, head: 1n << 63n, tail: 0n, descs: Buffer.alloc(96), infos: Buffer.alloc(352), text: Buffer.alloc(4096) }), {}),
      'dmesg-corrupt', /head id/);
    expectDumpError(() => extractDmesg(fakeModel('OSRELEASE=4.0\n', [], 0x040000), {}), 'dmesg-no-symbol', /SYMBOL\(prb\)/);
    expectDumpError(() => extractDmesg(fakeModel('SYMBOL(log_buf)=100\nSYMBOL(log_buf_len)=200\nSYMBOL(log_first_idx)=300\nSYMBOL(log_next_idx)=400\n', [
      { va: 0x100n, bytes: u64(0x1000n) }, { va: 0x200n, bytes: u32(0x7fffffff) }, { va: 0x300n, bytes: u32(0) }, { va: 0x400n, bytes: u32(0) },
    ], 0x040000), {}), 'dmesg-implausible', /log_buf_len/);
    expect(Date.now() - t0).to.be.lessThan(2000);
  });

  it('a garbage descriptor ring with a 2^62-long id range is walked in O(ring size)', function () {
    const countBits = 16;
    const count = 2 ** countBits;
    const descs = Buffer.alloc(count * 24);
    const infos = Buffer.alloc(count * 88);
    const text = Buffer.alloc(4096, 0x61);
    // every slot finalized with an id of its residue, scattered over the id space
    for (let s = 0; s < count; s++) {
      const id = (BigInt(s) + BigInt(count) * BigInt((s * 7919) % 100003) * 1000003n) & ID_MASK;
      descs.writeBigUInt64LE((2n << 62n) | id, s * 24);
      descs.writeBigUInt64LE(BigInt(s % 4000), s * 24 + 8);
      descs.writeBigUInt64LE(BigInt((s % 4000) + 40), s * 24 + 16);
      infos.writeUInt16LE(20, s * 88 + 16);
    }
    const t0 = Date.now();
    const chunks: Buffer[] = [];
    writeDmesg(locklessModel({ countBits, sizeBits: 12, head: ID_MASK, tail: 0n, descs, infos, text }), {}, (c) => chunks.push(c));
    const out = Buffer.concat(chunks).toString('latin1');
    expect(out.split('\n').length - 1).to.equal(count);
    expect(Date.now() - t0).to.be.lessThan(5000);
  });
});

// --reassemble against makedumpfile 1.7.2 on real-1g: parts written by makedumpfile
// --split (2 and 3 parts, small split blocks so every part holds pages; the default 1 GiB
// block, which leaves later parts empty; a level without zero-page exclusion; eraseinfo
// blobs added to the parts) joined by reassemble() equal makedumpfile --reassemble of the
// same parts and the direct, non-split dump byte for byte. Mismatched, incomplete and broken
// sets of parts end in one-line errors that leave no output file.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { KdumpSubHeader } from '../../src/format/diskdump';
import { reassemble } from '../../src/format/reassemble';
import { DumpError } from '../../src/util/errors';
import { KdumpVmcore } from '../../src/vmcore/kdump-vmcore';
import { fixtureVmcore, scratchDir } from '../helpers/fixtures';
import { makedumpfile } from '../helpers/tools';

function sameFile(a: string, b: string): boolean {
  return fs.readFileSync(a).equals(fs.readFileSync(b));
}

function expectError(fn: () => unknown, code: string, re: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, `expected ${code}`).to.be.instanceOf(DumpError);
  expect((err as DumpError).code).to.equal(code);
  expect((err as Error).message).to.match(re);
  expect((err as Error).message).to.not.contain('\n');
}

describe('--reassemble against makedumpfile 1.7.2 on real-1g', function () {
  let dir: string;
  let vmcore: string;
  const direct: Record<string, string> = {};

  /** makedumpfile --split; returns the part paths */
  function split(tag: string, n: number, args: string[]): string[] {
    const parts = Array.from({ length: n }, (_, i) => path.join(dir, `${tag}.part${i + 1}`));
    const r = makedumpfile([...args, '--split', vmcore, ...parts]);
    expect(r.code, r.stderr).to.equal(0);
    return parts;
  }

  function theirs(parts: string[], out: string): { code: number; stderr: string } {
    const r = makedumpfile(['--reassemble', ...parts, out]);
    return { code: r.code, stderr: r.stderr + r.stdout };
  }

  function checkSet(tag: string, parts: string[], order: number[], level: string): void {
    const mine = path.join(dir, `${tag}.ours`);
    const ref = path.join(dir, `${tag}.theirs`);
    const res = reassemble(order.map((i) => parts[i]), mine, { force: false });
    const r = theirs(parts, ref);
    expect(r.code, r.stderr).to.equal(0);
    expect(sameFile(mine, ref), 'byte-identical to makedumpfile --reassemble').to.equal(true);
    expect(sameFile(mine, direct[level]), 'byte-identical to the non-split dump').to.equal(true);
    expect(res.bytes).to.equal(fs.statSync(mine).size);
    const k = KdumpVmcore.open(mine);
    try {
      expect(k.isSplit).to.equal(false);
      expect(k.sub.start_pfn_64).to.equal(0);
      expect(k.sub.end_pfn_64).to.equal(0);
      let n = 0;
      for (const b of k.bitmap2) for (let v = b; v; v &= v - 1) n++;
      expect(res.pages).to.equal(n);
    } finally {
      k.close();
    }
    fs.rmSync(mine);
    fs.rmSync(ref);
  }

  before(function () {
    dir = scratchDir('reassemble');
    vmcore = fixtureVmcore('real-1g');
    for (const level of ['31', '30']) {
      direct[level] = path.join(dir, `direct-d${level}.lzo`);
      const r = makedumpfile(['-l', '-d', level, vmcore, direct[level]]);
      expect(r.code, r.stderr).to.equal(0);
    }
  });
  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('-l -d 31, 16 MiB split blocks', function () {
    let two: string[];
    let three: string[];
    before(function () {
      two = split('two', 2, ['-l', '-d', '31', '--splitblock-size', '16384']);
      three = split('three', 3, ['-l', '-d', '31', '--splitblock-size', '16384']);
      for (const p of [...two, ...three]) {
        const k = KdumpVmcore.open(p);
        const { start, end } = k.splitRange;
        k.close();
        expect(end, `${p} holds pfns`).to.be.greaterThan(start);
      }
    });

    it('2 parts (given in reverse order): equal to makedumpfile --reassemble and to the direct dump', function () {
      checkSet('two', two, [1, 0], '31');
    });

    it('3 parts (given out of order): equal to makedumpfile --reassemble and to the direct dump', function () {
      checkSet('three', three, [2, 0, 1], '31');
    });

    it('eraseinfo blobs of the parts are concatenated after the data, as makedumpfile does', function () {
      const parts = two.map((p, i) => {
        const q = path.join(dir, `erase.part${i + 1}`);
        fs.copyFileSync(p, q);
        const blob = Buffer.from(`erase part${i + 1} kernel_symbol_${i} size ${100 + i}\n`, 'latin1');
        const size = fs.statSync(q).size;
        fs.appendFileSync(q, blob);
        const fd = fs.openSync(q, 'r+');
        const sub = Buffer.alloc(KdumpSubHeader.size);
        fs.readSync(fd, sub, 0, sub.length, 4096);
        KdumpSubHeader.encode({ offset_eraseinfo: size, size_eraseinfo: blob.length }, sub);
        fs.writeSync(fd, sub, 0, sub.length, 4096);
        fs.closeSync(fd);
        return q;
      });
      const mine = path.join(dir, 'erase.ours');
      const ref = path.join(dir, 'erase.theirs');
      reassemble(parts, mine, { force: false });
      const r = theirs(parts, ref);
      expect(r.code, r.stderr).to.equal(0);
      expect(sameFile(mine, ref), 'byte-identical to makedumpfile --reassemble').to.equal(true);
      const k = KdumpVmcore.open(mine);
      const text = fs.readFileSync(mine).subarray(k.sub.offset_eraseinfo, k.sub.offset_eraseinfo + k.sub.size_eraseinfo).toString('latin1');
      k.close();
      expect(text).to.equal('erase part1 kernel_symbol_0 size 100\nerase part2 kernel_symbol_1 size 101\n');
      expect(fs.statSync(mine).size).to.equal(fs.statSync(direct['31']).size + text.length);
    });

    it('mismatched parts: a different dump header, a different dump level', function () {
      const other = path.join(dir, 'other.part2');
      fs.copyFileSync(two[1], other);
      const fd = fs.openSync(other, 'r+');
      fs.writeSync(fd, Buffer.from([0x7f]), 0, 1, 408); // tv_sec
      fs.closeSync(fd);
      const out = path.join(dir, 'mismatch.out');
      expectError(() => reassemble([two[0], other], out, { force: false }), 'split-mismatch', /dump headers differ/);
      expect(fs.existsSync(out)).to.equal(false);
      const r = theirs([two[0], other], out);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.contain('Invalid dumpfile');
      fs.rmSync(out, { force: true });

      const lvl = split('lvl1', 2, ['-l', '-d', '1', '--splitblock-size', '16384']);
      expectError(() => reassemble([two[0], lvl[1]], out, { force: false }), 'split-mismatch', /sub-headers differ/);
      expect(fs.existsSync(out)).to.equal(false);
    });

    it('gaps: a missing first, middle or last part', function () {
      const out = path.join(dir, 'gap.out');
      expectError(() => reassemble([two[1]], out, { force: false }), 'split-gap', /no split dump file holds pfns 0x0-0x[0-9a-f]+$/);
      expectError(() => reassemble([two[0]], out, { force: false }), 'split-gap', /holds pfns 0x[0-9a-f]+-0x40000$/);
      expectError(() => reassemble([three[0], three[2]], out, { force: false }), 'split-gap', /holds pfns 0x[0-9a-f]+-0x[0-9a-f]+$/);
      expect(fs.existsSync(out)).to.equal(false);
      const r = theirs([three[0], three[2]], out);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.contain('There is not dumpfile corresponding to pfn');
      fs.rmSync(out, { force: true });
    });

    it('bad input: not a dump, a truncated part, the output exists or is an input', function () {
      const out = path.join(dir, 'bad.out');
      expectError(() => reassemble([two[0], vmcore], out, { force: false }), 'not-kdump', /not a kdump-compressed dump/);
      expectError(() => reassemble([two[0], path.join(dir, 'nonexistent')], out, { force: false }), 'open-failed', /can't open/);
      const cut = path.join(dir, 'cut.part2');
      fs.copyFileSync(two[1], cut);
      fs.truncateSync(cut, Math.floor(fs.statSync(cut).size / 2));
      expectError(() => reassemble([two[0], cut], out, { force: false }), 'truncated', /cut\.part2 is truncated/);
      expect(fs.existsSync(out), 'the partial output is removed').to.equal(false);
      fs.writeFileSync(out, 'precious');
      expectError(() => reassemble(two, out, { force: false }), 'output-exists', /file exists/);
      expect(fs.readFileSync(out, 'latin1')).to.equal('precious');
      expectError(() => reassemble(two, two[1], { force: true }), 'output-is-input', /is the input.*writing it would destroy what is read/);
      reassemble(two, out, { force: true });
      expect(sameFile(out, direct['31'])).to.equal(true);
    });
  });

  it('-l -d 31 with the default 1 GiB split block: later parts are empty', function () {
    const parts = split('dflt', 3, ['-l', '-d', '31']);
    const k = KdumpVmcore.open(parts[2]);
    expect(k.splitRange.start).to.equal(k.splitRange.end);
    k.close();
    checkSet('dflt', parts, [2, 1, 0], '31');
  });

  it('-l -d 30 (zero pages stored as pages): equal to makedumpfile --reassemble and the direct dump', function () {
    const parts = split('d30', 2, ['-l', '-d', '30', '--splitblock-size', '16384']);
    checkSet('d30', parts, [0, 1], '30');
  });
});

// Pass 2 without a codec leaves kept pages in the input and the file sink copies them
// (native/pagecopy.c): inside the kernel (copy_file_range) on one file system, with pwrite
// from a mapping where the kernel refuses (another file system: tmpfs to this disk). Both
// must write exactly the input's ranges, one after the other; a size limit (-L) stops the
// copy before it starts, as a write.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { Rng } from '../../perf/synth/prng';
import { nativePages } from '../../src/codec/native-pages';
import { FileSink } from '../../src/format/sink';
import { NoSpaceError } from '../../src/util/errors';
import { scratchDir } from '../helpers/fixtures';

/** [offset, length] pairs of page-aligned and odd ranges over a file of `size` bytes */
function someRuns(rng: Rng, size: number, n: number): Float64Array {
  const runs = new Float64Array(2 * n);
  for (let k = 0; k < n; k++) {
    const len = k % 3 === 0 ? 4096 * (1 + rng.below(8)) : 1 + rng.below(9000);
    runs[2 * k] = rng.below(size - len);
    runs[2 * k + 1] = len;
  }
  return runs;
}

describe('copyRuns: kept pages copied from the input file', function () {
  let dir: string;
  before(function () {
    if (process.env.CYCLODUMP_NO_NATIVE || !nativePages()?.copyRuns) this.skip();
    dir = scratchDir('copy-runs');
  });
  after(function () {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const places: [string, () => string][] = [
    ['the same file system (copy_file_range)', () => dir],
    ['another file system (pwrite from a mapping)', () => '/dev/shm'],
  ];
  for (const [where, inDir] of places) {
    it(`from ${where}: the ranges, in order, at the position given`, function () {
      if (!fs.existsSync(inDir())) this.skip();
      const rng = new Rng(11);
      const input = path.join(inDir(), `copy-runs-in-${process.pid}`);
      const data = Buffer.alloc(3 << 20);
      for (let i = 0; i < data.length; i += 4) data.writeUInt32LE(rng.below(0x7fffffff), i);
      fs.writeFileSync(input, data);
      const runs = someRuns(rng, data.length, 40);
      const sink = new FileSink(path.join(dir, 'out'), { force: true });
      const inFd = fs.openSync(input, 'r');
      try {
        const pos = 12345;
        sink.copyRuns!(inFd, runs, 40, pos);
        const expected = Buffer.concat(Array.from({ length: 40 }, (_, k) => data.subarray(runs[2 * k], runs[2 * k] + runs[2 * k + 1])));
        expect(sink.bytesWritten).to.equal(expected.length);
        sink.close();
        const out = fs.readFileSync(path.join(dir, 'out'));
        expect(out.length).to.equal(pos + expected.length);
        expect(out.subarray(pos).equals(expected)).to.equal(true);
      } finally {
        fs.closeSync(inFd);
        fs.rmSync(input, { force: true });
      }
    });
  }

  it('-L: a copy past the size limit fails as a full disk, before a byte is written', function () {
    const input = path.join(dir, 'small-in');
    fs.writeFileSync(input, Buffer.alloc(8192, 7));
    const sink = new FileSink(path.join(dir, 'limited'), { force: true, sizeLimit: 4096 });
    const inFd = fs.openSync(input, 'r');
    try {
      expect(() => sink.copyRuns!(inFd, Float64Array.of(0, 8192), 1, 0)).to.throw(NoSpaceError);
      expect(sink.bytesWritten).to.equal(0);
    } finally {
      fs.closeSync(inFd);
      sink.close();
    }
  });
});

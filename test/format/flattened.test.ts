// Flattened streams (-F / -R) against makedumpfile 1.7.2 on real-1g: makedumpfile's own
// stream rebuilt by us (from a file descriptor, a pipe stream and a child's stdin) equals
// its direct -l -d 31 output; a stream written by FlattenedSink (regions in shuffled order,
// some written twice, long writes split) is rebuilt by makedumpfile -R into the original
// file; broken streams end in one-line errors and leave no output file.
import { expect } from 'chai';
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { FLAT_HEADER_BLOCK } from '../../src/format/flattened';
import { FlatStreamParser, rebuildFlattened } from '../../src/format/flattened-rebuild';
import { FlattenedSink, encodeFlatDataHeader, encodeFlatEndMarker, encodeFlatHeader } from '../../src/format/flattened-sink';
import { DumpError } from '../../src/util/errors';
import { fixtureVmcore, scratchDir } from '../helpers/fixtures';
import { REPO } from '../helpers/paths';
import { makedumpfile } from '../helpers/tools';

function sameFile(a: string, b: string): boolean {
  const x = fs.readFileSync(a);
  const y = fs.readFileSync(b);
  return x.equals(y);
}

/** makedumpfile with its stdout going to a file (the flattened stream). */
function makedumpfileToFile(args: string[], out: string): { code: number; stderr: string } {
  const fd = fs.openSync(out, 'w');
  try {
    const r = spawnSync('makedumpfile', args, { stdio: ['ignore', fd, 'pipe'], encoding: 'latin1' });
    return { code: r.status ?? -1, stderr: r.stderr };
  } finally {
    fs.closeSync(fd);
  }
}

/** makedumpfile -R OUT < stream */
function makedumpfileRebuild(stream: string, out: string): { code: number; stderr: string } {
  const fd = fs.openSync(stream, 'r');
  try {
    const r = spawnSync('makedumpfile', ['-R', out], { stdio: [fd, 'pipe', 'pipe'], encoding: 'latin1', timeout: 60000 });
    return { code: r.status ?? -1, stderr: r.stderr + r.stdout };
  } finally {
    fs.closeSync(fd);
  }
}

async function rebuildFile(stream: string, out: string, force = false): Promise<{ bytes: number; records: number }> {
  const fd = fs.openSync(stream, 'r');
  try {
    return await rebuildFlattened(fd, out, { force });
  } finally {
    fs.closeSync(fd);
  }
}

async function expectRebuildError(stream: Buffer, dir: string, code: string, re: RegExp): Promise<void> {
  const inFile = path.join(dir, 'broken.flat');
  const out = path.join(dir, 'broken.out');
  fs.writeFileSync(inFile, stream);
  fs.rmSync(out, { force: true });
  let err: unknown;
  try {
    await rebuildFile(inFile, out);
  } catch (e) {
    err = e;
  }
  expect(err, `expected ${code}`).to.be.instanceOf(DumpError);
  expect((err as DumpError).code).to.equal(code);
  expect((err as Error).message).to.match(re);
  expect((err as Error).message).to.not.contain('\n');
  expect(fs.existsSync(out), 'no output file is left').to.equal(false);
}

/** A deterministic pseudo-random sequence (xorshift32). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 4294967296;
  };
}

describe('flattened format (-F / -R) against makedumpfile 1.7.2 on real-1g', function () {
  let dir: string;
  let vmcore: string;
  let direct: string;
  let stream: string;

  before(function () {
    dir = scratchDir('flattened');
    vmcore = fixtureVmcore('real-1g');
    direct = path.join(dir, 'direct.lzo');
    stream = path.join(dir, 'mdf.flat');
    const r1 = makedumpfile(['-l', '-d', '31', vmcore, direct]);
    expect(r1.code, r1.stderr).to.equal(0);
    const r2 = makedumpfileToFile(['-F', '-l', '-d', '31', vmcore], stream);
    expect(r2.code, r2.stderr).to.equal(0);
  });
  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("makedumpfile's -F stream, rebuilt from a file descriptor, equals its direct output", async function () {
    const out = path.join(dir, 'ours-fd.lzo');
    const res = await rebuildFile(stream, out);
    expect(sameFile(out, direct), 'byte-identical to makedumpfile -l -d 31').to.equal(true);
    expect(res.bytes).to.equal(fs.statSync(direct).size);
    expect(res.records).to.be.greaterThan(10);
    // and makedumpfile -R agrees
    const theirs = path.join(dir, 'theirs-R.lzo');
    const r = makedumpfileRebuild(stream, theirs);
    expect(r.code, r.stderr).to.equal(0);
    expect(sameFile(theirs, direct)).to.equal(true);
  });

  it('rebuilt from a pipe: makedumpfile -F piped straight into rebuildFlattened', async function () {
    const out = path.join(dir, 'ours-pipe.lzo');
    const child = spawn('makedumpfile', ['-F', '-l', '-d', '31', vmcore], { stdio: ['ignore', 'pipe', 'ignore'] });
    const exited = new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
    await rebuildFlattened(child.stdout, out, { force: false });
    expect(await exited).to.equal(0);
    expect(sameFile(out, direct)).to.equal(true);
  });

  it('rebuilt from standard input (fd 0, a pipe) in a separate process', function () {
    const out = path.join(dir, 'ours-stdin.lzo');
    const mod = path.join(REPO, 'dist', 'src', 'format', 'flattened-rebuild.js');
    const script = `require(${JSON.stringify(mod)}).rebuildFlattened(0, ${JSON.stringify(out)}, { force: false })`
      + '.then((r) => console.log(JSON.stringify(r)), (e) => { console.error(e.message); process.exit(1); });';
    const r = spawnSync(process.execPath, ['-e', script], { input: fs.readFileSync(stream), encoding: 'latin1' });
    expect(r.status, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout).bytes).to.equal(fs.statSync(direct).size);
    expect(sameFile(out, direct)).to.equal(true);
  });

  it('a stream written by FlattenedSink (shuffled, overlapping, split records) is rebuilt by makedumpfile -R', async function () {
    const original = fs.readFileSync(direct);
    const rand = rng(12345);
    // cut the file into regions of 1 byte .. 300 KiB, one of 3 MiB (split into records)
    const regions: { at: number; len: number }[] = [];
    for (let at = 0; at < original.length;) {
      const len = Math.min(original.length - at, regions.length === 7 ? 3 << 20 : 1 + Math.floor(rand() * 300 * 1024));
      regions.push({ at, len });
      at += len;
    }
    for (let i = regions.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [regions[i], regions[j]] = [regions[j], regions[i]];
    }
    const flat = path.join(dir, 'ours.flat');
    const fd = fs.openSync(flat, 'w');
    const sink = new FlattenedSink({ fd, name: flat, maxRecord: 256 << 10 });
    // garbage first over a few regions, the real bytes later: the later record wins
    for (const r of regions.slice(0, 5)) sink.write(Buffer.alloc(r.len, 0xa5), r.at);
    for (const r of regions) sink.write(original.subarray(r.at, r.at + r.len), r.at);
    sink.close();
    fs.closeSync(fd);
    expect(sink.seekable).to.equal(false);
    expect(sink.bytesWritten).to.equal(original.length + regions.slice(0, 5).reduce((s, r) => s + r.len, 0));
    expect(sink.records).to.be.greaterThan(regions.length + 5);

    const theirs = path.join(dir, 'sink-theirs.lzo');
    const r = makedumpfileRebuild(flat, theirs);
    expect(r.code, r.stderr).to.equal(0);
    expect(sameFile(theirs, direct), 'makedumpfile -R of our stream equals the original').to.equal(true);
    const ours = path.join(dir, 'sink-ours.lzo');
    await rebuildFile(flat, ours);
    expect(sameFile(ours, direct)).to.equal(true);

    // framing: header block, records with BE offset/size, the end marker last
    const s = fs.readFileSync(flat);
    expect(s.subarray(0, FLAT_HEADER_BLOCK).equals(encodeFlatHeader())).to.equal(true);
    expect(s.subarray(0, 16).toString('latin1')).to.equal('makedumpfile\0\0\0\0');
    expect(s.readBigInt64BE(16)).to.equal(1n);
    expect(s.readBigInt64BE(24)).to.equal(1n);
    expect(s.subarray(s.length - 16).equals(Buffer.alloc(16, 0xff))).to.equal(true);
    let maxRecord = 0;
    const parser = new FlatStreamParser(() => undefined);
    let pos = FLAT_HEADER_BLOCK;
    while (pos < s.length - 16) {
      const size = Number(s.readBigInt64BE(pos + 8));
      maxRecord = Math.max(maxRecord, size);
      pos += 16 + size;
    }
    expect(pos).to.equal(s.length - 16);
    expect(maxRecord).to.equal(256 << 10);
    expect(parser.push(s)).to.equal(true);
  });

  it('the signature is compared as a C string, the version is not checked (as makedumpfile)', async function () {
    const s = fs.readFileSync(stream);
    const variant = Buffer.from(s);
    variant.write('xyz', 13, 'latin1'); // after the NUL: ignored
    variant.writeBigInt64BE(7n, 24); // version: ignored
    const f = path.join(dir, 'variant.flat');
    fs.writeFileSync(f, variant);
    const ours = path.join(dir, 'variant-ours.lzo');
    await rebuildFile(f, ours);
    expect(sameFile(ours, direct)).to.equal(true);
    const theirs = path.join(dir, 'variant-theirs.lzo');
    const r = makedumpfileRebuild(f, theirs);
    expect(r.code, r.stderr).to.equal(0);
    expect(sameFile(theirs, direct)).to.equal(true);
    for (const f2 of [ours, theirs]) fs.rmSync(f2);
  });

  it('bad signature or type: rejected, as makedumpfile rejects them', async function () {
    const s = fs.readFileSync(stream);
    const noNul = Buffer.from(s);
    noNul[12] = 0x58; // "makedumpfileX"
    await expectRebuildError(noNul, dir, 'flat-signature', /not a flattened dump/);
    const theirs = path.join(dir, 'bad-theirs');
    fs.writeFileSync(path.join(dir, 'bad.flat'), noNul);
    let r = makedumpfileRebuild(path.join(dir, 'bad.flat'), theirs);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain("Can't get signature of flattened format");
    fs.rmSync(theirs, { force: true });

    const kdump = fs.readFileSync(direct).subarray(0, 1 << 20);
    await expectRebuildError(kdump, dir, 'flat-signature', /"makedumpfile" signature/);

    const badType = Buffer.from(s);
    badType.writeBigInt64BE(2n, 16);
    await expectRebuildError(badType, dir, 'flat-type', /type 2, expected 1/);
    fs.writeFileSync(path.join(dir, 'bad.flat'), badType);
    r = makedumpfileRebuild(path.join(dir, 'bad.flat'), theirs);
    expect(r.code).to.equal(1);
    expect(r.stderr).to.contain("Can't get type of flattened format");
    fs.rmSync(theirs, { force: true });
  });

  it('truncated streams and bad record headers: one-line errors, no output file', async function () {
    const s = fs.readFileSync(stream);
    await expectRebuildError(Buffer.alloc(0), dir, 'flat-empty', /empty/);
    await expectRebuildError(s.subarray(0, 100), dir, 'flat-truncated', /inside its 4096-byte header/);
    await expectRebuildError(s.subarray(0, s.length - 16), dir, 'flat-truncated', /without the end marker/);
    // cut in the middle of the first record's payload, and inside the second record's header
    const firstSize = Number(s.readBigInt64BE(FLAT_HEADER_BLOCK + 8));
    await expectRebuildError(s.subarray(0, FLAT_HEADER_BLOCK + 16 + Math.floor(firstSize / 2)), dir, 'flat-truncated',
      /record 1 \(\d+ bytes for dump offset \d+, at stream offset 4096\) ends after/);
    await expectRebuildError(s.subarray(0, FLAT_HEADER_BLOCK + 16 + firstSize + 5), dir, 'flat-truncated', /inside a record header/);
    // a record header that is neither a record nor the end marker
    const badRec = Buffer.concat([encodeFlatHeader(), encodeFlatDataHeader(0, 4), Buffer.alloc(4), encodeFlatDataHeader(-5, 4), Buffer.alloc(4), encodeFlatEndMarker()]);
    await expectRebuildError(badRec, dir, 'flat-bad-record', /offset -5, size 4/);
    const huge = Buffer.concat([encodeFlatHeader(), encodeFlatDataHeader(2 ** 53 - 2, 4), Buffer.alloc(4), encodeFlatEndMarker()]);
    await expectRebuildError(huge, dir, 'flat-bad-record', /beyond 2\^53/);
    await expectRebuildError(Buffer.concat([encodeFlatHeader(), encodeFlatEndMarker()]), dir, 'flat-no-records', /no data records/);
  });

  it('an existing output file is kept unless force; with force it is replaced', async function () {
    const out = path.join(dir, 'exists.lzo');
    fs.writeFileSync(out, 'precious');
    let err: unknown;
    try {
      await rebuildFile(stream, out);
    } catch (e) {
      err = e;
    }
    expect((err as DumpError).code).to.equal('output-exists');
    expect(fs.readFileSync(out, 'latin1')).to.equal('precious');
    await rebuildFile(stream, out, true);
    expect(sameFile(out, direct)).to.equal(true);
  });

  it('the parser gives the same result whatever the chunking (1 byte .. 1 MiB pieces)', function () {
    const s = fs.readFileSync(stream);
    const ref = fs.readFileSync(direct);
    for (const seed of [1, 2]) {
      const rand = rng(seed);
      const img = Buffer.alloc(ref.length);
      const parser = new FlatStreamParser((payload, offset) => payload.copy(img, offset));
      let at = 0;
      let done = false;
      while (at < s.length && !done) {
        const r = rand();
        const n = r < 0.3 ? 1 + Math.floor(rand() * 20) : Math.floor(rand() * (1 << 20)) + 1;
        done = parser.push(s.subarray(at, at + n));
        at += n;
      }
      parser.finish();
      expect(img.equals(ref)).to.equal(true);
    }
  });

  it('a tiny stream: holes read as zero, a later record wins, trailing bytes after the end marker are ignored', async function () {
    const f = path.join(dir, 'tiny.flat');
    const out = path.join(dir, 'tiny.out');
    const rec = (off: number, data: Buffer): Buffer => Buffer.concat([encodeFlatDataHeader(off, data.length), data]);
    fs.writeFileSync(f, Buffer.concat([
      encodeFlatHeader(), rec(10, Buffer.from('aaaa')), rec(0, Buffer.from('bb')), rec(11, Buffer.from('C')),
      encodeFlatEndMarker(), Buffer.from('trailing garbage'),
    ]));
    const res = await rebuildFile(f, out);
    expect(res).to.deep.equal({ bytes: 14, records: 3 });
    expect(fs.readFileSync(out).equals(Buffer.from('bb\0\0\0\0\0\0\0\0aCaa', 'latin1'))).to.equal(true);
    const theirs = path.join(dir, 'tiny.theirs');
    const r = makedumpfileRebuild(f, theirs);
    expect(r.code, r.stderr).to.equal(0);
    expect(sameFile(theirs, out)).to.equal(true);
  });
});

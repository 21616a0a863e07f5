// The file sink starts writeback every 4 MiB (sync_file_range). With more than one CPU the
// call runs on the addon's writeback thread (native/filelock.c), which must be done with a
// descriptor before the sink closes it, must take requests for many files at once (past
// its queue it makes the call on the caller's thread), and must never stop a write.
import { expect } from 'chai';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { nativePages } from '../../src/codec/native-pages';
import { FileSink } from '../../src/format/sink';
import { scratchDir } from '../helpers/fixtures';

/** 1 MiB of bytes that say which file and which MiB they are */
function block(file: number, mib: number): Uint8Array {
  const b = new Uint8Array(1 << 20);
  for (let i = 0; i < b.length; i += 4096) b.set([file & 0xff, file >> 8, mib, 0x5a], i);
  return b;
}

describe('writeback on the addon\'s thread', function () {
  let dir: string;
  before(function () {
    if (process.env.CYCLODUMP_NO_NATIVE || !nativePages()?.startWritebackAsync) this.skip();
    dir = scratchDir('writeback');
  });
  after(function () {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('70 files (more than the thread queues) written through sinks with writeback started there: every byte in place', async function () {
    this.timeout(60000);
    const files = 70;
    const mibs = 9;
    const sinks = Array.from({ length: files }, (_, f) => new FileSink(path.join(dir, `f${f}`), { force: true, syncWrites: false }));
    for (let m = 0; m < mibs; m++) {
      await Promise.all(sinks.map((s, f) => s.writeAsync(block(f, m), m << 20)));
    }
    for (const s of sinks) s.close();
    for (let f = 0; f < files; f++) {
      const got = fs.readFileSync(path.join(dir, `f${f}`));
      expect(got.length).to.equal(mibs << 20);
      for (let m = 0; m < mibs; m++) {
        expect(Buffer.compare(got.subarray(m << 20, (m + 1) << 20), Buffer.from(block(f, m))), `file ${f} MiB ${m}`).to.equal(0);
      }
    }
  });

  it('a descriptor it cannot act on (a pipe, a closed one) costs nothing and stops nothing', function () {
    const native = nativePages()!;
    const [r, w] = pipeFds();
    expect(native.startWritebackAsync!(w)).to.equal(0);
    native.waitWriteback!();
    fs.closeSync(r);
    fs.closeSync(w);
    expect(native.startWritebackAsync!(w)).to.equal(0);
    native.waitWriteback!();
    // the synchronous call reports what the kernel said
    expect(native.startWriteback!(w)).to.equal(9 /* EBADF */);
  });
});

/** A pipe's two descriptors, from the shell's /dev/fd (Node has no pipe(2) binding). */
function pipeFds(): [number, number] {
  const fifo = path.join(scratchDir('writeback-fifo'), 'p');
  execFileSync('mkfifo', [fifo]);
  const r = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const w = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  return [r, w];
}

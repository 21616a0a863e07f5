// The pieces that make an unfinished dump readable, one by one: clearing a descriptor a
// full disk cut in half, marking a file whose close() failed, ending a flattened stream
// without its end marker.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { PageDesc } from '../../src/format/diskdump';
import { FlattenedSink } from '../../src/format/flattened-sink';
import { kdumpGeometry } from '../../src/format/kdump-layout';
import { FileSink } from '../../src/format/sink';
import { repairShortWrites, runDump } from '../../src/pipeline/dump';
import { Messages } from '../../src/util/messages';
import { KdumpVmcore } from '../../src/vmcore/kdump-vmcore';
import { verifyPagesAgainstVmcore } from '../helpers/compare';
import { synthVmcore } from '../helpers/faults';
import { scratchDir } from '../helpers/fixtures';

describe('unfinished outputs, piece by piece', function () {
  let dir: string;

  before(function () {
    dir = scratchDir('sinks');
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a descriptor cut by a short write is cleared to "data lost"; whole ones stay', function () {
    const file = path.join(dir, 'short');
    const sink = new FileSink(file, { force: true });
    const g = kdumpGeometry(4096, 100, 1024);
    const desc = Buffer.alloc(3 * PageDesc.size);
    for (let i = 0; i < 3; i++) PageDesc.encode({ offset: 0x100000 + i * 4096, size: 4096, flags: 0, page_flags: 0n }, desc, i * PageDesc.size);
    // the disk took the first descriptor and the offset and size of the second
    fs.writeSync((sink as unknown as { fd: number }).fd, desc, 0, 40, g.offsetDesc);
    sink.shortWrites.push({ pos: g.offsetDesc, len: desc.length, done: 40 });
    expect(repairShortWrites(sink, g, 3)).to.equal(1);
    sink.close();
    const back = Buffer.alloc(desc.length);
    const fd = fs.openSync(file, 'r');
    fs.readSync(fd, back, 0, back.length, g.offsetDesc);
    fs.closeSync(fd);
    expect(back.subarray(0, 24).equals(desc.subarray(0, 24)), 'the whole descriptor stays').to.equal(true);
    expect(back.subarray(24).every((b) => b === 0), 'the cut one is cleared').to.equal(true);
  });

  it('ENOSPC at close(): the file is reopened and marked; every page in it is right', async function () {
    const input = await synthVmcore();
    const out = path.join(dir, 'close-fails.kdump');
    // the fs module itself (the `import * as` view of it has getters only)
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const fsModule = require('fs') as { closeSync: typeof fs.closeSync };
    const real = fsModule.closeSync;
    let failed = false;
    fsModule.closeSync = (fd: number): void => {
      let target = '';
      try { target = fs.readlinkSync(`/proc/self/fd/${fd}`); } catch { /* not a file */ }
      real(fd);
      if (!failed && target === out) {
        failed = true;
        throw Object.assign(new Error('ENOSPC: no space left on device, close'), { code: 'ENOSPC', syscall: 'close' });
      }
    };
    const quiet = { write: (): boolean => true };
    let r;
    try {
      r = await runDump({ input, output: out, dumpLevel: 31, codec: 'lzo', force: true, numThreads: 1, freeMemory: 1 << 30 }, new Messages(0, quiet, quiet));
    } finally {
      fsModule.closeSync = real;
    }
    expect(failed).to.equal(true);
    expect(r.error?.code).to.equal('no-space');
    const d = KdumpVmcore.open(out);
    expect(d.incomplete).to.equal(true);
    d.close();
    const c = verifyPagesAgainstVmcore(out, input);
    expect(c.lost).to.equal(0);
    expect(c.pages).to.be.greaterThan(1000);
  });

  it('a flattened stream that is cut: whole records go out, no end marker; after a failed write nothing more', function () {
    const file = path.join(dir, 'stream');
    const fd = fs.openSync(file, 'w');
    const s = new FlattenedSink({ fd, closeFd: true });
    s.write(Buffer.alloc(100, 1), 0);
    s.write(Buffer.alloc(200, 2), 4096);
    s.cut();
    const b = fs.readFileSync(file);
    expect(b.length).to.equal(4096 + 16 + 100 + 16 + 200);
    expect(b.subarray(b.length - 16).equals(Buffer.alloc(16, 0xff))).to.equal(false);

    // a stream whose writes fail (a closed descriptor): cut() writes nothing more
    const fd2 = fs.openSync(path.join(dir, 'stream2'), 'w');
    const t = new FlattenedSink({ fd: fd2 });
    fs.closeSync(fd2);
    expect(() => t.write(Buffer.alloc(2 << 20), 0)).to.throw(/can't write the flattened dump/);
    expect(() => t.cut()).to.not.throw();
  });
});

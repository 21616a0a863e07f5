// Issue 4: the output does not depend on tuning. Any --num-threads and --cyclic-buffer
// (and a bitmap cache too small to hold anything, which forces the second mem_map scan,
// and --non-mmap, which reads pages instead of mapping them) give the same bytes; mem_map is read once unless the cache overflows.
import { expect } from 'chai';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { fixtureVmcore, scratchDir } from '../helpers/fixtures';
import { cyclodump, makedumpfile } from '../helpers/tools';
import { expectSameBitmaps, verifyPagesAgainstVmcore } from '../helpers/compare';

function sha(p: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex');
}

// real-1g: 1 GiB of RAM in 8 memory sections (SECTION_SIZE_BITS=27) of 32768 struct
// pages of SIZE(page)=64 bytes (fixture README / VMCOREINFO): one pass reads 16 MiB.
const ONE_PASS = 8 * 32768 * 64;

describe('real-1g: same output for every --num-threads and --cyclic-buffer', function () {
  let vmcore: string;
  let dir: string;
  const digests = new Map<string, string>();

  before(function () {
    vmcore = fixtureVmcore('real-1g');
    dir = scratchDir('tuning');
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  // -l at both levels; without a codec (a regular file's kept pages read with pread straight
  // into the batch) at -d 31, with the tunings that change how pages are read and written
  const modes: { codec: string[]; level: string; only?: RegExp }[] = [
    { codec: ['-l'], level: '31' }, { codec: ['-l'], level: '1' },
    { codec: [], level: '31', only: /^(1 thread|2 threads|default threads|--non-mmap|one CPU|JavaScript)/ },
  ];
  for (const { codec, level, only } of modes) {
    const what = `${codec.length ? `${codec.join(' ')} ` : ''}-d ${level}`;
    describe(what, function () {
      let reference: string;

      before(function () {
        // makedumpfile in cyclic-buffer mode with the smallest buffer: many cycles
        const ref = path.join(dir, `mdf-${level}`);
        const r = makedumpfile([...codec, '-d', level, '--cyclic-buffer', '1', vmcore, ref]);
        expect(r.code, r.stderr).to.equal(0);
        reference = sha(ref);
        fs.rmSync(ref);
      });

      const tunings: [string, string[], number][] = [
        ['1 thread', ['--num-threads', '1'], ONE_PASS],
        ['default threads (from the measured work)', [], ONE_PASS],
        ['2 threads', ['--num-threads', '2'], ONE_PASS],
        ['3 threads', ['--num-threads', '3'], ONE_PASS],
        ['1 KiB cyclic buffer (one section per cycle), 2 threads', ['--cyclic-buffer', '1', '--num-threads', '2'], ONE_PASS],
        ['16 KiB cyclic buffer, 3 threads', ['--cyclic-buffer', '16', '--num-threads', '3'], ONE_PASS],
        ['no bitmap cache: every cycle scanned twice', ['--cyclic-buffer', '4', '--bitmap-cache', '0', '--num-threads', '2'], 2 * ONE_PASS],
        // 8 cycles of 4 KiB of bitmap each would overflow a 1 KiB memory cache; the dump
        // file holds them instead, so nothing is scanned twice
        ['1 KiB bitmap cache: the dump file holds the 2nd bitmap between the passes', ['--cyclic-buffer', '4', '--bitmap-cache', '1', '--num-threads', '2'], ONE_PASS],
        ['JavaScript page loop instead of the native one (CYCLODUMP_NO_NATIVE=1)', ['--num-threads', '2'], ONE_PASS],
        ['--non-mmap: pages read with pread, not taken from a mapping', ['--non-mmap', '--num-threads', '2'], ONE_PASS],
        // one usable CPU: one thread, and the output written on the main thread
        ['one CPU (taskset): writes on the main thread', [], ONE_PASS],
      ];
      for (const [name, args, memMapBytes] of tunings.filter(([n]) => !only || only.test(n))) {
        it(`${name}: byte-identical to makedumpfile ${what}, mem_map read ${memMapBytes / ONE_PASS}x`, function () {
          const out = path.join(dir, `cd-${level}`);
          const env = name.includes('NO_NATIVE') ? { CYCLODUMP_NO_NATIVE: '1' } : undefined;
          // --pfn-order: makedumpfile's page order, for the byte-for-byte comparison
          const r = cyclodump([...codec, '-d', level, '--pfn-order', '--message-level', '31', ...args, vmcore, out], { env, oneCpu: name.includes('taskset') });
          expect(r.code, r.stderr).to.equal(0);
          const m = /mem_map bytes read: (\d+) \(cycles rescanned: (\d+)\)/.exec(r.stdout);
          expect(m, r.stdout).to.not.equal(null);
          expect(Number(m![1])).to.equal(memMapBytes);
          if (memMapBytes > ONE_PASS) expect(Number(m![2])).to.be.greaterThan(0);
          const d = sha(out);
          expect(d).to.equal(reference);
          digests.set(`${what} ${name}`, d);
          fs.rmSync(out);
        });
      }
    });
  }
});

// snappy and zstd: in the native page loop where the addon was built with libsnappy and
// libzstd (native/detect-libs.js), shared between its threads; through the npm bindings
// otherwise. The native bytes do not depend on the thread count; every way gives
// makedumpfile's bitmaps (Debian's 1.7.2 writes -p/-z pages raw, so only its bitmaps are
// compared) and pages that read back as the vmcore's, compressed with the codec's flag.
describe('real-1g: -p and -z, native loop and npm bindings, any thread count', function () {
  let vmcore: string;
  let dir: string;

  before(function () {
    vmcore = fixtureVmcore('real-1g');
    dir = scratchDir('tuning-pz');
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const codec of ['-p', '-z']) {
    describe(`${codec} -d 31`, function () {
      let reference: string;
      const digests = new Map<string, string>();

      before(function () {
        reference = path.join(dir, `mdf${codec}`);
        const r = makedumpfile([codec, '-d', '31', vmcore, reference]);
        expect(r.code, r.stderr).to.equal(0);
      });

      const ways: [string, string[], Record<string, string> | undefined][] = [
        ['1 thread', ['--num-threads', '1'], undefined],
        ['2 threads', ['--num-threads', '2'], undefined],
        ['3 threads', ['--num-threads', '3'], undefined],
        ['npm binding (CYCLODUMP_NO_NATIVE=1), 2 threads', ['--num-threads', '2'], { CYCLODUMP_NO_NATIVE: '1' }],
      ];
      for (const [name, args, env] of ways) {
        it(`${name}: makedumpfile's bitmaps, every page the vmcore's, compressed`, function () {
          const out = path.join(dir, `cd${codec}-${name.replace(/\W+/g, '-')}`);
          const r = cyclodump([codec, '-d', '31', '--pfn-order', ...args, vmcore, out], { env });
          expect(r.code, r.stderr).to.equal(0);
          expectSameBitmaps(out, reference);
          const pages = verifyPagesAgainstVmcore(out, vmcore);
          expect(pages.lost).to.equal(0);
          // most kept pages of a kernel compress; a codec that stored them raw would not show
          expect(pages.compressed).to.be.greaterThan(pages.pages / 2);
          if (!env) digests.set(name, sha(out));
          fs.rmSync(out);
        });
      }

      it('the native loop writes the same bytes with 1, 2 and 3 threads', function () {
        expect(new Set(digests.values()).size, [...digests.keys()].join(', ')).to.equal(1);
        expect(digests.size).to.equal(3);
      });
    });
  }
});

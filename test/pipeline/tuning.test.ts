// Issue 4: the output does not depend on tuning. Any --num-threads and --cyclic-buffer
// (and a bitmap cache too small to hold anything, which forces the second mem_map scan,
// and --non-mmap, which reads pages instead of mapping them) give the same bytes; mem_map is read once unless the cache overflows.
import { expect } from 'chai';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { fixtureVmcore, scratchDir } from '../helpers/fixtures';
import { cyclodump, makedumpfile } from '../helpers/tools';

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

  for (const level of ['31', '1']) {
    describe(`-l -d ${level}`, function () {
      let reference: string;

      before(function () {
        // makedumpfile in cyclic-buffer mode with the smallest buffer: many cycles
        const ref = path.join(dir, `mdf-${level}`);
        const r = makedumpfile(['-l', '-d', level, '--cyclic-buffer', '1', vmcore, ref]);
        expect(r.code, r.stderr).to.equal(0);
        reference = sha(ref);
        fs.rmSync(ref);
      });

      const tunings: [string, string[], number][] = [
        ['1 thread', ['--num-threads', '1'], ONE_PASS],
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
      for (const [name, args, memMapBytes] of tunings) {
        it(`${name}: byte-identical to makedumpfile -l, mem_map read ${memMapBytes / ONE_PASS}x`, function () {
          const out = path.join(dir, `cd-${level}`);
          const env = name.includes('NO_NATIVE') ? { CYCLODUMP_NO_NATIVE: '1' } : undefined;
          const r = cyclodump(['-l', '-d', level, '--message-level', '31', ...args, vmcore, out], { env, oneCpu: name.includes('taskset') });
          expect(r.code, r.stderr).to.equal(0);
          const m = /mem_map bytes read: (\d+) \(cycles rescanned: (\d+)\)/.exec(r.stdout);
          expect(m, r.stdout).to.not.equal(null);
          expect(Number(m![1])).to.equal(memMapBytes);
          if (memMapBytes > ONE_PASS) expect(Number(m![2])).to.be.greaterThan(0);
          const d = sha(out);
          expect(d).to.equal(reference);
          digests.set(`${level} ${name}`, d);
          fs.rmSync(out);
        });
      }
    });
  }
});

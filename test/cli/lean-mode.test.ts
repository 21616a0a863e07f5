// Lean mode: below 128 MiB of MemAvailable (a kdump capture kernel), or with
// CYCLODUMP_LEAN=1, both launchers (bin/cyclodump's sh part and native/launcher.c) start
// node without a JIT, without V8's helper threads and with a 1 MiB young generation, and
// the run keeps fewer, smaller page batches and one thread unless --num-threads says
// otherwise (perf/RESULTS.md, issue 15). The two launchers
// must give node the same flags, and the dump must stay makedumpfile's.
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { fixtureVmcore, scratchDir } from '../helpers/fixtures';
import { BIN, REPO } from '../helpers/paths';
import { makedumpfile } from '../helpers/tools';
import { chooseThreads } from '../../src/pipeline/prepare';

const LEAN_FLAGS = ['--jitless', '--no-expose-wasm', '--single-threaded', '--max-semi-space-size=1'];
const LAUNCHER = process.env.CYCLODUMP_LAUNCHER ?? path.join(REPO, 'build', 'cyclodump');

describe('lean mode (issue 15): the launchers\' node flags', function () {
  let dir: string;
  before(function () {
    dir = scratchDir('lean-mode');
    // a `node` that prints what it was started with
    fs.mkdirSync(path.join(dir, 'fake'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'fake', 'node'), '#!/bin/sh\necho "$@"\n', { mode: 0o755 });
    if (!process.env.CYCLODUMP_LAUNCHER && !fs.existsSync(LAUNCHER)) {
      const r = spawnSync(process.execPath, [path.join(REPO, 'native', 'build-launcher.js')], { encoding: 'utf8' });
      expect(r.status, r.stderr).to.equal(0);
    }
  });
  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** the flags a launcher gives node before the script, under `env` and an optional ulimit -v */
  function flagsOf(program: string, env: Record<string, string>, ulimitV?: number): string[] {
    const script = `${ulimitV ? `ulimit -v ${ulimitV}; ` : ''}exec "$0" -v`;
    const r = spawnSync('sh', ['-c', script, program], {
      encoding: 'utf8', env: { ...process.env, ...env, PATH: `${path.join(dir, 'fake')}:${process.env.PATH}` },
    });
    expect(r.status, r.stderr).to.equal(0);
    const args = r.stdout.trim().split(' ');
    return args.slice(0, args.findIndex((a) => /cyclodump(\.js)?$/.test(a)));
  }

  for (const [kind, program] of [['polyglot', BIN], ['compiled launcher', LAUNCHER]] as const) {
    it(`${kind}: CYCLODUMP_LEAN=1 adds the lean flags, =0 none, and under ulimit -v 512 MiB only --jitless`, function () {
      expect(flagsOf(program, { CYCLODUMP_LEAN: '1' })).to.deep.equal(LEAN_FLAGS);
      expect(flagsOf(program, { CYCLODUMP_LEAN: '0' })).to.deep.equal([]);
      expect(flagsOf(program, { CYCLODUMP_LEAN: '0' }, 512 * 1024)).to.deep.equal(['--jitless', '--no-expose-wasm']);
      expect(flagsOf(program, { CYCLODUMP_LEAN: '1' }, 512 * 1024)).to.deep.equal(LEAN_FLAGS);
    });
  }

  it('by itself only below 128 MiB of MemAvailable: here, with more, no flags', function () {
    const kib = Number(/^MemAvailable:\s+(\d+)/m.exec(fs.readFileSync('/proc/meminfo', 'latin1'))?.[1]);
    if (!(kib >= 256 * 1024)) this.skip();
    expect(flagsOf(BIN, { CYCLODUMP_LEAN: '' })).to.deep.equal([]);
    expect(flagsOf(LAUNCHER, { CYCLODUMP_LEAN: '' })).to.deep.equal([]);
  });

  it('a lean dump of real-1g (-l -d 31, makedumpfile\'s page order) is makedumpfile\'s, byte for byte', function () {
    this.timeout(300000);
    const vmcore = fixtureVmcore('real-1g');
    const ours = path.join(dir, 'lean.l');
    const theirs = path.join(dir, 'mdf.l');
    const r = spawnSync(BIN, ['-l', '-d', '31', '--pfn-order', vmcore, ours], { encoding: 'utf8', env: { ...process.env, CYCLODUMP_LEAN: '1' } });
    expect(r.status, r.stderr).to.equal(0);
    expect(makedumpfile(['-l', '-d', '31', vmcore, theirs]).code).to.equal(0);
    expect(fs.readFileSync(ours).equals(fs.readFileSync(theirs))).to.equal(true);
  });

  it('lean mode\'s smaller batches leave the default order\'s file as it was (-c -d 31)', function () {
    this.timeout(300000);
    const vmcore = fixtureVmcore('real-1g');
    const files = ['1', '0'].map((lean) => {
      const out = path.join(dir, `order-${lean}.c`);
      const r = spawnSync(BIN, ['-c', '-d', '31', vmcore, out], { encoding: 'utf8', env: { ...process.env, CYCLODUMP_LEAN: lean } });
      expect(r.status, r.stderr).to.equal(0);
      return fs.readFileSync(out);
    });
    expect(files[0].equals(files[1])).to.equal(true);
  });

  it('one thread by default in lean mode; --num-threads still rules', function () {
    const work = { inputBytes: 64 * 2 ** 30, pages: 16 << 20, keptShare: 0.3, codec: 'zlib' as const, memMapBytes: 1 << 30 };
    const saved = process.env.CYCLODUMP_LEAN;
    try {
      process.env.CYCLODUMP_LEAN = '0';
      const cpus = chooseThreads(undefined, work);
      process.env.CYCLODUMP_LEAN = '1';
      expect(chooseThreads(undefined, work)).to.equal(1);
      expect(chooseThreads(2, work)).to.equal(2);
      if (cpus === 1) this.skip();
    } finally {
      if (saved === undefined) delete process.env.CYCLODUMP_LEAN;
      else process.env.CYCLODUMP_LEAN = saved;
    }
  });
});

// The real CLI under `ulimit -n` and `ulimit -v` (issue 18, issue 20 row 4): every run ends
// with one line on stderr and exit 1, or exits 0 with a dump whose bitmaps are makedumpfile's
// and whose every page is the vmcore's; never a V8 or libuv abort, a stack trace, an
// unhandled 'error' event, or a file that says complete with pages lost.
// By default a sample of the limits (the edges measured in perf/RESULTS.md, "Resource
// limits"); CYCLODUMP_LIMITS_ALL=1 runs every `ulimit -n` from 8 to 32 and every
// address-space limit with every mode on both inputs.
// The launchers, always: the compiled one (native/launcher.c, which an install builds)
// under every `ulimit -n` from 6 to 32 and every address-space limit from 256 MiB to 4 GiB,
// started from dash and from busybox sh, on real-1g; the sh/JavaScript polyglot
// (bin/cyclodump, what an install without a compiler keeps) under the same `ulimit -n`.
// CYCLODUMP_LAUNCHER runs them against another launcher (an older bin/cyclodump, to see
// them fail).
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { DUMP_DH_COMPRESSED_INCOMPLETE } from '../../src/format/diskdump';
import { expectSameBitmaps, shapeOf, verifyPagesAgainstVmcore } from '../helpers/compare';
import { builtinVmcore, fixtureVmcore, scratchDir } from '../helpers/fixtures';
import { BIN, REPO } from '../helpers/paths';
import { makedumpfile } from '../helpers/tools';

const ALL = process.env.CYCLODUMP_LIMITS_ALL === '1';

const MODES: Record<string, string[]> = {
  'l31': ['-l', '-d', '31'],
  'c31': ['-c', '-d', '31'],
  'l31-t2': ['-l', '-d', '31', '--num-threads', '2'],
  // without a codec the pages go to a pool of Node workers (a codec's, to the native loop's threads)
  'd31-t2': ['-d', '31', '--num-threads', '2'],
};

const MIB = 1024;
const ADDRESS_KIB = [256 * MIB, 512 * MIB, 1024 * MIB, 2048 * MIB, 3072 * MIB, 4096 * MIB];

interface Case {
  input: 'small' | 'real-1g';
  mode: keyof typeof MODES;
  /** the shell's limit setting, e.g. `ulimit -n 28` */
  limit: string;
}

function cases(): Case[] {
  const out: Case[] = [];
  const fdsAll = Array.from({ length: 25 }, (_, i) => 8 + i);
  if (ALL) {
    for (const input of ['small', 'real-1g'] as const) {
      for (const mode of Object.keys(MODES)) {
        for (const n of fdsAll) out.push({ input, mode, limit: `ulimit -n ${n}` });
        for (const v of ADDRESS_KIB) out.push({ input, mode, limit: `ulimit -v ${v}` });
      }
    }
    return out;
  }
  // below 21 every run is refused; from 21 to 30 the threads are cut to what the descriptors allow
  for (const n of [8, 12, 16, 20, 21]) {
    for (const mode of Object.keys(MODES)) out.push({ input: 'small', mode, limit: `ulimit -n ${n}` });
  }
  for (const n of [26, 32]) out.push({ input: 'small', mode: 'd31-t2', limit: `ulimit -n ${n}` });
  for (const v of [256, 1024, 2048, 4096]) out.push({ input: 'small', mode: 'd31-t2', limit: `ulimit -v ${v * MIB}` });
  out.push({ input: 'small', mode: 'c31', limit: `ulimit -v ${256 * MIB}` });
  // issue 20 row 4, and a worker pool that has to fit under the address-space limit
  out.push({ input: 'real-1g', mode: 'd31-t2', limit: 'ulimit -n 28' });
  out.push({ input: 'real-1g', mode: 'd31-t2', limit: `ulimit -v ${2048 * MIB}` });
  out.push({ input: 'real-1g', mode: 'd31-t2', limit: `ulimit -v ${256 * MIB}` });
  out.push({ input: 'real-1g', mode: 'l31-t2', limit: `ulimit -v ${256 * MIB}` });
  return out;
}

/** the compiled launcher as a clone's install builds it (native/build-launcher.js) */
const LAUNCHER = process.env.CYCLODUMP_LAUNCHER ?? path.join(REPO, 'build', 'cyclodump');

/** What /bin/sh is: dash and busybox cannot read a script with 10 or fewer descriptors. */
const SH_IS_BASH = /bash/.test(fs.realpathSync('/bin/sh'));

/**
 * A shell's own refusal to read the polyglot at all, below the descriptors it needs for
 * itself (dash: "/bin/sh: 0: 3: Invalid argument", exit 2): one line, nothing written.
 * Only the polyglot, and only there: the compiled launcher needs no shell.
 */
function shellRefusal(limit: string, status: number | null, lines: string[]): boolean {
  const n = /^ulimit -n (\d+)$/.exec(limit);
  return !SH_IS_BASH && !!n && Number(n[1]) <= 10 && status === 2 && lines.length === 1
    && /^(\/bin\/)?sh: (\d+: )?\d+: (Invalid argument|Too many open files)$/.test(lines[0]);
}

/** the shells a launcher is started from: `SHELL... 'ulimit ...; exec "$0" "$@"' PROGRAM ARGS...` */
const SHELLS: Record<string, string[]> = { dash: ['dash', '-c'], 'busybox sh': ['busybox', 'sh', '-c'] };
function haveShell(argv: string[]): boolean {
  return spawnSync(argv[0], [...argv.slice(1), 'exit 0']).status === 0;
}

describe('resource limits: one line and exit 1, or a complete dump', function () {
  let dir: string;
  const inputs: Record<string, string> = {};
  const references = new Map<string, string>();

  before(function () {
    dir = scratchDir('resource-limits');
    inputs.small = builtinVmcore();
    inputs['real-1g'] = fixtureVmcore('real-1g');
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** makedumpfile's dump of the same input and mode, made once */
  function reference(c: Case): string {
    const key = `${c.input}-${c.mode}`;
    let out = references.get(key);
    if (out) return out;
    out = path.join(dir, `makedumpfile-${key}`);
    const args = MODES[c.mode].filter((a, i, all) => a !== '--num-threads' && all[i - 1] !== '--num-threads');
    const r = makedumpfile([...args, inputs[c.input], out]);
    expect(r.code, r.stderr).to.equal(0);
    references.set(key, out);
    return out;
  }

  /**
   * PROGRAM under LIMIT from SHELL: one line on stderr and exit 1 (or, for the polyglot, the
   * shell's own line below the descriptors it needs), or a complete dump that is
   * makedumpfile's and the vmcore's.
   */
  function expectLineOrDump(shell: string[], program: string, c: Case, polyglot: boolean): 'refused' | 'shell' | 'dumped' {
    const out = path.join(dir, `${c.input}-${c.mode}-${c.limit.replace(/\W+/g, '')}`);
    const r = spawnSync(shell[0], [...shell.slice(1), `${c.limit}; exec "$0" "$@"`, program, '--message-level', '4', ...MODES[c.mode], inputs[c.input], out], {
      encoding: 'latin1', timeout: 120_000,
    });
    expect(r.error).to.equal(undefined);
    expect(r.signal, `killed: ${r.stderr}`).to.equal(null);
    expect(r.stderr, 'no trace, no abort').to.not.match(/\n\s+at |Fatal process|Assertion failed|Unhandled 'error'|node:internal|Native stack/);
    const lines = r.stderr.split('\n').filter((l) => l.trim());
    if (r.status !== 0) {
      if (polyglot && shellRefusal(c.limit, r.status, lines)) return 'shell';
      expect(r.status, r.stderr).to.equal(1);
      expect(lines, 'one line').to.have.length(1);
      expect(lines[0]).to.match(/^cyclodump: /);
      expect(r.stderr, 'one whole line').to.equal(`${lines[0]}\n`);
      expect(fs.existsSync(out), 'no file left').to.equal(false);
      return 'refused';
    }
    // a warning may say the threads were cut; nothing else
    for (const l of lines) expect(l).to.match(/^warning: \d+ threads? instead of \d+: the (open-file|address-space) limit/);
    const shape = shapeOf(out);
    expect(shape.status & DUMP_DH_COMPRESSED_INCOMPLETE, 'complete').to.equal(0);
    expectSameBitmaps(out, reference(c));
    const pages = verifyPagesAgainstVmcore(out, inputs[c.input]);
    expect(pages.lost, 'pages lost').to.equal(0);
    expect(pages.pages).to.equal(shape.dumpable);
    fs.rmSync(out);
    return 'dumped';
  }

  for (const c of cases()) {
    it(`${c.input} ${MODES[c.mode].join(' ')} under ${c.limit}`, function () {
      expectLineOrDump(['sh', '-c'], BIN, c, true);
    });
  }

  describe('the launchers, started from each shell', function () {
    before(function () {
      // a clone's `npm ci` builds it; a later `node-gyp rebuild` empties build/
      if (!process.env.CYCLODUMP_LAUNCHER && !fs.existsSync(LAUNCHER)) {
        const r = spawnSync(process.execPath, [path.join(REPO, 'native', 'build-launcher.js')], { encoding: 'utf8' });
        expect(r.status, r.stderr).to.equal(0);
      }
      expect(fs.existsSync(LAUNCHER), `${LAUNCHER}: no C compiler at install?`).to.equal(true);
    });

    const fds = Array.from({ length: 27 }, (_, i) => 6 + i);
    for (const [name, shell] of Object.entries(SHELLS)) {
      for (const [kind, program, polyglot] of [['compiled launcher', LAUNCHER, false], ['polyglot', BIN, true]] as const) {
        it(`${kind} from ${name}: every ulimit -n from 6 to 32 on real-1g`, function () {
          if (!haveShell(shell)) this.skip();
          for (const n of fds) {
            const c: Case = { input: 'real-1g', mode: 'l31', limit: `ulimit -n ${n}` };
            let got: string;
            try {
              got = expectLineOrDump(shell, program, c, polyglot);
            } catch (e) {
              (e as Error).message = `ulimit -n ${n}: ${(e as Error).message}`;
              throw e;
            }
            // below 21 nothing can run, from 21 a dump fits (perf/RESULTS.md, "Resource limits")
            if (n < 21) expect(got, `ulimit -n ${n}`).to.not.equal('dumped');
            else expect(got, `ulimit -n ${n}`).to.equal('dumped');
            // the shell's own line only where it cannot read a script at all
            if (!polyglot || n >= 11) expect(got, `ulimit -n ${n}`).to.not.equal('shell');
          }
        });
      }
      it(`compiled launcher from ${name}: every address-space limit from 256 MiB to 4 GiB on real-1g, and a refusal below`, function () {
        if (!haveShell(shell)) this.skip();
        for (const v of [200 * MIB, ...ADDRESS_KIB]) {
          const c: Case = { input: 'real-1g', mode: 'l31-t2', limit: `ulimit -v ${v}` };
          const got = expectLineOrDump(shell, LAUNCHER, c, false);
          if (v < 224 * MIB) expect(got, c.limit).to.equal('refused');
        }
      });
    }
  });
});

// What the output side says when it cannot do its work (issue 20 rows 5 and 14): -F with
// standard output closed fails (makedumpfile exits 1 too); a reader that went away, a file
// too large for its limit, a work directory that does not exist, and a dump level that did
// not fit each get one line that says what happened. Each test fails on a build from
// before (CYCLODUMP_BIN=/path/to/old/bin/cyclodump).
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { KdumpVmcore } from '../../src/vmcore/kdump-vmcore';
import { errorLines, synthVmcore } from '../helpers/faults';
import { scratchDir } from '../helpers/fixtures';
import { BIN } from '../helpers/paths';
import { RunResult, cyclodump } from '../helpers/tools';

/** A shell line with "$0" "$1" standing for node and cyclodump (redirections, pipes, ulimit). */
function viaBash(script: string, cwd: string): RunResult {
  const t0 = Date.now();
  const r = spawnSync('bash', ['-c', script, process.execPath, BIN], { cwd, encoding: 'latin1', maxBuffer: 64 << 20 });
  return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr, wallMs: Date.now() - t0 };
}

function noTrace(r: RunResult): void {
  expect(r.stderr, 'no stack trace').to.not.match(/\n\s+at |internal error/);
}

describe('output messages (issue 20 rows 5 and 14)', function () {
  this.timeout(120_000);
  let dir: string;
  let vmcore: string;

  before(async function () {
    dir = scratchDir('output-messages');
    vmcore = await synthVmcore();
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('row 5: -F with standard output closed: exit 1, one line (makedumpfile: exit 1)', function () {
    const r = viaBash(`"$0" "$1" -F -l -d 31 ${vmcore} >&-`, dir);
    expect(r.code, r.stderr).to.equal(1);
    noTrace(r);
    expect(errorLines(r.stderr)).to.deep.equal(['cyclodump: standard output is closed: -F writes the dump there (give it a file or a pipe)']);
  });

  it('row 5: -F to /dev/null opened by the shell is still fine (exit 0)', function () {
    const r = viaBash(`"$0" "$1" -F -l -d 31 ${vmcore} > /dev/null`, dir);
    expect(r.code, r.stderr).to.equal(0);
  });

  it('row 14: a -F reader that goes away: exit 1, "the reader went away (broken pipe)"', function () {
    const r = viaBash(`"$0" "$1" -F -l -d 31 ${vmcore} | head -c 100 > /dev/null; exit \${PIPESTATUS[0]}`, dir);
    expect(r.code, r.stderr).to.equal(1);
    noTrace(r);
    expect(r.stderr).to.contain("cyclodump: can't write the flattened dump to stdout: the reader went away (broken pipe)");
  });

  it('row 14: the reader of the messages goes away: one line, and the dump is still made (exit 0)', function () {
    const out = path.join(dir, 'msgs.cd');
    fs.rmSync(out, { force: true });
    const r = viaBash(`"$0" "$1" -l -d 31 ${vmcore} ${out} | true; exit \${PIPESTATUS[0]}`, dir);
    noTrace(r);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.contain('cyclodump: standard output: the reader went away (broken pipe); its messages are dropped');
    const d = KdumpVmcore.open(out);
    expect(d.incomplete).to.equal(false);
    d.close();
  });

  it('row 14: EFBIG (ulimit -f) is "file too large", not "no space left"', function () {
    const out = path.join(dir, 'big.cd');
    fs.rmSync(out, { force: true });
    // 2 MiB (ulimit -f counts KiB blocks): the dump of the synthetic vmcore is larger
    const r = viaBash(`ulimit -f 2048; "$0" "$1" -l -d 1 ${vmcore} ${out}`, dir);
    expect(r.code, r.stderr).to.equal(1);
    noTrace(r);
    expect(r.stderr).to.contain('is too large: the file system or the file size limit (ulimit -f) allows no more (file too large)');
    expect(r.stderr).to.not.contain('no space left');
  });

  it('row 14: --work-dir /nonexistent is refused with one line', function () {
    const out = path.join(dir, 'wd.cd');
    const r = cyclodump(['-l', '-d', '31', '--work-dir', '/nonexistent', vmcore, out]);
    expect(r.code, r.stderr).to.equal(1);
    noTrace(r);
    expect(errorLines(r.stderr)).to.deep.equal(['cyclodump: --work-dir /nonexistent: no such directory']);
    expect(fs.existsSync(out)).to.equal(false);
  });

  it('row 14: -d 1,31 says on stderr that it retries, and why', function () {
    const out = path.join(dir, 'retry.cd');
    fs.rmSync(out, { force: true });
    // the synthetic vmcore: 30,189,071 bytes at -d 1, 29,110,679 at -d 31 (-l)
    const r = cyclodump(['-l', '-d', '1,31', '-L', '29600000', '--message-level', '0', vmcore, out]);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/^cyclodump: \S+ reached the size limit of 29600000 bytes \(-L\); retrying with dump level 31 \(-d 1,31\)$/m);
    const d = KdumpVmcore.open(out);
    expect(d.sub.dump_level).to.equal(31);
    d.close();
  });
});

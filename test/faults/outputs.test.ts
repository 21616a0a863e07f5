// The output never destroys what it should not (issue 20 rows 1, 2, 12, 13): an output that
// is the input, by any path, is refused before anything is truncated; device nodes and
// FIFOs are written or refused, never deleted; two runs on one file cannot interleave; file
// names are the bytes given. Each test fails on a build from before these rules
// (CYCLODUMP_BIN=/path/to/old/bin/cyclodump).
import { expect } from 'chai';
import { spawn, spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { KdumpVmcore } from '../../src/vmcore/kdump-vmcore';
import { verifyPagesAgainstVmcore } from '../helpers/compare';
import { errorLines, sparseCopy, synthVmcore } from '../helpers/faults';
import { scratchDir } from '../helpers/fixtures';
import { BIN } from '../helpers/paths';
import { RunResult, cyclodump } from '../helpers/tools';

function sha(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Exit 1 with one line on stderr matching `re`, no stack trace. */
function expectOneLine(r: RunResult, re: RegExp): void {
  expect(r.code, r.stderr).to.equal(1);
  expect(r.stderr).to.not.match(/\n\s+at /);
  const lines = errorLines(r.stderr);
  expect(lines, r.stderr).to.have.length(1);
  expect(lines[0]).to.match(re);
}

/** cyclodump through bash, so that arguments can be raw bytes ($'...') and redirections given. */
function viaBash(script: string, cwd: string): RunResult {
  const t0 = Date.now();
  const r = spawnSync('bash', ['-c', script, process.execPath, BIN], { cwd, encoding: 'latin1', maxBuffer: 64 << 20 });
  return { code: r.status ?? 128, stdout: r.stdout, stderr: r.stderr, wallMs: Date.now() - t0 };
}

function canMknod(dir: string): boolean {
  const probe = path.join(dir, 'probe');
  const ok = spawnSync('mknod', [probe, 'c', '1', '3']).status === 0;
  fs.rmSync(probe, { force: true });
  return ok;
}

describe('outputs: never the input, never a device deleted, one run per file, names as bytes (issue 20 rows 1, 2, 12, 13)', function () {
  this.timeout(120_000);
  let dir: string;
  let vmcore: string;
  let input: string;
  let inputSha: string;

  before(async function () {
    dir = scratchDir('outputs');
    vmcore = await synthVmcore();
    input = path.join(dir, 'in.vmcore');
    sparseCopy(vmcore, input);
    inputSha = sha(input);
  });

  // a build that lets a test destroy the input must not make the next tests fail for it
  beforeEach(function () {
    if (fs.existsSync(input) && fs.statSync(input).size === fs.statSync(vmcore).size) return;
    fs.rmSync(input, { force: true });
    sparseCopy(vmcore, input);
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('row 1: an output that is the input is refused before anything is written', function () {
    const ways: { name: string; out: () => string; extra?: string[] }[] = [
      { name: 'the same path', out: () => input },
      { name: 'a symbolic link', out: () => { const l = path.join(dir, 'link'); fs.rmSync(l, { force: true }); fs.symlinkSync(input, l); return l; } },
      { name: 'a hard link', out: () => { const l = path.join(dir, 'hard'); fs.rmSync(l, { force: true }); fs.linkSync(input, l); return l; } },
      { name: '/proc/self/cwd/...', out: () => `/proc/self/cwd/${path.relative(process.cwd(), input)}` },
    ];
    for (const w of ways) {
      it(`${w.name}: exit 1, one line, the vmcore intact`, function () {
        const r = cyclodump(['-f', '-l', '-d', '31', input, w.out()]);
        expectOneLine(r, /is the input.*writing it would destroy what is read/);
        expect(sha(input), 'the vmcore is unchanged').to.equal(inputSha);
      });
    }

    it('a --split part naming the input: refused, no part left, the vmcore intact', function () {
      const part = path.join(dir, 'part0');
      fs.rmSync(part, { force: true });
      const r = cyclodump(['-f', '-l', '-d', '31', '--split', input, part, input]);
      expectOneLine(r, /is the input.*writing it would destroy what is read/);
      expect(fs.existsSync(part), 'the other part is not left behind').to.equal(false);
      expect(sha(input)).to.equal(inputSha);
    });

    it('-R with the stream file as its output: refused, the stream intact', function () {
      const stream = path.join(dir, 'stream.flat');
      const made = viaBash(`"$0" "$1" -F -l -d 31 ${input} > ${stream}`, dir);
      expect(made.code, made.stderr).to.equal(0);
      const before = sha(stream);
      const r = viaBash(`"$0" "$1" -f -R ${stream} < ${stream}`, dir);
      expectOneLine(r, /is the input.*writing it would destroy what is read/);
      expect(sha(stream)).to.equal(before);
    });
  });

  describe('row 2: device nodes and FIFOs are written or refused, never deleted', function () {
    before(function () {
      if (!canMknod(dir)) this.skip();
    });

    for (const fmt of [['-l'], ['-E']]) {
      it(`-f ${fmt[0]} to a character device (a null device): written as makedumpfile does, exit 0, the node stays`, function () {
        const node = path.join(dir, 'null');
        fs.rmSync(node, { force: true });
        expect(spawnSync('mknod', [node, 'c', '1', '3']).status).to.equal(0);
        const r = cyclodump(['-f', ...fmt, '-d', '31', input, node]);
        expect(r.code, r.stderr).to.equal(0);
        expect(fs.statSync(node).isCharacterDevice(), 'the device node is still there').to.equal(true);
      });
    }

    it('-f to a full device: "no space", exit 1, the node stays', function () {
      const node = path.join(dir, 'full');
      fs.rmSync(node, { force: true });
      expect(spawnSync('mknod', [node, 'c', '1', '7']).status).to.equal(0);
      const r = cyclodump(['-f', '-l', '-d', '31', input, node]);
      expect(r.code, r.stderr).to.equal(1);
      expect(r.stderr).to.match(/no space left on the device holding/);
      expect(fs.statSync(node).isCharacterDevice()).to.equal(true);
    });

    it('-f to a FIFO: refused with one line (a dump file is written at positions), the FIFO stays', function () {
      const fifo = path.join(dir, 'fifo');
      fs.rmSync(fifo, { force: true });
      expect(spawnSync('mkfifo', [fifo]).status).to.equal(0);
      const r = cyclodump(['-f', '-l', '-d', '31', input, fifo]);
      expectOneLine(r, /is a FIFO, and a dump file is written at positions/);
      expect(fs.statSync(fifo).isFIFO()).to.equal(true);
    });

    it('without -f a device is refused as any existing file', function () {
      const node = path.join(dir, 'null2');
      fs.rmSync(node, { force: true });
      expect(spawnSync('mknod', [node, 'c', '1', '3']).status).to.equal(0);
      expectOneLine(cyclodump(['-l', '-d', '31', input, node]), /file exists \(use -f to overwrite\)/);
      expect(fs.statSync(node).isCharacterDevice()).to.equal(true);
    });
  });

  describe('row 12: two runs on one file', function () {
    it('the second -f run fails at once with one line; the first finishes a complete, correct dump', async function () {
      const out = path.join(dir, 'shared.cd');
      fs.rmSync(out, { force: true });
      const first = spawn(process.execPath, [BIN, '-f', '-c', '-d', '1', input, out], { stdio: ['ignore', 'ignore', 'pipe'] });
      let firstErr = '';
      first.stderr.setEncoding('latin1');
      first.stderr.on('data', (d: string) => { firstErr += d; });
      const firstDone = new Promise<number | null>((resolve) => first.on('close', (code) => resolve(code)));
      // the first run has the file (its header is written) when the second starts
      for (let i = 0; i < 5000 && !(fs.existsSync(out) && fs.statSync(out).size > 0); i++) await new Promise((r) => setTimeout(r, 2));
      // held still while the second runs: the first takes about 0.5 s, and a second slow to
      // start (a loaded machine) would otherwise find it finished and the file free
      first.kill('SIGSTOP');
      let second: ReturnType<typeof cyclodump>;
      try {
        second = cyclodump(['-f', '-l', '-d', '31', input, out]);
      } finally {
        first.kill('SIGCONT');
      }
      const code = await firstDone;
      expectOneLine(second, /another run is writing it \(the file is locked\)/);
      expect(code, firstErr).to.equal(0);
      const d = KdumpVmcore.open(out);
      try {
        expect(d.incomplete).to.equal(false);
        expect(d.sub.dump_level, 'the first run\'s file').to.equal(1);
      } finally {
        d.close();
      }
      const check = verifyPagesAgainstVmcore(out, vmcore);
      expect(check.lost).to.equal(0);
      expect(check.pages).to.be.greaterThan(0);
    });

    it('-f on an existing file truncates it in place (the same inode, hard links see the new dump)', function () {
      const out = path.join(dir, 'old.cd');
      const twin = path.join(dir, 'old-twin.cd');
      fs.rmSync(twin, { force: true });
      fs.writeFileSync(out, Buffer.alloc(1 << 20, 0x5a));
      fs.linkSync(out, twin);
      const ino = fs.statSync(out).ino;
      const r = cyclodump(['-f', '-l', '-d', '31', input, out]);
      expect(r.code, r.stderr).to.equal(0);
      expect(fs.statSync(out).ino).to.equal(ino);
      expect(sha(twin)).to.equal(sha(out));
      expect(verifyPagesAgainstVmcore(out, vmcore).lost).to.equal(0);
    });
  });

  describe('row 13: file names are the bytes given', function () {
    it("an output named $'x\\xff.cd' is created with exactly those bytes", function () {
      const r = viaBash(`"$0" "$1" -l -d 31 ${input} $'x\\xff.cd'`, dir);
      expect(r.code, r.stderr).to.equal(0);
      const names = fs.readdirSync(dir, { encoding: 'buffer' }).filter((n) => n[0] === 0x78 && n.includes(Buffer.from('.cd')));
      expect(names.map((n) => n.toString('hex'))).to.deep.equal([Buffer.from([0x78, 0xff, 0x2e, 0x63, 0x64]).toString('hex')]);
    });

    it("an input named $'in\\xff.vmcore' is opened (the workers too: no codec, --num-threads 2)", function () {
      const r = viaBash(`cp --sparse=always ${input} $'in\\xff.vmcore' && "$0" "$1" -f -d 31 --num-threads 2 $'in\\xff.vmcore' y.cd`, dir);
      expect(r.code, r.stderr).to.equal(0);
      expect(verifyPagesAgainstVmcore(path.join(dir, 'y.cd'), vmcore).lost).to.equal(0);
    });
  });
});

// Issue 8: what operators and scripts see of a dump of the real 6.1 fixture: one progress
// line redrawn on a terminal (driven in tmux) and plain lines without one, JSON logs, the
// --report-json document (against its schema, and equal to the printed report), and a
// start-up that does not load the logger when nothing is logged.
import Ajv from 'ajv';
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { writeElfVmcore } from '../helpers/elf-builder';
import { fixtureVmcore, scratchDir } from '../helpers/fixtures';
import { BIN, REPO } from '../helpers/paths';
import { cyclodump, parseReport } from '../helpers/tools';

const PROGRESS = /Dumping: +(\d+\.\d)%/g;

function percents(text: string): number[] {
  return [...text.matchAll(PROGRESS)].map((m) => Number(m[1]));
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function validator(): (doc: unknown) => string | undefined {
  const schema = JSON.parse(fs.readFileSync(path.join(REPO, 'schemas', 'report.schema.json'), 'utf8'));
  const validate = new Ajv({ allErrors: true, strict: true }).compile(schema);
  return (doc) => (validate(doc) ? undefined : JSON.stringify(validate.errors));
}

describe('what operators see (real-1g)', function () {
  let vmcore: string;
  let dir: string;

  before(function () {
    vmcore = fixtureVmcore('real-1g');
    dir = scratchDir('operators');
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('progress', function () {
    it('on a terminal (tmux): one line redrawn in place, reaching 100% once, then the report', function () {
      const session = `cyclodump-progress-${process.pid}`;
      const raw = path.join(dir, 'pane.raw');
      const out = path.join(dir, 'tty.lzo');
      fs.writeFileSync(raw, '');
      // the pipe to the raw log is attached before the dump starts
      // -d 1 at a 25 ms interval: the run lasts many intervals however fast the host (-d 31 took
      // 0.2 s on CI's 2 cores, two lines at 100 ms)
      const cmd = `sleep 1; CYCLODUMP_PROGRESS_MS=25 ${process.execPath} ${BIN} -l -d 1 --message-level 23 ${vmcore} ${out}; echo EXIT=$?; sleep 600`;
      const t = spawnSync('tmux', ['new-session', '-d', '-s', session, '-x', '200', '-y', '50', cmd], { encoding: 'latin1' });
      expect(t.status, t.stderr).to.equal(0);
      try {
        expect(spawnSync('tmux', ['pipe-pane', '-t', session, '-o', `cat >> ${raw}`]).status).to.equal(0);
        let screen = '';
        for (let i = 0; i < 600 && !/EXIT=\d/.test(screen); i++) {
          sleep(200);
          screen = spawnSync('tmux', ['capture-pane', '-p', '-t', session, '-S', '-'], { encoding: 'latin1' }).stdout;
        }
        expect(screen).to.match(/EXIT=0/);
        const lines = screen.split('\n');
        const prog = lines.map((l, i) => [l, i] as const).filter(([l]) => /Dumping:/.test(l));
        // one line on the screen, the final one
        expect(prog, screen).to.have.length(1);
        expect(prog[0][0]).to.match(/Dumping: 100\.0% \[done {3}\] in +[\d.]+ MB\/s out +[\d.]+ MB\/s elapsed/);
        // the phase timings (report level) were written above it, the report below it
        const report = lines.findIndex((l) => l.startsWith('Original pages'));
        expect(report).to.be.greaterThan(prog[0][1]);
        expect(lines.findIndex((l) => l.startsWith('scan: '))).to.be.lessThan(prog[0][1]);
        // in the raw stream: several draws of the same line, each after a carriage return
        sleep(300);
        const stream = fs.readFileSync(raw, 'latin1');
        const draws = stream.split('\r').filter((s) => s.startsWith('Dumping:'));
        expect(draws.length, stream).to.be.greaterThan(2);
        const ps = percents(stream);
        expect(ps).to.deep.equal([...ps].sort((a, b) => a - b));
        expect(ps.filter((p) => p === 100)).to.have.length(1);
        expect(ps[ps.length - 1]).to.equal(100);
        // no newline between two draws: redrawn, not scrolled
        const first = stream.indexOf('Dumping:');
        const last = stream.lastIndexOf('Dumping:');
        expect(stream.slice(first, last).replace(/(scan|compress\/write): [^\n]*\n/g, '')).not.to.include('\n');
      } finally {
        spawnSync('tmux', ['kill-session', '-t', session]);
      }
    });

    it('without a terminal: a plain line every interval, percentages rising to 100% once', function () {
      const out = path.join(dir, 'plain.lzo');
      // -d 1 at 25 ms: many intervals long on any host (-d 31 at 100 ms gave CI only two lines)
      const r = cyclodump(['-l', '-d', '1', '-f', vmcore, out], { env: { CYCLODUMP_PROGRESS_MS: '25' } });
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stderr).not.to.include('\r');
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('Dumping:'));
      expect(lines.length, r.stderr).to.be.greaterThan(2);
      const ps = percents(r.stderr);
      expect(ps).to.deep.equal([...ps].sort((a, b) => a - b));
      expect(ps.filter((p) => p === 100)).to.have.length(1);
      expect(lines[lines.length - 1]).to.match(/^Dumping: 100\.0% \[done {3}\]/);
    });

    it('by time, not per cycle: a run of 32 cycles shorter than the interval prints only its last line', function () {
      const out = path.join(dir, 'short.lzo');
      const r = cyclodump(['-l', '-d', '31', '--cyclic-buffer', '1', '-f', vmcore, out], { env: { CYCLODUMP_PROGRESS_MS: '60000' } });
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stderr.split('\n').filter((l) => l.startsWith('Dumping:'))).to.have.length(1);
    });

    it('--message-level without bit 1: no progress at all', function () {
      const r = cyclodump(['-l', '-d', '31', '--message-level', '6', '-f', vmcore, path.join(dir, 'quiet.lzo')], { env: { CYCLODUMP_PROGRESS_MS: '50' } });
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stderr).to.equal('');
    });
  });

  describe('--log-json', function () {
    it('every stderr line is a JSON record: progress, phase timings, and the error that ends a failed run', function () {
      const r = cyclodump(['--log-json', '-l', '-d', '1', '--message-level', '31', '-f', vmcore, path.join(dir, 'json.lzo')], { env: { CYCLODUMP_PROGRESS_MS: '25' } });
      expect(r.code, r.stderr).to.equal(0);
      const recs = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      for (const rec of recs) expect(rec).to.include.keys('level', 'time', 'msg');
      const prog = recs.filter((x) => x.msg === 'progress');
      expect(prog.length).to.be.greaterThan(1);
      expect(prog.filter((x) => x.percent === 100)).to.have.length(1);
      expect(prog[prog.length - 1]).to.include({ percent: 100, phase: 'done' });
      const phases = recs.filter((x) => typeof x.ms === 'number').map((x) => x.phase);
      expect(phases).to.deep.equal(['scan', 'write']);
      const bad = cyclodump(['--log-json', '/nonexistent/vmcore', path.join(dir, 'never')]);
      expect(bad.code).to.equal(1);
      const err = JSON.parse(bad.stderr.trim()) as Record<string, unknown>;
      expect(err).to.include({ level: 'error', code: 'open-failed', exitCode: 1 });
      expect(err.msg).to.match(/can't open \/nonexistent\/vmcore/);
    });
  });

  describe('--report-json', function () {
    const check = validator();

    it('validates against its schema and holds the printed report\'s figures', function () {
      const json = path.join(dir, 'r31.json');
      const r = cyclodump(['-l', '-d', '31', '--message-level', '16', '--report-json', json, '-f', vmcore, path.join(dir, 'r31.lzo')]);
      expect(r.code, r.stderr).to.equal(0);
      const doc = JSON.parse(fs.readFileSync(json, 'utf8'));
      expect(check(doc)).to.equal(undefined);
      const printed = parseReport(r.stdout);
      expect(doc.pages).to.deep.equal({
        original: printed.original, excluded: printed.excluded, zero: printed.zero, cache: printed.cache,
        cachePrivate: printed.cachePrivate, user: printed.user, free: printed.free, hwpoison: printed.hwpoison,
        offline: printed.offline, remaining: printed.remaining, memoryHole: printed.memoryHole, total: printed.total,
      });
      expect(doc.writeBytes).to.equal(Number(/^Write bytes +: (\d+)$/m.exec(r.stdout)![1]));
      expect(doc.reducedToPercent).to.equal(Number(/reduced to (\d+)%/.exec(r.stdout)![1]));
      expect(doc.memMapBytesRead).to.equal(Number(/^mem_map bytes read: (\d+)/m.exec(r.stdout)![1]));
      expect(doc.threads).to.equal(Number(/^Threads: (\d+);/m.exec(r.stdout)![1]));
      // the printed times, in seconds to the millisecond; start-up lies within the process's life
      const t = /time: start-up ([\d.]+) s, scan ([\d.]+) s, write ([\d.]+) s, total ([\d.]+) s(?:; the pages written first ([\d.]+) s of the write)?/.exec(r.stdout)!;
      expect([t[1], t[2], t[3], t[4], t[5] ?? '0.000']).to.deep.equal(['startup', 'scan', 'write', 'total', 'first'].map((k) => (doc.timeMs[k] / 1000).toFixed(3)));
      expect(doc.timeMs.first).to.be.at.most(doc.timeMs.write);
      expect(doc.timeMs.startup).to.be.greaterThan(0);
      expect(doc.timeMs.startup + doc.timeMs.total).to.be.at.most(r.wallMs);
      expect(doc).to.include({ status: 'completed', dumpLevel: 31, codec: 'lzo', format: 'kdump-compressed', pageSize: 4096, input: vmcore });
      expect(doc.outputs).to.deep.equal([path.join(dir, 'r31.lzo')]);
    });

    it('-E: the ELF figures too', function () {
      const json = path.join(dir, 'elf.json');
      const r = cyclodump(['-E', '-d', '31', '--message-level', '16', '--report-json', json, '-f', vmcore, path.join(dir, 'r.elf')]);
      expect(r.code, r.stderr).to.equal(0);
      const doc = JSON.parse(fs.readFileSync(json, 'utf8'));
      expect(check(doc)).to.equal(undefined);
      expect(doc.format).to.equal('elf');
      const inElf = [...r.stdout.matchAll(/in ELF format : 0x([0-9a-f]+)/g)].map((m) => parseInt(m[1], 16));
      expect([doc.pages.elfExcluded, doc.pages.elfRemaining]).to.deep.equal(inElf);
    });

    it('an incomplete dump: status and error, still valid, still the printed figures', function () {
      const json = path.join(dir, 'cut.json');
      const r = cyclodump(['-l', '-d', '31', '-L', '10M', '--message-level', '16', '--report-json', json, '-f', vmcore, path.join(dir, 'cut.lzo')]);
      expect(r.code).to.equal(1);
      const doc = JSON.parse(fs.readFileSync(json, 'utf8'));
      expect(check(doc)).to.equal(undefined);
      expect(doc.status).to.equal('incomplete');
      expect(doc.error).to.be.a('string').and.not.equal('');
      expect(doc.pages.remaining).to.equal(parseReport(r.stdout).remaining);
    });

    it('--split and --dry-run name their outputs', function () {
      const json = path.join(dir, 'split.json');
      const parts = [path.join(dir, 's1'), path.join(dir, 's2')];
      expect(cyclodump(['--split', '-l', '-d', '31', '--message-level', '0', '--report-json', json, vmcore, ...parts]).code).to.equal(0);
      const doc = JSON.parse(fs.readFileSync(json, 'utf8'));
      expect(check(doc)).to.equal(undefined);
      expect(doc.outputs).to.deep.equal(parts);
      const dry = path.join(dir, 'dry.json');
      expect(cyclodump(['--dry-run', '-d', '31', '--message-level', '0', '--report-json', dry, vmcore, path.join(dir, 'never')]).code).to.equal(0);
      const d = JSON.parse(fs.readFileSync(dry, 'utf8'));
      expect(check(d)).to.equal(undefined);
      expect(d).to.include({ dryRun: true });
      expect(d.outputs).to.deep.equal([]);
    });

    it('the schema refuses a document that lacks a figure or has a wrong one', function () {
      const doc = JSON.parse(fs.readFileSync(path.join(dir, 'r31.json'), 'utf8'));
      delete doc.pages.free;
      expect(check(doc)).to.be.a('string');
      doc.pages.free = -1;
      expect(check(doc)).to.be.a('string');
    });
  });

  describe('start-up', function () {
    /** Runs main() in a fresh node and says whether pino was loaded. */
    function loadsPino(args: string[]): { code: number; pino: boolean; stderr: string } {
      const script = `require(${JSON.stringify(path.join(REPO, 'dist/src/cli/main.js'))}).main(${JSON.stringify(args)}).then((code) => {
        const pino = Object.keys(require.cache).some((k) => k.includes('/node_modules/pino/'));
        process.stdout.write('\\n' + JSON.stringify({ code, pino }) + '\\n');
      });`;
      const r = spawnSync(process.execPath, ['-e', script], { encoding: 'latin1' });
      const last = JSON.parse(r.stdout.trim().split('\n').pop()!) as { code: number; pino: boolean };
      return { ...last, stderr: r.stderr };
    }

    it('-v, a small clean dump and text log lines never load pino; --log-json does', function () {
      expect(loadsPino(['-v'])).to.include({ code: 0, pino: false });
      // a tiny vmcore without VMCOREINFO: 64 pages, half of them zero
      const tiny = path.join(dir, 'tiny.vmcore');
      const data = Buffer.alloc(64 * 4096);
      for (let i = 0; i < 32; i++) data.fill(i + 1, i * 4096, i * 4096 + 100);
      writeElfVmcore(tiny, { notes: Buffer.alloc(0), loads: [{ paddr: 0x100000, data }] });
      expect(loadsPino(['-l', '-d', '1', '-f', tiny, path.join(dir, 'tiny.lzo')])).to.include({ code: 0, pino: false });
      // text lines (the phase timings at --message-level 31) are written without it
      const steps = loadsPino(['-l', '-d', '1', '--message-level', '31', '-f', tiny, path.join(dir, 'tiny31.lzo')]);
      expect(steps).to.include({ code: 0, pino: false });
      expect(steps.stderr).to.match(/^scan: [\d.]+ s, /m);
      // a failure's line is written without it too; the same failure with --log-json loads it
      expect(loadsPino(['-l', '-d', '1', '-f', '/nonexistent', path.join(dir, 'x')])).to.include({ code: 1, pino: false });
      const warned = loadsPino(['-l', '-d', '1', '--log-json', '-f', '/nonexistent', path.join(dir, 'x')]);
      expect(warned).to.include({ code: 1, pino: true });
    });
  });
});

// Issue 8: the progress meter on its own, with a fake clock: one indicator for the whole
// run, drawn by time, honest percentages, 100% once at the end, silenced by the message
// level, and the stall warning.
import { expect } from 'chai';
import { COST, Progress, ProgressPlan } from '../../src/pipeline/progress';
import { Messages } from '../../src/util/messages';

class Collector {
  text = '';
  constructor(readonly isTTY: boolean) {}
  write(s: string): boolean {
    this.text += s;
    return true;
  }
}

function setup(opts: { tty?: boolean; level?: number; json?: boolean; stallMs?: number } = {}) {
  const out = new Collector(!!opts.tty);
  const err = new Collector(!!opts.tty);
  const msgs = new Messages(opts.level ?? 7, out, err, { json: opts.json });
  let t = 1_000_000;
  const clock = { advance: (ms: number) => { t += ms; } };
  const p = new Progress(msgs, { now: () => t, timer: false, ttyIntervalMs: 250, plainIntervalMs: 5000, stallMs: opts.stallMs ?? 30_000 });
  return { out, err, msgs, p, clock };
}

const PLAN: ProgressPlan = {
  pfns: 1000, presentPages: 1000, structScan: true, zeroScan: false, write: true, codec: 'lzo', keptPrior: 0.3,
};

/** Every percentage printed, in order. */
function percents(text: string): number[] {
  return [...text.matchAll(/(\d+\.\d)%/g)].map((m) => Number(m[1]));
}

/** A run: the scan in 10 slices, then 200 pages written in 10 batches, 1 s per step. */
function run(p: Progress, clock: { advance(ms: number): void }, stepMs = 1000, finish = true): void {
  p.begin(PLAN);
  for (let i = 0; i < 10; i++) {
    clock.advance(stepMs);
    p.scanned(100, 6400, 100, 80);
    p.poll();
  }
  p.scanFinished({ ms: 10 * stepMs, pfns: 1000, memMapBytes: 64000, dumpable: 200 });
  p.setWriteTotal(200);
  for (let i = 0; i < 10; i++) {
    clock.advance(stepMs);
    p.written(20, 20 * 4096, 20 * 1000);
    p.poll();
  }
  if (finish) p.finish();
}

describe('progress meter', function () {
  it('without a terminal: a plain line every interval, never per update, 100% exactly once at the end', function () {
    const { err, p, clock } = setup();
    run(p, clock);
    const lines = err.text.split('\n').filter(Boolean);
    // 20 s of work at one line per 5 s: 4 lines, plus the last one
    expect(lines.length).to.equal(5);
    for (const l of lines) expect(l).to.match(/^Dumping: +\d+\.\d% \[\w+ *\] in +[\d.]+ MB\/s out +[\d.]+ MB\/s elapsed \S+/);
    const ps = percents(err.text);
    expect(ps).to.deep.equal([...ps].sort((a, b) => a - b));
    expect(ps.filter((x) => x === 100)).to.have.length(1);
    expect(ps[ps.length - 1]).to.equal(100);
    expect(err.text).not.to.include('\r');
  });

  it('on a terminal: one line redrawn in place, ended by a newline after 100%', function () {
    const { err, p, clock } = setup({ tty: true });
    run(p, clock, 300);
    expect(err.text.split('\n')).to.have.length(2);
    expect(err.text.endsWith('\n')).to.equal(true);
    const draws = err.text.split('\r').filter(Boolean);
    expect(draws.length).to.be.greaterThan(10);
    for (const d of draws) expect(d).to.match(/^Dumping: .*\x1b\[K\n?$/);
    const ps = percents(err.text);
    expect(ps.filter((x) => x === 100)).to.have.length(1);
    expect(ps[ps.length - 1]).to.equal(100);
  });

  it('weighs the passes by their cost: the scan ends at its share of the work', function () {
    const { err, p, clock } = setup();
    p.begin(PLAN);
    clock.advance(10_000);
    p.scanned(1000, 64000, 1000, 800);
    p.setWriteTotal(200);
    p.poll();
    const scan = 1000 * COST.structScanPerPfn;
    const write = 200 * (COST.readPerPage + COST.codecPerPage.lzo);
    expect(percents(err.text)[0]).to.be.closeTo((100 * scan) / (scan + write), 0.1);
    expect(p.fraction).to.be.lessThan(1);
  });

  it('estimates the pages to write from what the scan kept so far', function () {
    const { p } = setup();
    p.begin(PLAN);
    p.scanned(500, 32000, 500, 400);
    // 20% kept so far: 200 pages of 1000 expected
    const scan = 1000 * COST.structScanPerPfn;
    const write = 200 * (COST.readPerPage + COST.codecPerPage.lzo);
    expect(p.fraction).to.be.closeTo((500 * COST.structScanPerPfn) / (scan + write), 1e-9);
  });

  it('never shows 100% before the end, and not at all for a run that stopped', function () {
    const { err, p, clock } = setup();
    p.begin(PLAN);
    p.scanned(1000, 0, 1000, 0);
    p.setWriteTotal(1000);
    clock.advance(6000);
    p.written(999, 0, 0);
    expect(percents(err.text).pop()).to.equal(99.9);
    p.finish();
    const last = err.text.trim().split('\n').pop()!;
    expect(last).to.include('[stopped]');
    expect(last).to.include('99.9%');
    expect(percents(err.text)).not.to.include(100);
  });

  it('--message-level without bit 1: no progress output, but a stall is still reported', function () {
    const { err, p, clock } = setup({ level: 6, stallMs: 30_000 });
    p.begin(PLAN);
    p.scanned(100, 6400, 100, 0);
    clock.advance(29_000);
    p.poll();
    expect(err.text).to.equal('');
    clock.advance(2_000);
    p.poll();
    p.poll();
    expect(err.text).to.match(/^warning: no progress for 31 s \(scan, [\d.]+%\)/);
    expect(err.text.split('\n').filter(Boolean)).to.have.length(1);
    clock.advance(1000);
    p.scanned(100, 6400, 100, 0);
    expect(err.text).to.include('warning: progress resumed after 32 s');
    p.finish();
    expect(percents(err.text.split('\n').slice(2).join('\n'))).to.deep.equal([]);
  });

  it('level 0: nothing at all', function () {
    const { err, out, p, clock } = setup({ level: 0 });
    run(p, clock);
    clock.advance(60_000);
    expect(err.text + out.text).to.equal('');
  });

  it('a log line on a terminal erases the progress line first', function () {
    const { err, msgs, p, clock } = setup({ tty: true });
    p.begin(PLAN);
    clock.advance(300);
    p.scanned(100, 6400, 100, 0);
    msgs.warn('something');
    expect(err.text).to.match(/\x1b\[K\r\x1b\[Kwarning: something\n$/);
    p.stop();
  });

  it('phase timings are report-level log lines', function () {
    const { err, p, clock } = setup({ level: 16 + 4 });
    run(p, clock);
    expect(err.text).to.match(/^scan: 10\.000 s, 1000 pfns, 0\.1 MB of mem_map read, 200 pages to dump$/m);
    expect(err.text).to.match(/^compress\/write: 10\.000 s, 200 pages, 0\.2 MB written$/m);
  });

  it('--log-json: progress as JSON records, 100 once', function () {
    const { err, p, clock } = setup({ json: true, level: 31 });
    run(p, clock);
    const recs = err.text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const prog = recs.filter((r) => r.msg === 'progress');
    expect(prog.length).to.equal(5);
    expect(prog.map((r) => r.percent)).to.deep.equal([...prog.map((r) => r.percent as number)].sort((a, b) => a - b));
    expect(prog.filter((r) => r.percent === 100)).to.have.length(1);
    expect(prog[prog.length - 1]).to.include({ percent: 100, phase: 'done' });
    const steps = recs.filter((r) => r.phase === 'scan' && r.ms !== undefined);
    expect(steps).to.have.length(1);
    expect(steps[0]).to.include({ level: 'info', ms: 10000, pfns: 1000 });
  });
});

// Issue 18: a dump cut short still tells why the machine died. In the default write order
// (src/pipeline/write-order.ts) the pages a reader needs come first, so a file cut by a
// full disk or by SIGKILL anywhere from 5% to 95% of its full size is marked incomplete,
// `cyclodump info` shows the panic line and the end of the log, --dump-dmesg gives the
// whole dump's log, refiltering it to -d 31 works, and libkdumpfile reads every page the
// file holds as the vmcore has it.
//
// By default a sample (a full disk at 5%, SIGKILL at 55% on real-1g, libkdumpfile on 4000
// of the pages held); with CYCLODUMP_CUT_ALL=1 all ten of each and every page held, and on
// CYCLODUMP_REAL_3G=PATH (a 3 GiB vmcore) too.
import { expect } from 'chai';
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { buildKernelModel } from '../../src/kernel/kernel-model';
import { forEachGroupPage, priorityPages } from '../../src/kernel/priority-pages';
import { KdumpVmcore } from '../../src/vmcore/kdump-vmcore';
import { openInput } from '../../src/vmcore/open';
import { expectSameBitmaps, verifyPagesAgainstVmcore } from '../helpers/compare';
import { SmallDisk, sparseCopy } from '../helpers/faults';
import { fixtureVmcore, scratchDir } from '../helpers/fixtures';
import { sameFile, withFiles } from '../helpers/files';
import { BIN } from '../helpers/paths';
import { cyclodump, libkdumpfileCheck, makedumpfile } from '../helpers/tools';

const ALL = process.env.CYCLODUMP_CUT_ALL === '1';
/** 5%, 15%, ... 95% of the full file */
const FRACTIONS = [5, 15, 25, 35, 45, 55, 65, 75, 85, 95];
const DISK_SAMPLE = [5];
const KILL_SAMPLE = [55];
/** what the cut dumps are made with: -d 1 keeps nearly every page, the longest dump */
const ARGS = ['-l', '-d', '1'];

interface Full {
  vmcore: string;
  size: number;
  dmesg: Buffer;
  panic: string;
  lastLines: string[];
}

/** Every check a cut file must pass; returns the pages it holds. */
function expectReadableCut(file: string, full: Full, dir: string): number {
  const d = KdumpVmcore.open(file);
  const stored: number[] = [];
  try {
    expect(d.incomplete, `${file}: header status 0x${d.header.status.toString(16)} lacks the incomplete flag 0x08`).to.equal(true);
    for (const r of d.records()) if (r.offset !== 0) stored.push(r.pfn);
  } finally {
    d.close();
  }
  // our reader: every page held equals the vmcore's
  const pages = verifyPagesAgainstVmcore(file, full.vmcore);
  expect(pages.pages).to.be.greaterThan(0);
  // info: the panic, the end of the log, and every group written first present but the struct pages
  const info = cyclodump(['info', file]);
  expect(info.code, info.stderr).to.equal(0);
  expect(info.stdout).to.include(`Panic            : ${full.panic}`);
  for (const line of full.lastLines) expect(info.stdout).to.include(`  ${line}\n`);
  for (const g of ['page-tables', 'utsname', 'printk', 'stacks', 'node-data', 'mem-section']) {
    expect(info.stdout, `info: group ${g}`).to.match(new RegExp(`^  ${g} *: ([1-9]\\d*)/\\1 +all present`, 'm'));
  }
  // the whole log
  const log = path.join(dir, 'cut.dmesg');
  fs.rmSync(log, { force: true });
  const dm = cyclodump(['--dump-dmesg', file, log]);
  expect(dm.code, dm.stderr).to.equal(0);
  expect(fs.readFileSync(log).equals(full.dmesg), '--dump-dmesg of the cut file equals the full dump\'s').to.equal(true);
  // refiltered to -d 31: a dump whose every page is the vmcore's, incomplete as its input
  // (exit 1 and a line saying so; what the input lost stays lost)
  const re = path.join(dir, 'refiltered');
  fs.rmSync(re, { force: true });
  const r = cyclodump(['-l', '-d', '31', file, re]);
  expect(r.code, r.stderr).to.equal(1);
  expect(r.stderr).to.match(/is an incomplete dump \(its header says so\), \d+ of its pages were lost/);
  const rd = KdumpVmcore.open(re);
  try {
    expect(rd.incomplete, 'the refiltered dump says incomplete').to.equal(true);
  } finally {
    rd.close();
  }
  expect(verifyPagesAgainstVmcore(re, full.vmcore).pages).to.be.greaterThan(0);
  // libkdumpfile: every page the file holds (the sample run: every k-th, at most 4000)
  const stride = ALL ? 1 : Math.max(1, Math.ceil(stored.length / 4000));
  const asked = stored.filter((_, i) => i % stride === 0);
  const list = path.join(dir, 'pfns');
  fs.writeFileSync(list, asked.map((p) => p.toString(16)).join('\n'));
  const lk = libkdumpfileCheck([file, full.vmcore, '--pfns', list]);
  expect(lk.code, lk.stderr).to.equal(0);
  const res = JSON.parse(lk.stdout.trim().split('\n').pop()!) as { compared: number; mismatches: number; errors: number; nodata: number };
  expect(res.mismatches, 'libkdumpfile: pages that differ from the vmcore').to.equal(0);
  expect(res.errors, 'libkdumpfile: read errors').to.equal(0);
  expect(res.nodata, 'libkdumpfile: pages the file holds but it cannot read').to.equal(0);
  expect(res.compared).to.equal(asked.length);
  return stored.length;
}

/** Runs the dump and SIGKILLs it once the file reaches `bytes`. */
async function killAt(vmcore: string, out: string, bytes: number): Promise<number> {
  const child = spawn(process.execPath, [BIN, ...ARGS, vmcore, out], { stdio: 'ignore' });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => { done = true; });
  let size = 0;
  while (!done) {
    try {
      size = fs.statSync(out).size;
    } catch {
      size = 0;
    }
    if (size >= bytes) {
      child.kill('SIGKILL');
      break;
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  const code = await exited;
  expect(code, `the dump ended (exit ${code}) before its file reached ${bytes} bytes`).to.equal(null);
  return size;
}

/**
 * The pages the kernel in `vmcore` names first, as pass 2 finds them: struct pages only
 * when they describe a pfn the dump keeps.
 */
function priorityPfns(vmcore: string, kept: (pfn: number) => boolean): Set<number> {
  const input = openInput(vmcore);
  try {
    const km = buildKernelModel(input, input.vmcoreinfo?.text, { warn: () => undefined, needPageLayout: false, arch: input.arch });
    const out = new Set<number>();
    for (const g of priorityPages(km, input.noteBytes, input.notes)) {
      forEachGroupPage(g, (pfn, describeStart, describeEnd) => {
        if (describeStart === undefined) { out.add(pfn); return; }
        for (let p = describeStart; p < describeEnd!; p++) if (kept(p)) { out.add(pfn); return; }
      });
    }
    return out;
  } finally {
    input.close();
  }
}

/**
 * A complete dump in the default order: makedumpfile's bitmaps, every page the vmcore's,
 * and the data of every priority page it keeps before the data of every other page.
 */
function expectPriorityFirst(dump: string, reference: string, vmcore: string): number {
  expectSameBitmaps(dump, reference);
  const check = verifyPagesAgainstVmcore(dump, vmcore);
  expect(check.lost).to.equal(0);
  const d = KdumpVmcore.open(dump);
  const first = priorityPfns(vmcore, (p) => d.isDumpable(p));
  let lastFirst = 0;
  let firstOther = Infinity;
  let n = 0;
  try {
    // the shared zero page is the data area's first object, whatever the order
    const zero = d.offsetDesc + 24 * d.describe().pages.dumped;
    for (const r of d.records()) {
      if (r.offset === zero) continue;
      if (first.has(r.pfn)) {
        lastFirst = Math.max(lastFirst, r.offset);
        n++;
      } else {
        firstOther = Math.min(firstOther, r.offset);
      }
    }
  } finally {
    d.close();
  }
  expect(n, 'priority pages in the dump').to.be.greaterThan(100);
  expect(lastFirst, 'every priority page is written before the other pages').to.be.lessThan(firstOther);
  return n;
}

describe('the default order on real-1g: complete dumps, -F, crash', function () {
  let vmcore: string;
  let dir: string;
  let mdf: string;
  let direct: string;

  before(function () {
    vmcore = fixtureVmcore('real-1g');
    dir = scratchDir('cut-first-order');
    mdf = path.join(dir, 'mdf');
    direct = path.join(dir, 'direct');
    expect(makedumpfile(['-l', '-d', '31', vmcore, mdf]).code).to.equal(0);
    expect(cyclodump(['-l', '-d', '31', vmcore, direct]).code).to.equal(0);
  });

  after(function () {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('-l -d 31: makedumpfile\'s bitmaps and pages, the priority pages\' data first; crash reads it', function () {
    const n = expectPriorityFirst(direct, mdf, vmcore);
    // eslint-disable-next-line no-console
    console.log(`      ${n} priority pages first`);
    expect(sameFile(direct, mdf), 'the data area is in another order than makedumpfile\'s').to.equal(false);
    const r = spawnSyncText('crash', ['--osrelease', direct]);
    expect(r, 'crash --osrelease').to.equal('6.1.0-56-amd64');
  });

  it('-F carries the default order: makedumpfile -R rebuilds our stream into our direct dump', function () {
    const stream = path.join(dir, 'ours.flat');
    const rebuilt = path.join(dir, 'rebuilt');
    expect(withFiles(process.execPath, [BIN, '-F', '-l', '-d', '31', vmcore], undefined, stream)).to.equal(0);
    expect(withFiles('makedumpfile', ['-R', rebuilt], stream)).to.equal(0);
    expect(sameFile(rebuilt, direct)).to.equal(true);
  });

  it('--pfn-order: makedumpfile\'s file byte for byte', function () {
    const out = path.join(dir, 'pfn-order');
    expect(cyclodump(['-l', '-d', '31', '--pfn-order', vmcore, out]).code).to.equal(0);
    expect(sameFile(out, mdf)).to.equal(true);
  });
});

function spawnSyncText(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'latin1' }).trim();
}

function describeCuts(name: string, vmcorePath: () => string): void {
  describe(`${name}: -l -d 1 cut short`, function () {
    const full = {} as Full;
    let dir: string;
    let disk: SmallDisk | undefined;

    before(function () {
      full.vmcore = vmcorePath();
      dir = scratchDir(`cut-first-${name}`);
      const out = path.join(dir, 'full');
      const r = cyclodump([...ARGS, full.vmcore, out]);
      expect(r.code, r.stderr).to.equal(0);
      full.size = fs.statSync(out).size;
      const log = path.join(dir, 'full.dmesg');
      expect(cyclodump(['--dump-dmesg', out, log]).code).to.equal(0);
      full.dmesg = fs.readFileSync(log);
      const lines = full.dmesg.toString('utf8').split('\n').filter(Boolean);
      full.lastLines = lines.slice(-3);
      const info = cyclodump(['info', out]);
      full.panic = /^Panic +: (.*)$/m.exec(info.stdout)![1];
      expect(full.panic).to.match(/Kernel panic/);
      fs.rmSync(out);
      disk = SmallDisk.mount(path.join(dir, 'disk'));
    });

    after(function () {
      disk?.unmount();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    for (const pct of ALL ? FRACTIONS : DISK_SAMPLE) {
      it(`a full disk at ${pct}% of the full file`, function () {
        if (!disk) this.skip();
        const room = Math.floor((full.size * pct) / 100);
        disk!.resize(room);
        const onDisk = path.join(disk!.dir, 'cut');
        const r = cyclodump([...ARGS, full.vmcore, onDisk]);
        expect(r.code, 'exit 1 on a full disk').to.equal(1);
        const cut = path.join(dir, `disk-${pct}`);
        sparseCopy(onDisk, cut);
        disk!.resize(4096);
        const n = expectReadableCut(cut, full, dir);
        // eslint-disable-next-line no-console
        console.log(`      ${name} full disk ${pct}%: ${fs.statSync(cut).size} bytes, ${n} pages held`);
        fs.rmSync(cut);
      });
    }

    for (const pct of ALL ? FRACTIONS : KILL_SAMPLE) {
      it(`SIGKILL at ${pct}% of the full file`, async function () {
        const cut = path.join(dir, `kill-${pct}`);
        fs.rmSync(cut, { force: true });
        const size = await killAt(full.vmcore, cut, Math.floor((full.size * pct) / 100));
        const n = expectReadableCut(cut, full, dir);
        // eslint-disable-next-line no-console
        console.log(`      ${name} SIGKILL ${pct}%: ${size} bytes, ${n} pages held`);
        fs.rmSync(cut);
      });
    }
  });
}

describe('cut first: a dump cut short tells why the machine died (issue 18)', function () {
  // at load 20 on 2 CPUs one cut took 28 s (full disk, 5%) to over 5 min (SIGKILL, 55%)
  this.timeout(ALL ? 3600000 : 900000);
  describeCuts('real-1g', () => fixtureVmcore('real-1g'));
  const big = process.env.CYCLODUMP_REAL_3G;
  if (big) describeCuts('real-3g', () => big);
});

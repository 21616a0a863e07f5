// Issue 17: every other output and mode on the real arm64 fixture, against Debian's arm64
// makedumpfile 1.7.2 run live under qemu-user-static: -E, -F / -R, --split /
// --reassemble, --dump-dmesg, refiltering both ways, -e, and `info` / `map` reading arm64 dumps.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { Elf64Ehdr, EM_AARCH64 } from '../../src/format/elf';
import { expectSameBitmaps, expectSameElfDump, shapeOf, verifyPagesAgainstVmcore } from '../helpers/compare';
import { repoFixtureDir, repoFixtureVmcore, repoReference, scratchDir } from '../helpers/fixtures';
import { BIN } from '../helpers/paths';
import { cyclodump, makedumpfileArm64, makedumpfileArm64Path, needMakedumpfileArm64, parseReport } from '../helpers/tools';
import { sameFile, withFiles } from '../helpers/files';

const FIXTURE = 'real-arm64-512m';
const PANIC = 'Kernel panic - not syncing: sysrq triggered crash';

describe(`${FIXTURE}: every output and mode against arm64 makedumpfile 1.7.2`, function () {
  let vmcore: string;
  let dir: string;
  let direct: string;
  let mdfDirect: string;
  let mdf: string;

  before(function () {
    needMakedumpfileArm64(this);
    mdf = makedumpfileArm64Path()!;
    vmcore = repoFixtureVmcore(FIXTURE);
    dir = scratchDir('real-arm64-outputs');
    direct = path.join(dir, 'direct.lzo');
    mdfDirect = path.join(dir, 'mdf-direct.lzo');
    // makedumpfile's page order (--pfn-order): the files below are compared byte for byte
    expect(cyclodump(['-l', '-d', '31', '--pfn-order', vmcore, direct]).code).to.equal(0);
    expect(makedumpfileArm64(['-l', '-d', '31', vmcore, mdfDirect]).code).to.equal(0);
  });

  after(function () {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('-F: makedumpfile -R rebuilds our stream into our direct dump, and ours rebuilds its stream into its', function () {
    const stream = path.join(dir, 'ours.flat');
    const rebuilt = path.join(dir, 'ours.rebuilt');
    expect(withFiles(process.execPath, [BIN, '-F', '-l', '-d', '31', '--pfn-order', vmcore], undefined, stream)).to.equal(0);
    expect(withFiles(mdf, ['-R', rebuilt], stream)).to.equal(0);
    expect(sameFile(rebuilt, direct)).to.equal(true);
    const theirs = path.join(dir, 'mdf.flat');
    const rebuilt2 = path.join(dir, 'mdf.rebuilt');
    expect(withFiles(mdf, ['-F', '-l', '-d', '31', vmcore], undefined, theirs)).to.equal(0);
    expect(withFiles(process.execPath, [BIN, '-R', rebuilt2], theirs)).to.equal(0);
    expect(sameFile(rebuilt2, mdfDirect)).to.equal(true);
  });

  it('--split: makedumpfile --reassemble merges our parts into the direct dump, and ours merges its parts', function () {
    const parts = (p: string): string[] => [0, 1, 2].map((i) => path.join(dir, `${p}.${i}`));
    const ours = parts('ours-split');
    const r = cyclodump(['--split', '-l', '-d', '31', '--pfn-order', '--splitblock-size', '8192', vmcore, ...ours]);
    expect(r.code, r.stderr).to.equal(0);
    const theirs = parts('mdf-split');
    expect(makedumpfileArm64(['--split', '-l', '-d', '31', '--splitblock-size', '8192', vmcore, ...theirs]).code).to.equal(0);
    ours.forEach((p, i) => expect(sameFile(p, theirs[i]), `part ${i}`).to.equal(true));
    const merged = path.join(dir, 'ours-split.merged');
    expect(makedumpfileArm64(['--reassemble', ...ours, merged]).code).to.equal(0);
    expect(sameFile(merged, direct)).to.equal(true);
    const merged2 = path.join(dir, 'mdf-split.merged');
    const m = cyclodump(['--reassemble', ...theirs, merged2]);
    expect(m.code, m.stderr).to.equal(0);
    expect(sameFile(merged2, mdfDirect)).to.equal(true);
  });

  it('-E: the same PT_LOADs and bytes as makedumpfile -E, the same report, e_machine AArch64', function () {
    const ours = path.join(dir, 'ours.elf');
    const theirs = path.join(dir, 'mdf.elf');
    const a = cyclodump(['-E', '-d', '31', '--message-level', '31', vmcore, ours]);
    const b = makedumpfileArm64(['-E', '-d', '31', '--message-level', '31', vmcore, theirs]);
    expectSameElfDump(ours, theirs, a, b);
    expect(Elf64Ehdr.decode(fs.readFileSync(ours).subarray(0, 64)).e_machine).to.equal(EM_AARCH64);
    expect(fs.statSync(ours).size).to.equal(repoReference(FIXTURE).modes.find((m) => m.name === 'd31_elf')!.output_bytes);
  });

  it('--dump-dmesg: byte-identical to makedumpfile\'s log, from the vmcore and from our dump', function () {
    const ours = path.join(dir, 'dmesg.ours');
    const fromDump = path.join(dir, 'dmesg.dump');
    const theirs = path.join(dir, 'dmesg.mdf');
    expect(cyclodump(['--dump-dmesg', vmcore, ours]).code).to.equal(0);
    expect(cyclodump(['--dump-dmesg', direct, fromDump]).code).to.equal(0);
    expect(makedumpfileArm64(['--dump-dmesg', vmcore, theirs]).code).to.equal(0);
    const expected = fs.readFileSync(path.join(repoFixtureDir(FIXTURE), 'dmesg.txt'));
    expect(fs.readFileSync(theirs).equals(expected)).to.equal(true);
    expect(fs.readFileSync(ours).equals(expected)).to.equal(true);
    expect(fs.readFileSync(fromDump).equals(expected)).to.equal(true);
    expect(expected.toString('latin1')).to.include(PANIC);
  });

  it('refiltering: our -d 1 dump to -d 31, by us and by makedumpfile, equals makedumpfile\'s direct -d 31', function () {
    const d1 = path.join(dir, 'd1.lzo');
    expect(cyclodump(['-l', '-d', '1', vmcore, d1]).code).to.equal(0);
    const ours = path.join(dir, 'refiltered-ours');
    const r = cyclodump(['-l', '-d', '31', '--pfn-order', d1, ours]);
    expect(r.code, r.stderr).to.equal(0);
    expect(sameFile(ours, mdfDirect)).to.equal(true);
    const theirs = path.join(dir, 'refiltered-mdf');
    expect(makedumpfileArm64(['-l', '-d', '31', d1, theirs]).code).to.equal(0);
    expectSameBitmaps(theirs, mdfDirect);
    expect(sameFile(theirs, mdfDirect)).to.equal(true);
    // and a -d 31 dump refiltered with -c: the same pages, zlib
    const z = path.join(dir, 'refiltered-zlib');
    expect(cyclodump(['-c', '-d', '31', direct, z]).code).to.equal(0);
    expectSameBitmaps(z, mdfDirect);
    expect(verifyPagesAgainstVmcore(z, vmcore).lost).to.equal(0);
  });

  it('-e --work-dir: the vmemmap pages of excluded memory leave the dump (status 0x10), the rest is the vmcore\'s', function () {
    // makedumpfile 1.7.2 has no arm64 vmemmap walk ("Can't find vmemmap pages"): only our own figures here
    const out = path.join(dir, 'e.lzo');
    const r = cyclodump(['-e', '--work-dir', dir, '-l', '-d', '31', '--message-level', '23', vmcore, out]);
    expect(r.code, r.stderr).to.equal(0);
    const m = /Excluded (\d+) unused vmemmap pages/.exec(r.stdout + r.stderr);
    expect(m, 'the count of vmemmap pages excluded').to.not.equal(null);
    const e = shapeOf(out);
    expect(e.status).to.equal(0x02 | 0x10);
    expect(shapeOf(direct).dumpable - e.dumpable).to.equal(Number(m![1]));
    expect(Number(m![1])).to.be.greaterThan(1000);
    const check = verifyPagesAgainstVmcore(out, vmcore);
    expect(check.lost).to.equal(0);
    expect(check.pages).to.equal(e.dumpable);
  });

  it('info: the arm64 kernel, the panic and its log, from the vmcore and from our dump', function () {
    for (const file of [vmcore, direct]) {
      const r = cyclodump(['info', file]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/^Kernel release +: 6\.1\.0-\d+-arm64$/m);
      expect(r.stdout).to.match(/^Machine +: aarch64/m);
      expect(r.stdout).to.match(/^Pages \(4096 bytes\):$/m);
      expect(r.stdout).to.match(new RegExp(`^Panic +: ${PANIC}$`, 'm'));
    }
  });

  it('map: the page classes are the -d 31 report\'s figures', function () {
    const svg = path.join(dir, 'map.svg');
    const m = cyclodump(['map', '--json', '--message-level', '0', vmcore]);
    expect(m.code, m.stderr).to.equal(0);
    const meta = JSON.parse(m.stdout) as { maxMapnr: number; original: number; memoryHole: number; counts: Record<string, number> };
    const r = cyclodump(['-l', '-d', '31', '--dry-run', '--message-level', '16', vmcore, path.join(dir, 'x')]);
    const p = parseReport(r.stdout);
    expect(meta.maxMapnr).to.equal(p.total);
    expect(meta.original).to.equal(p.original);
    expect(meta.memoryHole).to.equal(p.memoryHole);
    expect(meta.counts.free).to.equal(p.free);
    expect(meta.counts.user).to.equal(p.user);
    expect(meta.counts.cache).to.equal(p.cache);
    expect(cyclodump(['map', '-l', '--message-level', '0', vmcore, '--svg', svg]).code).to.equal(0);
    expect(fs.readFileSync(svg, 'utf8')).to.include('<svg');
  });
});

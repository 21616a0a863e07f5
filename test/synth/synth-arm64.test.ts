// Issue 17: perf/synth's arm64 machines (4 KiB pages, 48-bit VAs, RAM from 1 GiB, the
// image in the vmalloc area, linear map with 1 GiB / 2 MiB blocks and 4 KiB pages):
// Debian's arm64 makedumpfile 1.7.2 (under qemu-user-static) counts what the generator
// says, and cyclodump counts the same and writes makedumpfile's very file.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { compareCounts, runDumpTool } from '../../perf/synth/check';
import { GenerateOptions, generateVmcore } from '../../perf/synth/generate';
import { scratchDir, sha256File } from '../helpers/fixtures';
import { BIN } from '../helpers/paths';
import { makedumpfileArm64Path, needMakedumpfileArm64 } from '../helpers/tools';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

interface Case {
  name: string;
  opts: Omit<GenerateOptions, 'out'>;
  levels: number[];
}

const CASES: Case[] = [
  // every page kind at a high rate; the levels that each take one decision row
  { name: '512 MiB, edge mix', opts: { arch: 'arm64', ramBytes: 512 * MiB, mix: 'edge', seed: 31, dataBytes: 48 * MiB }, levels: [31, 1, 2, 8, 16] },
  { name: '2 GiB, two NUMA nodes with a hole, QEMU-style p_vaddr', opts: { arch: 'arm64', ramBytes: 2 * GiB, nodes: 2, vaddr: 'phys', seed: 32, dataBytes: 48 * MiB }, levels: [31] },
  { name: '4 GiB, default mix', opts: { arch: 'arm64', ramBytes: 4 * GiB, seed: 1, dataBytes: 64 * MiB }, levels: [31] },
];

describe('synthetic arm64 vmcores (perf/synth --arch arm64)', function () {
  let dir = '';
  let mdf = '';

  before(function () {
    needMakedumpfileArm64(this);
    mdf = makedumpfileArm64Path()!;
    dir = scratchDir('synth-arm64');
  });

  after(function () {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const c of CASES) {
    it(`${c.name}: arm64 makedumpfile's counts are the generator's; cyclodump writes its file (-d ${c.levels.join(', ')})`, async function () {
      const vmcore = path.join(dir, `arm64-${c.opts.seed}.vmcore`);
      const { expected } = await generateVmcore({ ...c.opts, out: vmcore });
      assert.strictEqual(expected.generator.arch, 'arm64');
      for (const level of c.levels) {
        const ours = path.join(dir, 'cd.dump');
        const theirs = path.join(dir, 'mdf.dump');
        const m = runDumpTool(mdf, vmcore, level, theirs, ['-l'], true);
        assert.strictEqual(m.status, 0, m.output.slice(-2000));
        assert.deepStrictEqual(compareCounts(expected.levels[String(level)], m.counts!), [], `makedumpfile -d ${level}`);
        const r = runDumpTool(BIN, vmcore, level, ours, ['-l', '--pfn-order'], true);
        assert.strictEqual(r.status, 0, r.output.slice(-2000));
        assert.deepStrictEqual(compareCounts(expected.levels[String(level)], r.counts!), [], `cyclodump -d ${level}`);
        assert.strictEqual(sha256File(ours), sha256File(theirs), `-d ${level}: cyclodump's file differs from makedumpfile's`);
        fs.rmSync(ours);
        fs.rmSync(theirs);
      }
      fs.rmSync(vmcore);
      fs.rmSync(`${vmcore}.expected.json`);
    });
  }
});

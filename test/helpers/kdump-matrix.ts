// Every dump level x codec of one fixture against a live makedumpfile: its bitmaps,
// descriptor count and report, -l byte-identical, every page against the vmcore, and
// libkdumpfile reading the dump. Shared by the x86_64 and arm64 fixtures' tests.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { KdumpVmcore } from '../../src/vmcore/kdump-vmcore';
import { expectSameBitmaps, shapeOf, verifyPagesAgainstVmcore } from './compare';
import type { ReferenceMode } from './fixtures';
import { RunResult, cyclodump, libkdumpfileCheck, parseReport } from './tools';

export const LEVELS = [0, 1, 2, 4, 8, 16, 31];
export const CODECS: [string, string[], number][] = [
  ['none', [], 0], ['zlib', ['-c'], 0x01], ['lzo', ['-l'], 0x02], ['snappy', ['-p'], 0x04], ['zstd', ['-z'], 0x20],
];

export interface MatrixSetup {
  vmcore(): string;
  /** scratch directory, made by the caller's before() */
  dir(): string;
  /** the reference tool, run live */
  makedumpfile(args: string[]): RunResult;
  /** what the fixture's reference.json recorded */
  recorded(): ReferenceMode[];
}

/** One describe() per level, one it() per codec. */
export function describeLevelCodecMatrix(s: MatrixSetup): void {
  for (const level of LEVELS) {
    describe(`-d ${level}`, function () {
      let ref: string;
      let refCounts: ReturnType<typeof parseReport>;

      before(function () {
        ref = path.join(s.dir(), `mdf-d${level}.lzo`);
        const r = s.makedumpfile(['-l', '-d', String(level), '--message-level', '31', s.vmcore(), ref]);
        expect(r.code, r.stderr).to.equal(0);
        refCounts = parseReport(r.stdout);
        // the live tool agrees with the figures recorded when the fixture was made
        const recorded = s.recorded().find((m) => m.args?.join(' ') === `-d ${level} -l`);
        if (recorded?.pages) {
          expect(refCounts.zero).to.equal(recorded.pages.zero);
          expect(refCounts.free).to.equal(recorded.pages.free);
          expect(refCounts.remaining).to.equal(recorded.pages.remaining);
        }
      });

      after(function () {
        if (ref) fs.rmSync(ref, { force: true });
      });

      for (const [codec, flags, statusBit] of CODECS) {
        it(`${codec}: same bitmaps, descriptors and report; every page equals the vmcore`, function () {
          const vmcore = s.vmcore();
          const out = path.join(s.dir(), `cd-d${level}.${codec}`);
          // lzo is compared byte for byte: makedumpfile's page order; the other codecs are checked in the default order
          const order = codec === 'lzo' ? ['--pfn-order'] : [];
          const r = cyclodump([...flags, ...order, '-d', String(level), '--message-level', '31', vmcore, out]);
          expect(r.code, r.stderr).to.equal(0);
          expect(parseReport(r.stdout)).to.deep.equal(refCounts);
          expectSameBitmaps(out, ref);
          const ours = shapeOf(out);
          const theirs = shapeOf(ref);
          expect(ours.dumpable, 'descriptors').to.equal(theirs.dumpable);
          expect(ours.dumpLevel).to.equal(level);
          expect(ours.status, 'header status: the codec asked for').to.equal(statusBit);
          const check = verifyPagesAgainstVmcore(out, vmcore);
          expect(check.pages + check.lost).to.equal(ours.dumpable);
          expect(check.lost).to.equal(0);
          if (level & 1) expect(check.zeroDescs, 'zero pages share one descriptor').to.equal(refCounts.zero);
          if (codec !== 'none') expect(check.compressed, 'pages stored compressed').to.be.greaterThan(0);
          if (codec === 'lzo') {
            // same LZO1X-1 implementation: the whole file is byte-identical to makedumpfile's
            expect(fs.readFileSync(out).equals(fs.readFileSync(ref)), 'byte-identical to makedumpfile -l').to.equal(true);
          }
          expectLibkdumpfileReads(out, vmcore, level + 7);
          fs.rmSync(out, { force: true });
        });
      }
    });
  }
}

/**
 * libkdumpfile, an independent reader, gets the vmcore's bytes for present pages and
 * "no data" exactly where the 2nd bitmap says excluded.
 */
export function expectLibkdumpfileReads(dump: string, vmcore: string, seed: number): void {
  const lk = libkdumpfileCheck([dump, vmcore, '--sample', '300', '--seed', String(seed)]);
  expect(lk.code, lk.stderr).to.equal(0);
  const res = JSON.parse(lk.stdout);
  expect(res.format).to.equal('diskdump');
  expect(res.mismatches).to.equal(0);
  expect(res.errors, res.last_error).to.equal(0);
  const d = KdumpVmcore.open(dump);
  try {
    (res.pfns as string[]).forEach((hex, i) => {
      expect(res.status[i], `pfn ${hex}`).to.equal(d.isDumpable(parseInt(hex, 16)) ? 'o' : 'x');
    });
  } finally {
    d.close();
  }
}

// The C struct-page decision table and scan loop (native/pagescan.c) against the
// JavaScript ones (src/filter/page-scan.ts), on every struct page of the real fixtures,
// slice by slice as pass 1 runs them: the same pfns excluded, for the same reasons, in the
// same blocks, with the same carries into the next slice; and the C loop again with the
// next chunk of struct pages read ahead on the addon's thread (native/readahead.c). The
// dumps themselves are compared with makedumpfile elsewhere (real-1g-kdump, linux-6.12);
// this says both tables agree on every page, so that a machine without the addon dumps the
// same bytes.
import { expect } from 'chai';
import { C_CACHE, C_FREE, C_USER } from '../../src/filter/dump-level';
import { PageScanner } from '../../src/filter/page-scan';
import { closeJob, prepareDump } from '../../src/pipeline/prepare';
import { rebuildTranslator } from '../../src/translate';
import { Messages } from '../../src/util/messages';
import { fixtureVmcore } from '../helpers/fixtures';

interface ScanOutcome {
  bitmap: Uint8Array;
  /** [start, end, counter] of every exclusion; empty when the scan ran without that callback (the C loop) */
  exclusions: number[];
  counts: number[];
  carries: string;
  table: string;
}

describe('the C and JavaScript struct-page scans agree on real mem_maps', function () {
  this.timeout(120_000);

  /** C table and C loop; C table and JavaScript loop (a per-pfn callback needs it); JavaScript table and loop; C table and loop read ahead */
  async function scanFourWays(fixture: string, dumpLevel: number): Promise<ScanOutcome[]> {
    const quiet = { write: (): boolean => true };
    const job = prepareDump({ input: fixtureVmcore(fixture), dumpLevel, codec: 'none', numThreads: 1, freeMemory: 1 << 30 },
      new Messages(0, quiet, quiet));
    try {
      const setup = job.plan.scan!;
      const t = job.plan.worker.translator!;
      const run = (useNative: boolean, callback: boolean, readAhead = false): ScanOutcome => {
        const scanner = new PageScanner(setup, rebuildTranslator(job.input, t), undefined, useNative);
        if (readAhead) expect(scanner.enableReadAhead(job.input.direct!), 'the addon reads ahead').to.equal(true);
        const bitmap = new Uint8Array(Math.ceil(job.plan.maxMapnr / 8)).fill(0xff);
        const exclusions: number[] = [];
        const counts = new Array<number>(7).fill(0);
        const carries: string[] = [];
        // slices as pass 1 cuts them (multiples of 8 pfns, whole sections)
        for (let s = 0; s < job.plan.maxMapnr; s += job.plan.cycles.slicePfns) {
          const e = Math.min(s + job.plan.cycles.slicePfns, job.plan.maxMapnr);
          const view = bitmap.subarray(s / 8, Math.ceil(e / 8));
          const r = scanner.scan(s, e, view, callback ? (start, end, counter) => { exclusions.push(start, end, counter); } : undefined);
          r.counts.forEach((c, i) => { counts[i] += c; });
          for (const c of r.carries) carries.push(`${e}-${c.end}:${c.counter}`);
        }
        // read ahead: most chunks come from it (each slice's first is read here)
        if (readAhead) expect(scanner.readAheadChunks).to.be.greaterThan(job.plan.maxMapnr / 8192 / 2);
        return { bitmap, exclusions, counts, carries: carries.join(' '), table: scanner.table };
      };
      return [run(true, false), run(true, true), run(false, true), run(true, false, true)];
    } finally {
      await closeJob(job);
    }
  }

  for (const fixture of ['real-1g', 'real-6.12-1g']) {
    for (const level of [31, 1]) {
      it(`${fixture}, -d ${level}: the same exclusions, counts, carries and 2nd bitmap`, async function () {
        if (process.env.CYCLODUMP_NO_NATIVE) this.skip();
        const [cLoop, c, js, ahead] = await scanFourWays(fixture, level);
        expect(c.table, 'the native addon is not built (npm install builds it)').to.equal('native');
        expect(js.table).to.equal('javascript');
        for (const [name, o] of [['C table and loop', cLoop], ['C table', c], ['C table and loop, read ahead', ahead]] as const) {
          expect(o.counts, name).to.deep.equal(js.counts);
          expect(o.carries, name).to.equal(js.carries);
          expect(Buffer.from(o.bitmap).equals(Buffer.from(js.bitmap)), `${name}: 2nd bitmaps differ`).to.equal(true);
        }
        expect(c.exclusions.length).to.equal(js.exclusions.length);
        for (let i = 0; i < js.exclusions.length; i += 3) {
          if (c.exclusions[i] !== js.exclusions[i] || c.exclusions[i + 1] !== js.exclusions[i + 1] || c.exclusions[i + 2] !== js.exclusions[i + 2]) {
            expect.fail(`exclusion ${i / 3}: C [${c.exclusions.slice(i, i + 3)}], JavaScript [${js.exclusions.slice(i, i + 3)}]`);
          }
        }
        // not a comparison of two empty lists: at -d 31 both kernels have page cache, user
        // data and free pages (makedumpfile's counts for real-1g are in its reference.json)
        if (level === 31) {
          for (const k of [C_CACHE, C_USER, C_FREE]) expect(js.counts[k], `counter ${k}`).to.be.greaterThan(1000);
        }
      });
    }
  }
});

// The C struct-page decision table (native/pagescan.c) against the JavaScript one
// (src/filter/page-scan.ts), on every struct page of the real fixtures: the same pfns
// excluded, for the same reasons, in the same blocks. The dumps themselves are compared
// with makedumpfile elsewhere (real-1g-kdump, linux-6.12); this says both tables agree on
// every page, so that a machine without the addon dumps the same bytes.
import { expect } from 'chai';
import { C_CACHE, C_FREE, C_USER } from '../../src/filter/dump-level';
import { PageScanner } from '../../src/filter/page-scan';
import { closeJob, prepareDump } from '../../src/pipeline/prepare';
import { X86_64Translator } from '../../src/translate/x86_64';
import { Messages } from '../../src/util/messages';
import { fixtureVmcore } from '../helpers/fixtures';

interface ScanOutcome {
  bitmap: Uint8Array;
  exclusions: number[];
  counts: number[];
  table: string;
}

describe('the C and JavaScript struct-page tables agree on real mem_maps', function () {
  this.timeout(120_000);

  async function scanBoth(fixture: string, dumpLevel: number): Promise<[ScanOutcome, ScanOutcome]> {
    const quiet = { write: (): boolean => true };
    const job = prepareDump({ input: fixtureVmcore(fixture), dumpLevel, codec: 'none', numThreads: 1, freeMemory: 1 << 30 },
      new Messages(0, quiet, quiet));
    try {
      const setup = job.scanSetup!;
      const t = job.workerSetup.translator!;
      const run = (useNative: boolean): ScanOutcome => {
        const scanner = new PageScanner(setup, new X86_64Translator(job.vm, t.rootPa, t.fiveLevel, t.smeMask), undefined, useNative);
        const bitmap = new Uint8Array(Math.ceil(job.maxMapnr / 8)).fill(0xff);
        const exclusions: number[] = [];
        const r = scanner.scan(0, job.maxMapnr, bitmap, (start, end, counter) => { exclusions.push(start, end, counter); });
        return { bitmap, exclusions, counts: Array.from(r.counts), table: scanner.table };
      };
      return [run(true), run(false)];
    } finally {
      await closeJob(job);
    }
  }

  for (const fixture of ['real-1g', 'real-6.12-1g']) {
    for (const level of [31, 1]) {
      it(`${fixture}, -d ${level}: the same exclusions, counts and 2nd bitmap`, async function () {
        if (process.env.CYCLODUMP_NO_NATIVE) this.skip();
        const [c, js] = await scanBoth(fixture, level);
        expect(c.table, 'the native addon is not built (npm install builds it)').to.equal('native');
        expect(js.table).to.equal('javascript');
        expect(c.counts).to.deep.equal(js.counts);
        expect(c.exclusions.length).to.equal(js.exclusions.length);
        expect(Buffer.from(c.bitmap).equals(Buffer.from(js.bitmap)), '2nd bitmaps differ').to.equal(true);
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

// The bad-input corpus (test/corpus, made by make-corpus.ts): every file is named after
// the DumpError code it must produce (CODE--what.ext). Run through the library, it must
// fail with that code and the message of expected.json; run as a command, it must exit as
// makedumpfile does (1), print exactly that one line on stderr, no stack, and leave no
// output file.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { runDump } from '../../src/pipeline/dump';
import { DumpError } from '../../src/util/errors';
import { Messages } from '../../src/util/messages';
import type { Expected } from '../corpus/make-corpus';
import { errorLines } from '../helpers/faults';
import { scratchDir } from '../helpers/fixtures';
import { REPO } from '../helpers/paths';
import { cyclodump } from '../helpers/tools';

const CORPUS = path.join(REPO, 'test', 'corpus');

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('bad-input corpus: each file fails with the error it is named after', function () {
  const expected = JSON.parse(fs.readFileSync(path.join(CORPUS, 'expected.json'), 'utf8')) as Record<string, Expected>;
  const files = fs.readdirSync(CORPUS).filter((f) => f.includes('--')).sort();
  let dir: string;

  before(function () {
    dir = scratchDir('corpus');
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('every file has an expectation and every expectation a file', function () {
    expect(files.length).to.be.at.least(40);
    expect(Object.keys(expected).sort()).to.deep.equal(files);
  });

  for (const name of files) {
    const code = name.slice(0, name.indexOf('--'));
    it(`${name}: ${code}`, async function () {
      const exp = expected[name];
      const input = path.join(CORPUS, name);
      const pattern = new RegExp(exp.message.split('FILE').map((part) => part).join(escape(input)));
      const quiet = { write: (): boolean => true };
      let err: unknown;
      try {
        const r = await runDump({
          input, dumpLevel: exp.level, codec: 'lzo', dryRun: true, force: true, numThreads: 1, freeMemory: 1 << 30,
        }, new Messages(0, quiet, quiet));
        err = r.error;
      } catch (e) {
        err = e;
      }
      expect(err, 'a DumpError').to.be.instanceOf(DumpError);
      const de = err as DumpError;
      expect(de.code).to.equal(code);
      expect(de.message).to.match(pattern);
      expect(de.message).to.not.contain('\n');

      const out = path.join(dir, 'out');
      const r = cyclodump(['-l', '-d', String(exp.level), input, out]);
      expect(r.code, r.stderr).to.equal(de.exitCode);
      expect(de.exitCode).to.equal(1);
      expect(errorLines(r.stderr)).to.deep.equal([`cyclodump: ${de.message}`]);
      expect(r.stderr).to.not.match(/\n\s+at /);
      expect(fs.existsSync(out), 'no output file').to.equal(false);
    });
  }
});

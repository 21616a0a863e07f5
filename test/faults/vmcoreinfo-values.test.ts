// VMCOREINFO values, mutated one at a time on real dumps: a run that ends without error
// must not exclude a page the run with the true VMCOREINFO keeps, unless the mutated value
// is on the accept-list below, each entry with the reason no check can tell it from the
// truth (issue 20, "never exclude what cannot be proved excludable").
//
// The keys mutated are every SIZE, OFFSET, LENGTH and NUMBER the run itself looked up (and
// PAGESIZE), taken from the kernel model of the clean run, so a key the filter starts to
// read is fuzzed without a change here. Each run is in this process: prepare and pass 1
// at -d 31 with the mutated text given as -i gives it, and the 2nd bitmap compared pfn by
// pfn with the clean run's.
//
// The default run takes a fixed sample (CYCLODUMP_VALUE_FUZZ_SAMPLE pairs per dump, 60);
// CYCLODUMP_VALUE_FUZZ=all runs every (key, mutation) pair and prints the figures.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { closeJob, prepareDump } from '../../src/pipeline/prepare';
import { cycleBuffer, scanPass } from '../../src/pipeline/scan-pass';
import { DumpError } from '../../src/util/errors';
import { Messages } from '../../src/util/messages';
import { TYPE_ERAS } from '../../src/kernel/plausibility';
import { openInput } from '../../src/vmcore/open';
import { builtinVmcore, fixtureVmcore, scratchDir } from '../helpers/fixtures';
import { cyclodump } from '../helpers/tools';

const ALL = process.env.CYCLODUMP_VALUE_FUZZ === 'all';
const SAMPLE = Number(process.env.CYCLODUMP_VALUE_FUZZ_SAMPLE ?? 60);

interface Mutation {
  name: string;
  /** the new value text, or undefined when it would equal the old one */
  value(v: bigint): string | undefined;
  /** the key given a second time instead of replaced */
  twice?: boolean;
}

const n = (f: (v: bigint) => bigint) => (v: bigint): string => String(f(v));
export const MUTATIONS: Mutation[] = [
  { name: 'zero', value: n(() => 0n) },
  { name: '-1', value: n(() => -1n) },
  { name: 'INT_MIN', value: n(() => -(2n ** 31n)) },
  { name: '2^40', value: n(() => 2n ** 40n) },
  { name: '+1', value: n((v) => v + 1n) },
  { name: '-1 rel', value: n((v) => v - 1n) },
  { name: '+8', value: n((v) => v + 8n) },
  { name: '-8', value: n((v) => v - 8n) },
  { name: 'double', value: n((v) => v * 2n) },
  { name: 'negated', value: n((v) => -v) },
  { name: 'bit 8 flipped', value: n((v) => BigInt.asIntN(32, v ^ 0x100n)) },
  { name: 'bit 24 flipped', value: n((v) => BigInt.asIntN(32, v ^ 0x1000000n)) },
  // page-type values of each generation of kernels (kernel/plausibility.ts TYPE_ERAS)
  ...TYPE_ERAS.flatMap((e) => Object.entries(e).filter(([k]) => k !== 'name')
    .map(([k, v]) => ({ name: `${k} of ${e.name}`, value: () => String(v) }))),
  { name: 'not a number', value: () => 'abc' },
  { name: 'given twice', value: n((v) => v + 1n), twice: true },
];

/** The PG_* numbers of a VMCOREINFO text (PG_head_mask as its bit number). */
function flagNumbers(text: string): Map<string, number> {
  const flags = new Map<string, number>();
  for (const l of text.split('\n')) {
    const m = /^NUMBER\((PG_\w+)\)=(-?\d+)$/.exec(l);
    if (!m) continue;
    const v = BigInt(m[2]);
    flags.set(m[1], m[1] === 'PG_head_mask' ? (v > 0n && (v & (v - 1n)) === 0n ? v.toString(2).length - 1 : -1) : Number(v));
  }
  return flags;
}

/**
 * Mutated values that pass every check and exclude pages the true value keeps: values
 * another kernel really has, which nothing in the value itself tells from the truth.
 * `accepts(key, value, text)` says whether the mutated text is one; `reason` why no check
 * can tell it from the truth.
 */
export const ACCEPTED: { what: string; accepts(key: string, value: string, text: string): boolean; reason: string }[] = [
  {
    what: 'a page flag number moved to another bit of [4, 28) that no other exported flag has',
    accepts(key, _value, text) {
      const name = /^NUMBER\((PG_\w+)\)$/.exec(key)?.[1];
      if (!name) return false;
      const flags = flagNumbers(text);
      const bit = flags.get(name)!;
      return bit >= 4 && bit < 28 && [...flags].every(([k, b]) => k === name || b !== bit);
    },
    reason: 'flag numbers differ between kernels (PG_lru is 4 on 6.1 and 5 on 6.12, PG_head 16 and 6, PG_hwpoison 23, 22 on arm64 '
      + 'and 20): a bit of the flags word that no other exported flag has is some kernel\'s flag, and only that kernel\'s '
      + 'page-flags.h, which a dump does not carry, says which. The struct pages cannot either: a flag set on many pages is '
      + 'as likely PG_lru as PG_reserved',
  },
];

interface Outcome {
  kind: 'refused' | 'same' | 'kept more' | 'excluded more';
  /** pages the clean run keeps and this one excludes */
  extra: number;
  code?: string;
}

/** prepare + pass 1 at -d 31 with this VMCOREINFO; the 2nd bitmap, and the keys the run read. */
async function pass1(input: string, vmcoreinfoText: string): Promise<{ bits: Uint8Array; keys: Set<string> }> {
  const quiet = { write: (): boolean => true };
  const job = prepareDump({
    input, dumpLevel: 31, codec: 'none', numThreads: 1, freeMemory: 1 << 30, vmcoreinfoText, vmcoreinfoFile: 'mutated',
  }, new Messages(0, quiet, quiet));
  try {
    const bitmap = await scanPass(job);
    const { plan } = job;
    const bits = new Uint8Array(Math.ceil(plan.maxMapnr / 8));
    const bm = cycleBuffer(plan);
    for (let c = 0; c < plan.numCycles; c++) {
      const cy = await bitmap.read(c, bm);
      bits.set(bm.subarray(0, Math.ceil((cy.end - cy.start) / 8)), cy.start / 8);
    }
    return { bits, keys: job.kernel.vmcoreinfo!.keysRead };
  } finally {
    await closeJob(job);
  }
}

function compare(clean: Uint8Array, got: Uint8Array): Outcome {
  let extra = 0;
  let more = 0;
  for (let i = 0; i < clean.length; i++) {
    const c = clean[i];
    const g = i < got.length ? got[i] : 0;
    if (c === g) continue;
    extra += POP[c & ~g & 0xff];
    more += POP[g & ~c & 0xff];
  }
  if (extra > 0) return { kind: 'excluded more', extra };
  return { kind: more > 0 || got.length !== clean.length ? 'kept more' : 'same', extra: 0 };
}

const POP = new Uint8Array(256);
for (let i = 0; i < 256; i++) POP[i] = (i & 1) + POP[i >> 1];

/** The text with KEY's value replaced (or the key given again). */
function mutate(text: string, key: string, value: string, twice: boolean): string {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => l.startsWith(`${key}=`));
  if (twice) lines.splice(at + 1, 0, `${key}=${value}`);
  else lines[at] = `${key}=${value}`;
  return lines.join('\n');
}

/** A fixed pseudo-random sample (the same every run). */
function sample<T>(all: T[], count: number, seed: number): T[] {
  if (count >= all.length) return all;
  let s = seed >>> 0;
  const rnd = (): number => {
    s = (s * 1103515245 + 12345) >>> 0;
    return s / 2 ** 32;
  };
  const copy = [...all];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy.slice(0, count);
}

const NUMERIC = /^(SIZE|OFFSET|LENGTH|NUMBER)\(|^PAGESIZE$/;

for (const [name, file] of [['built-in small vmcore', builtinVmcore], ['real-1g', () => fixtureVmcore('real-1g')]] as const) {
  describe(`VMCOREINFO values fuzzed on the ${name}: no page excluded on the word of a value no check can prove`, function () {
    this.timeout(ALL ? 3_600_000 : 120_000);
    let input: string;
    let text: string;
    let clean: Uint8Array;
    let keys: string[];

    before(async function () {
      input = file();
      const i = openInput(input);
      text = i.vmcoreinfo!.text;
      i.close();
      const r = await pass1(input, text);
      clean = r.bits;
      const present = new Set(text.split('\n').map((l) => l.slice(0, l.indexOf('='))));
      keys = [...r.keys].filter((k) => NUMERIC.test(k) && present.has(k)).sort();
    });

    it('reads at least the struct page and page-type keys', function () {
      for (const k of ['SIZE(page)', 'OFFSET(page.flags)', 'NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)', 'NUMBER(PG_lru)', 'LENGTH(zone.free_area)']) {
        expect(keys).to.include(k);
      }
    });

    it(ALL ? 'every (key, mutation) pair' : `${SAMPLE} (key, mutation) pairs of a fixed sample (CYCLODUMP_VALUE_FUZZ=all for every pair)`, async function () {
      const pairs: [string, Mutation][] = [];
      for (const k of keys) for (const m of MUTATIONS) pairs.push([k, m]);
      const chosen = ALL ? pairs : sample(pairs, SAMPLE, 20261206);
      const tally = new Map<string, number>();
      const failures: string[] = [];
      const accepted: string[] = [];
      const t0 = Date.now();
      for (const [key, m] of chosen) {
        const old = text.split('\n').find((l) => l.startsWith(`${key}=`))!.slice(key.length + 1);
        let v: bigint;
        try {
          v = BigInt(old.trim());
        } catch {
          continue;
        }
        const value = m.value(v);
        if (value === undefined || value === old) continue;
        let outcome: Outcome;
        try {
          const r = await pass1(input, mutate(text, key, value, !!m.twice));
          outcome = compare(clean, r.bits);
        } catch (e) {
          if (!(e instanceof DumpError) || e.code === 'internal') throw e;
          outcome = { kind: 'refused', extra: 0, code: e.code };
        }
        tally.set(outcome.kind, (tally.get(outcome.kind) ?? 0) + 1);
        if (outcome.kind !== 'excluded more') continue;
        const what = `${key} ${m.name} (${value}): ${outcome.extra} pages excluded that the true value keeps`;
        const mutated = mutate(text, key, value, !!m.twice);
        if (ACCEPTED.some((a) => a.accepts(key, value, mutated))) accepted.push(what);
        else failures.push(what);
      }
      const secs = ((Date.now() - t0) / 1000).toFixed(1);
      console.log(`      ${chosen.length} pairs over ${keys.length} keys in ${secs} s: ${[...tally].map(([k, c]) => `${k} ${c}`).join(', ')}`);
      if (accepted.length > 0) console.log(`      accepted (on the list):\n        ${accepted.join('\n        ')}`);
      if (process.env.CYCLODUMP_VALUE_FUZZ_OUT) fs.writeFileSync(process.env.CYCLODUMP_VALUE_FUZZ_OUT, JSON.stringify({ tally: [...tally], accepted, failures }, null, 2));
      expect(failures, failures.join('\n')).to.deep.equal([]);
    });
  });
}

describe('issue 20 row 9: the implausible page-type values of the issue keep their pages, with a warning', function () {
  this.timeout(120_000);
  let input: string;
  let text: string;
  let clean: Uint8Array;

  before(async function () {
    input = builtinVmcore();
    const i = openInput(input);
    text = i.vmcoreinfo!.text;
    i.close();
    clean = (await pass1(input, text)).bits;
  });

  for (const [key, value] of [
    ['NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)', '0'], ['NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)', '-1'],
    ['NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)', '-2147483648'], ['NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)', '-1'],
  ]) {
    it(`${key}=${value}: not a page more excluded than with the true value`, async function () {
      const r = await pass1(input, mutate(text, key, value, false));
      expect(compare(clean, r.bits).kind).to.be.oneOf(['same', 'kept more']);
    });
  }

  it('through -i on the command line: exit 0, one warning line naming the value', function () {
    const dir = scratchDir('row9');
    try {
      const vi = path.join(dir, 'vmcoreinfo');
      fs.writeFileSync(vi, mutate(text, 'NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)', '0', false), 'latin1');
      const r = cyclodump(['-l', '-d', '31', '--dry-run', '-i', vi, input, path.join(dir, 'out')]);
      expect(r.code, r.stderr).to.equal(0);
      const warnings = (r.stdout + r.stderr).split('\n').filter((l) => l.startsWith('warning:'));
      expect(warnings).to.have.length(1);
      expect(warnings[0]).to.match(/NUMBER\(PAGE_BUDDY_MAPCOUNT_VALUE\)=0 is not a value any kernel has exported.*free, offline pages are kept/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

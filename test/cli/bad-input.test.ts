// Bad input ends in one line on stderr naming the problem, exit status 1 as makedumpfile's,
// no stack trace, and no output file left behind.
import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { encodeNotes, notesOf, writeElfVmcore } from '../helpers/elf-builder';
import { fixtureVmcore, scratchDir } from '../helpers/fixtures';
import { cyclodump, makedumpfile } from '../helpers/tools';

function expectOneLineFailure(stderr: string, pattern: RegExp): void {
  const lines = stderr.split('\n').filter((l) => l && !l.startsWith('Dumping:'));
  expect(lines, stderr).to.have.length(1);
  expect(lines[0]).to.match(pattern);
  expect(stderr).to.not.match(/\n\s+at /);
}

describe('bad input: clear one-line errors, makedumpfile exit status, no output', function () {
  let dir: string;
  let notes: Buffer;

  before(function () {
    dir = scratchDir('bad-input');
    notes = notesOf(fixtureVmcore('real-1g'));
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const cases: { name: string; make: (f: string) => void; error: RegExp; level?: string }[] = [
    {
      name: 'not an ELF file',
      make: (f) => fs.writeFileSync(f, Buffer.from('this is a text file, not a crash dump\n'.repeat(100))),
      error: /is not an ELF file/,
    },
    {
      name: 'a truncated vmcore (PT_LOAD past the end of the file)',
      make: (f) => writeElfVmcore(f, { notes, loads: [{ paddr: 0, data: Buffer.alloc(1 << 20, 1) }], truncateTo: 300_000 }),
      error: /is truncated: PT_LOAD 0 .* needs file bytes up to \d+, file has 300000/,
    },
    {
      name: 'no VMCOREINFO note',
      make: (f) => writeElfVmcore(f, {
        notes: encodeNotes([{ name: 'CORE', type: 1, desc: Buffer.alloc(336) }]),
        loads: [{ paddr: 0, data: Buffer.alloc(64 * 4096, 7) }],
      }),
      error: /has no VMCOREINFO note: dump level 31 needs it/,
    },
    {
      name: 'an unsupported architecture (riscv)',
      make: (f) => writeElfVmcore(f, { notes, loads: [{ paddr: 0, data: Buffer.alloc(64 * 4096) }], machine: 243 }),
      error: /unsupported architecture riscv; cyclodump supports x86_64 and arm64 only/,
    },
    {
      name: 'a 32-bit ELF file',
      make: (f) => {
        writeElfVmcore(f, { notes, loads: [{ paddr: 0, data: Buffer.alloc(4096) }] });
        const b = fs.readFileSync(f);
        b[4] = 1;
        fs.writeFileSync(f, b);
      },
      error: /is a 32-bit ELF file/,
    },
    {
      name: 'an empty file',
      make: (f) => fs.writeFileSync(f, ''),
      error: /is not an ELF file/,
    },
  ];

  for (const c of cases) {
    it(`${c.name}: exits 1 like makedumpfile, says so in one line, leaves no file`, function () {
      const input = path.join(dir, c.name.replace(/\W+/g, '_'));
      c.make(input);
      const out = path.join(dir, 'out.kdump');
      const r = cyclodump(['-l', '-d', c.level ?? '31', input, out]);
      expect(r.code).to.equal(1);
      expectOneLineFailure(r.stderr, c.error);
      expect(fs.existsSync(out), 'no output file').to.equal(false);
      const m = makedumpfile(['-l', '-d', c.level ?? '31', input, out]);
      expect(m.code, 'makedumpfile fails too').to.equal(1);
      fs.rmSync(out, { force: true });
    });
  }

  it('without VMCOREINFO, -d 1 still works and matches makedumpfile byte for byte', function () {
    const input = path.join(dir, 'novmcoreinfo');
    const data = Buffer.alloc(64 * 4096);
    for (let i = 0; i < 64; i += 3) data.write(`page ${i}`, i * 4096);
    writeElfVmcore(input, { notes: encodeNotes([{ name: 'CORE', type: 1, desc: Buffer.alloc(336) }]), loads: [{ paddr: 0, data }] });
    const ours = path.join(dir, 'ours');
    const theirs = path.join(dir, 'theirs');
    expect(cyclodump(['-l', '-d', '1', input, ours]).code).to.equal(0);
    expect(makedumpfile(['-l', '-d', '1', input, theirs]).code).to.equal(0);
    expect(fs.readFileSync(ours).equals(fs.readFileSync(theirs))).to.equal(true);
  });

  it('refuses to overwrite an existing dump file without -f', function () {
    const input = fixtureVmcore('real-1g');
    const out = path.join(dir, 'exists');
    fs.writeFileSync(out, 'keep me');
    const r = cyclodump(['-l', '-d', '31', input, out]);
    expect(r.code).to.equal(1);
    expectOneLineFailure(r.stderr, /file exists \(use -f to overwrite\)/);
    expect(fs.readFileSync(out, 'utf8')).to.equal('keep me');
  });

  it('rejects unknown options and bad dump levels with a usage line', function () {
    const a = cyclodump(['--no-such-option', 'a', 'b']);
    expect(a.code).to.equal(1);
    expect(a.stderr).to.match(/unknown option '--no-such-option'/);
    const b = cyclodump(['-d', '32', 'a', 'b']);
    expect(b.code).to.equal(1);
    // makedumpfile's own wording (parse_dump_level)
    expect(b.stderr).to.match(/Dump_level\(32\) is invalid\./);
  });
});

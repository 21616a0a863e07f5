// Issue 8: the man page is made from the option table that --help is made from: every
// option and command --help shows is in it, and it renders without warnings.
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { helpText } from '../../src/cli/help';
import { manPage } from '../../src/cli/manpage';
import { OPTIONS, SUBCOMMANDS, optionSynopsis } from '../../src/cli/options';
import { REPO } from '../helpers/paths';

/** The man page's text with roff escapes and requests undone, one line per source line. */
function plain(src: string): string {
  return src.split('\n').map((l) => l.replace(/^\.(TP|PP|nf|fi|TH.*|SH |SS |B )/, '')
    .replace(/\\f[BRI]/g, '').replace(/\\-/g, '-').replace(/\\e/g, '\\').replace(/\\&/g, '')).join('\n');
}

describe('man page', function () {
  const src = manPage();
  const text = plain(src);

  it('has every option and command --help shows, with its help text', function () {
    const help = helpText();
    const shown = help.split('\n').filter((l) => /^ {2}-/.test(l)).map((l) => l.trim().replace(/ +\(cyclodump\)$/, ''));
    expect(shown.length).to.be.greaterThan(30);
    for (const s of shown) {
      // refused options are shown as "SYNOPSIS: reason"
      for (const part of s.split(': ')) expect(text, s).to.include(part);
    }
    for (const o of OPTIONS) {
      if (o.status !== 'unsupported') expect(text, o.help).to.include(o.help);
      else expect(text).to.include(`${optionSynopsis(o)}`);
    }
    for (const c of SUBCOMMANDS) {
      expect(help).to.include(c.synopsis);
      expect(text).to.include(c.synopsis);
      for (const o of c.options) {
        expect(help).to.include(optionSynopsis(o));
        expect(text).to.include(optionSynopsis(o));
      }
    }
  });

  it('is the file the build wrote', function () {
    expect(fs.readFileSync(path.join(REPO, 'dist', 'man', 'cyclodump.1'), 'utf8')).to.equal(src);
  });

  it('renders with man(1) without a warning', function () {
    const man = ['/usr/bin/man'].find((m) => fs.existsSync(m));
    if (!man) this.skip();
    const f = path.join(os.tmpdir(), `cyclodump-${process.pid}.1`);
    fs.writeFileSync(f, src);
    try {
      const r = spawnSync(man!, ['--warnings', '-l', f], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '200', MAN_KEEP_FORMATTING: '' } });
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stderr).to.equal('');
      for (const o of OPTIONS.filter((x) => x.status !== 'unsupported')) {
        expect(r.stdout.replace(/\u2010/g, '-'), optionSynopsis(o)).to.include(optionSynopsis(o).split(', ').pop()!.split(' ')[0]);
      }
    } finally {
      fs.rmSync(f, { force: true });
    }
  });
});

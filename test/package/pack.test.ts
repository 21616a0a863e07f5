// Issue 8: the npm package. It holds the programs, the worker, the man page and the report
// schema and nothing of the tests; installed into an empty directory without dev
// dependencies (the native addon built from source there, its header generated from
// dist/src) it runs as `cyclodump` and writes the same dump as the repository's build.
// `npm pack` would run prepack, a full build, which would replace dist/ while mocha runs
// from it: the package is packed from the build under test instead (--ignore-scripts).
// Its bin/cyclodump is the sh/JavaScript polyglot; the install script compiles
// native/launcher.c over it (native/build-launcher.js), and an install without scripts
// keeps the polyglot: either way `cyclodump` runs.
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { expectSameBitmaps, verifyPagesAgainstVmcore } from '../helpers/compare';
import { builtinVmcore, scratchDir } from '../helpers/fixtures';
import { REPO } from '../helpers/paths';
import { cyclodump } from '../helpers/tools';

function run(cmd: string, args: string[], cwd: string, timeout = 900_000) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout, maxBuffer: 64 << 20, env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false' } });
  if (r.error) throw r.error;
  return r;
}

describe('npm package', function () {
  let dir: string;
  let tarball: string;
  let inst: string;

  before(function () {
    dir = scratchDir('pack');
    const r = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], REPO);
    expect(r.status, r.stderr).to.equal(0);
    const info = JSON.parse(r.stdout) as { filename: string }[];
    tarball = path.join(dir, info[0].filename);
    expect(fs.existsSync(tarball)).to.equal(true);
  });

  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('holds the programs, the worker, the man page and the schema, and no tests, sources or maps', function () {
    const files = run('tar', ['tzf', tarball], dir).stdout.trim().split('\n');
    for (const f of ['package/bin/cyclodump', 'package/bin/cyclodump.js', 'package/native/launcher.c', 'package/native/build-launcher.js', 'package/package.json', 'package/README.md', 'package/dist/src/cli/main.js',
      'package/dist/workers/dump-worker.js', 'package/dist/cyclodump.js', 'package/dist/man/cyclodump.1', 'package/schemas/report.schema.json']) {
      expect(files, f).to.include(f);
    }
    expect(files.filter((f) => f.startsWith('package/dist/test/') || f.startsWith('package/src/') || f.startsWith('package/test/'))).to.deep.equal([]);
    expect(files.filter((f) => f.endsWith('.map') || f.endsWith('.ts'))).to.deep.equal([]);
    const pkg = JSON.parse(run('tar', ['xzOf', tarball, 'package/package.json'], dir).stdout) as { man: string; bin: Record<string, string> };
    expect(files).to.include(`package/${pkg.man.replace(/^\.\//, '')}`);
    expect(pkg.bin.cyclodump).to.equal('bin/cyclodump');
    expect(files.filter((f) => f.startsWith('package/build/')), 'no launcher built here').to.deep.equal([]);
    expect(run('tar', ['xzOf', tarball, 'package/bin/cyclodump'], dir).stdout).to.match(/^#!\/bin\/sh\n/);
  });

  it('installs into an empty directory without dev dependencies and runs as cyclodump', function () {
    inst = path.join(dir, 'install');
    fs.mkdirSync(inst);
    // an operator's project: it approves the install scripts that build the native codecs
    fs.writeFileSync(path.join(inst, 'package.json'), JSON.stringify({
      name: 'cyclodump-install-check', private: true, allowScripts: { cyclodump: true, lzo: true, 'zstd-napi': true },
    }));
    const r = run('npm', ['install', tarball, '--omit=dev', '--no-audit', '--no-fund'], inst);
    expect(r.status, r.stderr).to.equal(0);
    const mods = path.join(inst, 'node_modules');
    for (const dev of ['typescript', 'mocha', 'chai', 'ajv', 'fast-check']) expect(fs.existsSync(path.join(mods, dev)), dev).to.equal(false);
    const bin = path.join(mods, '.bin', 'cyclodump');
    const v = run(bin, ['-v'], inst);
    expect(v.status, v.stderr).to.equal(0);
    const version = (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
    expect(v.stdout).to.equal(`cyclodump: version ${version} (makedumpfile 1.7.2 compatible)\n`);
    expect(fs.existsSync(path.join(mods, 'cyclodump', 'dist', 'man', 'cyclodump.1'))).to.equal(true);
    // the compiled launcher, through npm's bin link, and the line it gives where no shell can
    expect(fs.readFileSync(fs.realpathSync(bin)).subarray(0, 4).toString('latin1'), 'an ELF launcher').to.equal('\x7fELF');
    const few = run('dash', ['-c', 'ulimit -n 8; exec "$0" -v', bin], inst);
    expect([few.status, few.stderr]).to.deep.equal([1, 'cyclodump: too few file descriptors: the limit is 8 (ulimit -n) and a dump needs at least 21\n']);
  });

  it('installed without scripts, it keeps the polyglot and runs as cyclodump', function () {
    const plain = path.join(dir, 'install-no-scripts');
    fs.mkdirSync(plain);
    fs.writeFileSync(path.join(plain, 'package.json'), JSON.stringify({ name: 'cyclodump-install-plain', private: true }));
    const r = run('npm', ['install', tarball, '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], plain);
    expect(r.status, r.stderr).to.equal(0);
    const bin = path.join(plain, 'node_modules', '.bin', 'cyclodump');
    expect(fs.readFileSync(fs.realpathSync(bin), 'latin1')).to.match(/^#!\/bin\/sh\n/);
    const v = run(bin, ['-v'], plain);
    expect(v.status, v.stderr).to.equal(0);
    expect(v.stdout).to.match(/^cyclodump: version /);
  });

  it('the installed cyclodump writes the dump the repository\'s build writes (worker threads, lzo and zstd built on install)', function () {
    if (!inst) this.skip();
    const vmcore = builtinVmcore();
    const bin = path.join(inst, 'node_modules', '.bin', 'cyclodump');
    for (const codec of ['-l', '-z']) {
      const ours = path.join(dir, `installed${codec}.dump`);
      const ref = path.join(dir, `repo${codec}.dump`);
      const r = run(bin, [codec, '-d', '31', '--num-threads', '2', '--message-level', '23', vmcore, ours], inst);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.include('cyclodump Completed.');
      expect(cyclodump([codec, '-d', '31', '--num-threads', '2', '--message-level', '0', vmcore, ref]).code).to.equal(0);
      if (codec === '-l') {
        // LZO1X-1 is one algorithm: the same bytes
        expect(fs.readFileSync(ours).equals(fs.readFileSync(ref)), `${codec}: same file`).to.equal(true);
      } else {
        // zstd may be a newer release in the fresh install: same bitmaps, every page right
        expectSameBitmaps(ours, ref);
        const check = verifyPagesAgainstVmcore(ours, vmcore);
        expect(check.lost).to.equal(0);
        expect(check.compressed).to.be.greaterThan(0);
      }
    }
    const info = run(bin, ['info', path.join(dir, 'installed-l.dump')], inst);
    expect(info.status, info.stderr).to.equal(0);
    expect(info.stdout).to.match(/^Panic +: Kernel panic - not syncing: sysrq triggered crash$/m);
  });
});

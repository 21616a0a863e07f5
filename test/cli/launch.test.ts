// bin/cyclodump runs the CLI from the build's one-file bundle with V8's code cache
// (src/cli/launch.ts, startup-bundle.ts): the same program as dist/src's modules, loaded
// faster. These check that it is the same program and that a cache is only ever used
// with the bundle it was made from.
import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BUNDLE_FILE, CODE_CACHE_FILE, bundleId, bundleIsCurrent, readCodeCache } from '../../src/cli/launch';
import { builtinVmcore, scratchDir } from '../helpers/fixtures';
import { REPO } from '../helpers/paths';
import { cyclodump } from '../helpers/tools';

describe('start-up bundle', function () {
  let dir: string;
  before(function () {
    dir = scratchDir('launch');
  });
  after(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the build made the bundle and a code cache for it, and V8 takes that cache', function () {
    const source = fs.readFileSync(BUNDLE_FILE, 'utf8');
    const id = bundleId(source);
    expect(id).to.match(/^[0-9a-f]{16}$/);
    expect(readCodeCache(id!)).to.be.instanceOf(Buffer);
    // in a fresh process: the bundle's modules are a second copy of the CLI's
    const script = `const l = require(${JSON.stringify(path.join(REPO, 'dist/src/cli/launch.js'))});
      const s = require('fs').readFileSync(l.BUNDLE_FILE, 'utf8');
      const r = l.runBundle(s, l.readCodeCache(l.bundleId(s)));
      process.stdout.write(JSON.stringify({ cached: r.cached, main: typeof r.cli.main }));`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.deep.equal({ cached: true, main: 'function' });
  });

  it('a cache made for another bundle is not used', function () {
    const source = fs.readFileSync(BUNDLE_FILE, 'utf8');
    const id = bundleId(source)!;
    const cache = fs.readFileSync(CODE_CACHE_FILE);
    const other = path.join(dir, 'other.cache');
    // V8 would take it: same length, same V8, same flags. The id line is what refuses it.
    const otherId = id.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    fs.writeFileSync(other, Buffer.concat([Buffer.from(otherId, 'latin1'), cache.subarray(id.length)]));
    expect(readCodeCache(id, other)).to.equal(undefined);
    expect(readCodeCache(otherId, other)).to.be.instanceOf(Buffer);
    expect(readCodeCache(id, path.join(dir, 'absent.cache'))).to.equal(undefined);
  });

  it('the bundle is not used once tsc has compiled after it (a developer\'s `npx tsc`), nor when absent', function () {
    const bundle = path.join(dir, 'b.js');
    const info = path.join(dir, '.tsbuildinfo');
    fs.writeFileSync(bundle, '');
    fs.writeFileSync(info, '');
    fs.utimesSync(info, 1000, 1000);
    fs.utimesSync(bundle, 2000, 2000);
    expect(bundleIsCurrent(bundle, info)).to.equal(true);
    fs.utimesSync(info, 3000, 3000);
    expect(bundleIsCurrent(bundle, info)).to.equal(false);
    // an installed package has no build info
    expect(bundleIsCurrent(bundle, path.join(dir, 'absent'))).to.equal(true);
    expect(bundleIsCurrent(path.join(dir, 'absent.js'), info)).to.equal(false);
    // and this build's own bundle is current
    expect(bundleIsCurrent()).to.equal(true);
  });

  it('commander gets a stand-in for child_process: loaded by no dump, the real module on first use', function () {
    const script = `const l = require(${JSON.stringify(path.join(REPO, 'dist/src/cli/launch.js'))});
      const s = require('fs').readFileSync(l.BUNDLE_FILE, 'utf8');
      l.runBundle(s, l.readCodeCache(l.bundleId(s)));
      const before = process.moduleLoadList.includes('NativeModule child_process');
      process.stdout.write(JSON.stringify({ before }));`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.deep.equal({ before: false });
    // the stand-in's spawn is the real one: commander runs an executable subcommand with it
    // (its text made in one process, as the build makes it, and run in another)
    const made = spawnSync(process.execPath, ['-e', `process.stdout.write(require(${JSON.stringify(path.join(REPO, 'dist/src/cli/startup-bundle.js'))}).lazyBuiltinSource('node:child_process'))`], { encoding: 'utf8' });
    expect(made.status, made.stderr).to.equal(0);
    const probe = `const m = { exports: {} };
      new Function('module', 'require', ${JSON.stringify(made.stdout)})(m, require);
      const first = process.moduleLoadList.includes('NativeModule child_process');
      const same = m.exports.spawn === require('child_process').spawn && m.exports.execFileSync === require('child_process').execFileSync;
      process.stdout.write(JSON.stringify({ first, same }));`;
    const p = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8' });
    expect(p.status, p.stderr).to.equal(0);
    expect(JSON.parse(p.stdout)).to.deep.equal({ first: false, same: true });
    // and the bundle hands commander that stand-in
    expect(fs.readFileSync(BUNDLE_FILE, 'utf8')).to.match(/\/\/ lazy-builtin:node:child_process\n/);
  });

  it('writes, through the bundle, the very file dist/src\'s modules write', function () {
    const vmcore = builtinVmcore();
    const viaBundle = path.join(dir, 'bundle.dump');
    const viaModules = path.join(dir, 'modules.dump');
    const args = ['-l', '-d', '31', '--num-threads', '1', '--message-level', '0'];
    expect(cyclodump([...args, vmcore, viaBundle]).code).to.equal(0);
    const script = `require(${JSON.stringify(path.join(REPO, 'dist/src/cli/main.js'))}).main(${JSON.stringify([...args, vmcore, viaModules])})
      .then((code) => { process.exitCode = code; });`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'latin1' });
    expect(r.status, r.stderr).to.equal(0);
    expect(fs.readFileSync(viaBundle).equals(fs.readFileSync(viaModules))).to.equal(true);
  });
});

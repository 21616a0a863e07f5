#!/usr/bin/env node
// Compiles native/launcher.c at install (package.json "install", after node-gyp, whose
// rebuild empties build/). bin/cyclodump in git and in the npm package is the sh/JavaScript
// polyglot, so package.json's bin always names a file that exists and runs, with
// --ignore-scripts or without a C compiler too; but no shell script can refuse
// `ulimit -n` below 12 in a line of its own (dash cannot read it), a compiled program can.
//   - an installed package (its directory sits in node_modules): the launcher replaces
//     bin/cyclodump. npm links bins before the install script runs (preinstall, bin
//     links, install, postinstall), and the link names the path, so it reaches the launcher.
//   - a clone: build/cyclodump (git-ignored), which the tests run; bin/cyclodump stays as
//     git has it, so `npm ci` leaves no tracked file modified.
// Static where the C library allows, so that a capture environment with no compiler and
// few libraries (e2e/) runs the launcher built on the host. Never fails the install.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const installed = path.basename(path.dirname(root)) === 'node_modules' && !fs.existsSync(path.join(root, '.git'));
const out = path.join(root, 'build', 'cyclodump');
const tmp = `${out}.tmp${process.pid}`;
const cc = process.env.CC || 'cc';

fs.mkdirSync(path.dirname(out), { recursive: true });
let ok = false;
for (const link of [['-static'], []]) {
  const r = spawnSync(cc, ['-O2', '-Wall', ...link, '-o', tmp, path.join(__dirname, 'launcher.c')], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status === 0) { ok = true; break; }
}
if (!ok) {
  fs.rmSync(tmp, { force: true });
  console.log(`cyclodump: the launcher was not built (no working ${cc}); bin/cyclodump stays a shell script, which gives a shell's own message below 11 open files`);
  process.exit(0);
}
fs.chmodSync(tmp, 0o755);
fs.renameSync(tmp, out);
if (installed) {
  const bin = path.join(root, 'bin', 'cyclodump');
  fs.copyFileSync(out, `${bin}.tmp${process.pid}`);
  fs.chmodSync(`${bin}.tmp${process.pid}`, 0o755);
  fs.renameSync(`${bin}.tmp${process.pid}`, bin);
}

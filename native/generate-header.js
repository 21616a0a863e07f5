#!/usr/bin/env node
// Writes the addon's generated header (src/cli/native-header.ts renders it from the
// TypeScript declarations); binding.gyp runs it before compiling.
//   node native/generate-header.js OUT.h     writes the header
//   node native/generate-header.js --inputs  lists the files it is made from
// In a clone the declarations are read from src/ (esbuild, a dev dependency, compiles
// them in memory, so that `npm ci` needs no tsc run first and a rebuild always sees the
// sources as they are); in the npm package, which has no src/, from dist/src/.
'use strict';
const fs = require('fs');
const Module = require('module');
const path = require('path');

const root = path.resolve(__dirname, '..');
const source = path.join(root, 'src', 'cli', 'native-header.ts');
const built = path.join(root, 'dist', 'src', 'cli', 'native-header.js');

function fromSource() {
  const result = require('esbuild').buildSync({
    entryPoints: [source], bundle: true, platform: 'node', format: 'cjs', target: 'node20',
    packages: 'external', write: false, metafile: true, logLevel: 'error',
  });
  const m = new Module(source, module);
  m.filename = source;
  m.paths = Module._nodeModulePaths(path.dirname(source));
  m._compile(result.outputFiles[0].text, source);
  return { renderHeader: m.exports.renderHeader, inputs: Object.keys(result.metafile.inputs).map((f) => path.resolve(f)) };
}

function load() {
  if (fs.existsSync(source)) return fromSource();
  return { renderHeader: require(built).renderHeader, inputs: [built] };
}

const arg = process.argv[2];
if (!arg) {
  process.stderr.write('usage: generate-header.js OUT.h | --inputs\n');
  process.exit(2);
}
const gen = load();
if (arg === '--inputs') {
  process.stdout.write(`${gen.inputs.map((f) => path.relative(process.cwd(), f)).join('\n')}\n`);
} else {
  fs.mkdirSync(path.dirname(arg), { recursive: true });
  fs.writeFileSync(arg, gen.renderHeader());
}

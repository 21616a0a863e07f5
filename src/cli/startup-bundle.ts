// Build step (`npm run build`, after tsc): packs every module of dist/src, and commander,
// which every run loads, into one script, dist/cyclodump.js, then makes V8's code cache
// for it, dist/cyclodump.cache, from a dump of a small vmcore written here. launch.ts
// loads both. The modules keep their own file names (__filename, __dirname and the
// requires of files outside the bundle resolve as they would from dist/src) and are run
// on first require, in the order Node would run them.
//
//   node dist/src/cli/startup-bundle.js
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { NT_PRSTATUS } from '../format/elf';
import { encodeNotes, writeElfVmcore } from '../format/elf-vmcore-writer';
import { BUNDLE_FILE, CODE_CACHE_FILE, bundleId, runBundle } from './launch';

/** the directory bundle keys are relative to: the one holding dist/ and node_modules/ */
const ROOT = path.resolve(BUNDLE_FILE, '../..');
const SRC = path.resolve(__dirname, '..');
/** packages in the bundle: loaded by every run, plain JavaScript (no native code) */
const PACKAGES = ['commander'];
/**
 * Built-in modules a bundled module requires when loaded but uses only on paths a dump
 * never takes: the bundle hands it an object whose properties load the module on first
 * use. commander requires child_process for executable subcommands (cyclodump has none);
 * loading it pulls in net, dgram and the streams, ~6 ms of a run pinned to one CPU.
 */
const LAZY_BUILTINS = ['node:child_process'];

function jsFiles(dir: string, out: string[] = []): string[] {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) jsFiles(p, out);
    else if (e.name.endsWith('.js')) out.push(p);
  }
  return out;
}

const key = (file: string): string => path.relative(ROOT, file).split(path.sep).join('/');

/**
 * The loader at the top of the bundle. `defs` maps a key (a path from ROOT) to its
 * module's function and `links` each key's relative requires to keys, resolved here as
 * Node would resolve them (the name, then .js, then /index.js): loading resolves nothing
 * and calls no path function. A package name goes through `packages`; anything else
 * (built-in modules, native addons, JSON, packages not bundled) to Node's own require
 * from the module's real place, but for the built-ins in `lazy` (LAZY_BUILTINS).
 */
const LOADER = `'use strict';
const Module = require('module');
const root = require('path').resolve(__dirname, ${JSON.stringify(path.relative(path.dirname(BUNDLE_FILE), ROOT) || '.')});
const defs = Object.create(null);
const links = Object.create(null);
const packages = Object.create(null);
const loaded = Object.create(null);
const lazy = Object.create(null);
function lazyBuiltin(id, names) {
  let real;
  const stand = {};
  for (const n of names) Object.defineProperty(stand, n, { enumerable: true, get: () => (real ??= require(id))[n] });
  lazy[id] = stand;
}
function requireFor(from, file) {
  const own = links[from];
  let real;
  const nodeRequire = () => (real ??= Module.createRequire(file));
  const req = (id) => {
    const k = own[id] ?? packages[id];
    return k === undefined ? (lazy[id] ?? nodeRequire()(id)) : load(k);
  };
  req.resolve = (id, options) => nodeRequire().resolve(id, options);
  return req;
}
function load(k) {
  const done = loaded[k];
  if (done) return done.exports;
  const file = root + '/' + k;
  const module = { exports: {}, filename: file, id: file, loaded: false };
  loaded[k] = module;
  defs[k].call(module.exports, module.exports, requireFor(k, file), module, file, file.slice(0, file.lastIndexOf('/')));
  module.loaded = true;
  return module.exports;
}
`;

/** The relative requires of a module's code (string literals), resolved to keys of the bundle. */
function linksOf(k: string, code: string, keys: Set<string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of code.matchAll(/\brequire\((["'])(\.\.?\/[^"']*)\1\)/g)) {
    const id = m[2];
    const base = path.posix.join(path.posix.dirname(k), id);
    const hit = [base, `${base}.js`, `${base}/index.js`].find((c) => keys.has(c));
    if (hit !== undefined) out[id] = hit;
  }
  return out;
}

/** The bundle's text, with its id line. */
export function buildBundle(): string {
  const files = jsFiles(SRC).filter((f) => f !== __filename);
  const packages: Record<string, string> = {};
  for (const name of PACKAGES) {
    const main = require.resolve(name);
    packages[name] = key(main);
    files.push(...jsFiles(path.dirname(main)));
  }
  let body = LOADER;
  for (const [name, k] of Object.entries(packages)) body += `packages[${JSON.stringify(name)}] = ${JSON.stringify(k)};\n`;
  // the export names of this Node's module (the bundle is built by the node that runs it)
  for (const id of LAZY_BUILTINS) body += `lazyBuiltin(${JSON.stringify(id)}, ${JSON.stringify(Object.keys(require(id) as object))});\n`;
  const keys = new Set(files.map(key));
  for (const f of files) {
    const k = key(f);
    const code = fs.readFileSync(f, 'utf8').replace(/^\/\/# sourceMappingURL=.*$/m, '');
    body += `links[${JSON.stringify(k)}] = ${JSON.stringify(linksOf(k, code, keys))};\n`;
    body += `defs[${JSON.stringify(k)}] = function (exports, require, module, __filename, __dirname) {\n${code}\n};\n`;
  }
  body += `module.exports = load(${JSON.stringify(key(path.join(SRC, 'cli', 'main.js')))});\n`;
  const id = createHash('sha256').update(body).digest('hex').slice(0, 16);
  return `// cyclodump bundle ${id}\n${body}`;
}

/** A 64-page ELF vmcore with one CPU note and no VMCOREINFO: enough for a `-d 1` dump. */
function writeTrainingVmcore(file: string): void {
  const data = Buffer.alloc(64 * 4096);
  for (let i = 0; i < 64; i += 2) data.write(`page ${i}`, i * 4096);
  // x86_64 elf_prstatus is 336 bytes
  writeElfVmcore(file, { notes: encodeNotes([{ name: 'CORE', type: NT_PRSTATUS, desc: Buffer.alloc(336) }]), loads: [{ paddr: 0, data }] });
}

/**
 * V8 keeps in a code cache the functions compiled when it is made: made after a dump, it
 * holds the command line's, the input's, both passes' and the report's code.
 */
async function trainCodeCache(source: string): Promise<Buffer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cyclodump-build-'));
  try {
    const vmcore = path.join(dir, 'training.vmcore');
    writeTrainingVmcore(vmcore);
    const { script, cli } = runBundle(source);
    const code = await cli.main(['-l', '-d', '1', '--message-level', '0', vmcore, path.join(dir, 'training.dump')]);
    if (code !== 0) throw new Error(`the training dump failed (exit status ${code})`);
    return script.createCachedData();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function build(): Promise<void> {
  const source = buildBundle();
  fs.writeFileSync(BUNDLE_FILE, source);
  fs.rmSync(CODE_CACHE_FILE, { force: true });
  const cache = await trainCodeCache(source);
  fs.writeFileSync(CODE_CACHE_FILE, Buffer.concat([Buffer.from(`${bundleId(source)}\n`, 'latin1'), cache]));
}

if (require.main === module) {
  build().catch((e) => {
    // the CLI runs without the cache (or the bundle) too, only slower to start
    fs.rmSync(CODE_CACHE_FILE, { force: true });
    process.stderr.write(`startup-bundle: no code cache: ${(e as Error).message}\n`);
  });
}

// Build step (`npm run build`, after tsc): esbuild packs dist/src's modules reachable from
// the CLI, and commander, which every run loads, into one script, dist/cyclodump.js, then
// V8's code cache for it is made, dist/cyclodump.cache, from dumps of the built-in real
// vmcore (builtin-input.ts) at the levels and codecs kdump scripts use, and of a small
// vmcore written here. launch.ts loads both. The modules are CommonJS as tsc wrote them, so
// esbuild runs each on its first require, in the order Node would; each keeps its own
// __dirname and __filename (the paths to the addon, the worker script, package.json), and
// everything else (the other packages, native addons) is required from the bundle's place
// at run time.
//
//   node dist/src/cli/startup-bundle.js
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type * as Esbuild from 'esbuild';
import { NT_PRSTATUS } from '../format/elf';
import { encodeNotes, writeElfVmcore } from '../format/elf-vmcore-writer';
import { builtinVmcore, hasBuiltinVmcore } from './builtin-input';
import { BUNDLE_FILE, CODE_CACHE_FILE, bundleId, runBundle } from './launch';

/** dist/, where the bundle is */
const DIST = path.dirname(BUNDLE_FILE);
const SRC = path.resolve(__dirname, '..');
/** packages in the bundle: loaded by every run, plain JavaScript (no native code) */
const PACKAGES = ['commander'];
/**
 * Built-in modules a bundled package requires when loaded but uses only on paths a dump
 * never takes: it gets an object whose properties load the module on first use.
 * commander requires child_process for executable subcommands (cyclodump has none);
 * loading it pulls in net, dgram and the streams, a few ms of a run pinned to one CPU.
 */
const LAZY_BUILTINS = ['child_process'];

/** The stand-in for built-in module `id`: its export names now, the module itself on first use. */
export function lazyBuiltinSource(id: string): string {
  const names = Object.keys(require(id) as object);
  return `let real;
const stand = {};
for (const n of ${JSON.stringify(names)}) Object.defineProperty(stand, n, { enumerable: true, get: () => (real ??= require(${JSON.stringify(id)}))[n] });
module.exports = stand;
`;
}

/** esbuild plugin: each module's own __dirname and __filename, and the lazy built-ins for the packages. */
const ownPaths: Esbuild.Plugin = {
  name: 'cyclodump-own-paths',
  setup(build) {
    const lazy = new RegExp(`^(node:)?(${LAZY_BUILTINS.join('|')})$`);
    build.onResolve({ filter: lazy }, (a) => (a.importer.includes(`${path.sep}node_modules${path.sep}`)
      ? { path: `node:${a.path.replace(/^node:/, '')}`, namespace: 'lazy-builtin' } : undefined));
    build.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (a) => ({ contents: lazyBuiltinSource(a.path), loader: 'js' }));
    build.onLoad({ filter: /\.js$/ }, (a) => {
      const code = fs.readFileSync(a.path, 'utf8');
      if (!a.path.startsWith(SRC + path.sep) || !/__(dirname|filename)/.test(code)) return undefined;
      const rel = path.relative(DIST, a.path).split(path.sep).join('/');
      // __bundleDir: the bundle's own directory (the banner); the module's are relative to it
      const own = `var __filename = require("path").join(__bundleDir, ${JSON.stringify(rel)}), __dirname = require("path").dirname(__filename);`;
      return { contents: `${own}\n${code}`, loader: 'js' };
    });
  },
};

/** The bundle's text, with its id line. */
export async function buildBundle(): Promise<string> {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const esbuild = require('esbuild') as typeof Esbuild;
  const pkg = JSON.parse(fs.readFileSync(path.resolve(DIST, '../package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const external = Object.keys(pkg.dependencies).filter((n) => !PACKAGES.includes(n)).flatMap((n) => [n, `${n}/*`]);
  const result = await esbuild.build({
    entryPoints: [path.join(SRC, 'cli', 'main.js')], bundle: true, platform: 'node', format: 'cjs', target: 'node20',
    external, plugins: [ownPaths], write: false, logLevel: 'error', legalComments: 'none',
    banner: { js: 'const __bundleDir = __dirname;' },
  });
  const body = result.outputFiles[0].text;
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
 * Command lines of the training dumps on the built-in vmcore: what kdump scripts run
 * (`-d 31` with -l, -c or no codec), so that V8 finds compiled in the cache the code of a
 * real kernel's dump (VMCOREINFO, page tables, mem_map, the priority pages), which the
 * small vmcore without VMCOREINFO never reaches. perf/RESULTS.md, "The code cache trained
 * on a real dump".
 */
const TRAINING_ARGS = [['-d', '31'], ['-l', '-d', '31'], ['-c', '-d', '31'], ['-l', '-d', '31', '--num-threads', '1']];

/**
 * V8 keeps in a code cache the functions compiled when it is made: made after the dumps,
 * it holds the command line's, the input's, both passes' and the report's code.
 */
async function trainCodeCache(source: string): Promise<Buffer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cyclodump-build-'));
  try {
    const small = path.join(dir, 'training.vmcore');
    writeTrainingVmcore(small);
    const runs: [string, string[]][] = [[small, ['-l', '-d', '1']]];
    if (hasBuiltinVmcore()) {
      const real = await builtinVmcore((line) => process.stderr.write(`startup-bundle: ${line}\n`));
      for (const args of TRAINING_ARGS) runs.push([real, args]);
    }
    const { script, cli } = runBundle(source);
    // at the default message level, as kdump scripts run it (the progress and the report
    // are code too), what it prints kept from the build's output (and shown if it fails)
    const out = process.stdout.write;
    const err = process.stderr.write;
    for (const [vmcore, args] of runs) {
      const dump = path.join(dir, 'training.dump');
      let printed = '';
      const keep = ((chunk: string | Uint8Array, encOrDone?: unknown, done?: unknown): boolean => {
        printed = (printed + String(chunk)).slice(-2000);
        const callback = typeof encOrDone === 'function' ? encOrDone : done;
        if (typeof callback === 'function') process.nextTick(callback as () => void);
        return true;
      }) as typeof process.stdout.write;
      process.stdout.write = keep;
      process.stderr.write = keep;
      let code: number;
      try {
        code = await cli.main([...args, vmcore, dump]);
      } finally {
        process.stdout.write = out;
        process.stderr.write = err;
      }
      if (code !== 0) throw new Error(`the training dump ${args.join(' ')} failed (exit status ${code}): ${printed.trim()}`);
      fs.rmSync(dump, { force: true });
    }
    return script.createCachedData();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function build(): Promise<void> {
  const source = await buildBundle();
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

// What bin/cyclodump runs. Start-up is a large part of a small dump's time (perf/RESULTS.md),
// so the build packs the CLI's modules of dist/src into one script, dist/cyclodump.js
// (startup-bundle.ts, with esbuild), and keeps V8's compiled
// code for it in dist/cyclodump.cache: Node then reads one file instead of resolving,
// stat'ing and reading some 65, and does not parse or compile what the cache holds.
// Without the bundle (a build that did not make it, or tsc run alone since) the modules
// load one by one.
import * as fs from 'fs';
import Module from 'module';
import * as path from 'path';
import * as v8 from 'v8';
import * as vm from 'vm';

export type Cli = typeof import('./main');

/** the bundle and its code cache, made by `npm run build` */
export const BUNDLE_FILE = path.resolve(__dirname, '../../cyclodump.js');
export const CODE_CACHE_FILE = path.resolve(__dirname, '../../cyclodump.cache');

/**
 * The bundle's first line names its build: `// cyclodump bundle <id>`. The code cache
 * starts with the same id and a newline. V8 itself checks only the script's length, its
 * own version and its flags before taking a cache; the id makes sure a cache is never
 * used with a bundle other than the one it was made from.
 */
const ID_LINE = /^\/\/ cyclodump bundle ([0-9a-f]+)\n/;

export function bundleId(source: string): string | undefined {
  return ID_LINE.exec(source)?.[1];
}

/** The code cache for bundle `id`, or undefined when there is none or it is another's. */
export function readCodeCache(id: string, file = CODE_CACHE_FILE): Buffer | undefined {
  let data: Buffer;
  try {
    data = fs.readFileSync(file);
  } catch {
    return undefined;
  }
  const nl = data.indexOf(10);
  if (nl < 0 || data.toString('latin1', 0, nl) !== id) return undefined;
  return data.subarray(nl + 1);
}

export interface CompiledBundle {
  script: vm.Script;
  cli: Cli;
  /** whether V8 took the code cache */
  cached: boolean;
}

/**
 * V8 flags the bundle runs under, set before it is compiled. `--max-opt=1`: V8's
 * interpreter and Sparkplug, no TurboFan. A dump's page loops are C; the JavaScript around
 * them runs for well under a second on most dumps, too short for TurboFan's compiles to
 * pay, and on one CPU its compile thread takes the CPU from the dump (perf/RESULTS.md,
 * "No TurboFan"). V8 takes a code cache only under the flags it was made with: the build
 * makes it through runBundle too.
 */
export const BUNDLE_V8_FLAGS = '--max-opt=1';

/** Compiles and runs the bundle, with `cache` when given; its exports are the CLI's main module. */
export function runBundle(source: string, cache?: Buffer): CompiledBundle {
  v8.setFlagsFromString(BUNDLE_V8_FLAGS);
  const script = new vm.Script(Module.wrap(source), { filename: BUNDLE_FILE, cachedData: cache });
  const wrapper = script.runInThisContext() as (exports: object, require: NodeJS.Require, module: { exports: unknown }, filename: string, dirname: string) => void;
  const mod = { exports: {} as unknown };
  wrapper.call(mod.exports, mod.exports as object, Module.createRequire(BUNDLE_FILE), mod, BUNDLE_FILE, path.dirname(BUNDLE_FILE));
  return { script, cli: mod.exports as Cli, cached: cache !== undefined && !script.cachedDataRejected };
}

/** tsc's record of its last build: newer than the bundle when tsc ran alone after `npm run build` */
const TSC_BUILD_INFO = path.resolve(__dirname, '../../.tsbuildinfo');

/**
 * Whether the bundle holds the code dist/src holds: not when tsc has compiled since it was
 * made (a developer's `npx tsc`). An installed package has no build info: its bundle is
 * the one packed with it.
 */
export function bundleIsCurrent(bundleFile = BUNDLE_FILE, buildInfo = TSC_BUILD_INFO): boolean {
  let bundle: fs.Stats;
  try {
    bundle = fs.statSync(bundleFile);
  } catch {
    return false;
  }
  try {
    return fs.statSync(buildInfo).mtimeMs <= bundle.mtimeMs;
  } catch {
    return true;
  }
}

/** The CLI: from the bundle when the build made one for this code, else from dist/src. */
export function loadCli(): Cli {
  let source: string | undefined;
  try {
    source = bundleIsCurrent() ? fs.readFileSync(BUNDLE_FILE, 'utf8') : undefined;
  } catch {
    source = undefined;
  }
  const id = source === undefined ? undefined : bundleId(source);
  if (source === undefined || id === undefined) return require('./main') as Cli;
  return runBundle(source, readCodeCache(id)).cli;
}

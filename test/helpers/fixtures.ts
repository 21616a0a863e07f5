// Fixture vmcores, decompressed once into the cache (a 1 GiB vmcore lives on disk, never
// in a Buffer) and checked against their sha256 the first time.
import { execFileSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { CACHE, FIXTURES, REPO } from './paths';

export function sha256File(p: string): string {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(p, 'r');
  const buf = Buffer.alloc(8 << 20);
  let n: number;
  let pos = 0;
  while ((n = fs.readSync(fd, buf, 0, buf.length, pos)) > 0) {
    h.update(buf.subarray(0, n));
    pos += n;
  }
  fs.closeSync(fd);
  return h.digest('hex');
}

function unpackOnce(zst: string, out: string, sha256?: string): string {
  const stamp = out + '.ok';
  if (fs.existsSync(stamp) && fs.existsSync(out)) return out;
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  execFileSync('zstd', ['-d', '--long=31', '-q', '-f', '-o', tmp, zst]);
  if (sha256) {
    const got = sha256File(tmp);
    if (got !== sha256) throw new Error(`${zst}: unpacked sha256 ${got}, expected ${sha256}`);
  }
  fs.renameSync(tmp, out);
  fs.writeFileSync(stamp, sha256 ?? 'unchecked');
  return out;
}

/** A shared fixture's vmcore (real-1g, real-6.12-1g), unpacked into the cache. */
export function fixtureVmcore(name: string): string {
  const dir = path.join(FIXTURES, name);
  const sha = fs.readFileSync(path.join(dir, 'vmcore.sha256'), 'latin1').trim().split(/\s+/)[0];
  return unpackOnce(path.join(dir, 'vmcore.zst'), path.join(CACHE, 'fixtures', `${name}.vmcore`), sha);
}

/** A fixture committed in the repository under test/fixtures (real-arm64-512m). */
export function repoFixtureDir(name: string): string {
  return path.join(REPO, 'test', 'fixtures', name);
}

/** A repository fixture's vmcore, unpacked into this checkout's own cache. */
export function repoFixtureVmcore(name: string): string {
  const dir = repoFixtureDir(name);
  const sha = fs.readFileSync(path.join(dir, 'vmcore.sha256'), 'latin1').trim().split(/\s+/)[0];
  return unpackOnce(path.join(dir, 'vmcore.zst'), path.join(CACHE, 'repo-fixtures', `${name}.vmcore`), sha);
}

/** A repository fixture's reference.json (makedumpfile's results, recorded when it was made). */
export function repoReference(name: string): { modes: ReferenceMode[]; [k: string]: unknown } {
  return JSON.parse(fs.readFileSync(path.join(repoFixtureDir(name), 'reference.json'), 'utf8'));
}

/** The small vmcore shipped in the repository (the built-in default input), where the build and the demo unpack it (src/cli/builtin-input.ts). */
export function builtinVmcore(): string {
  const dir = path.join(REPO, 'data', 'small-512m');
  const sha = fs.readFileSync(path.join(dir, 'vmcore.sha256'), 'latin1').trim().split(/\s+/)[0];
  return unpackOnce(path.join(dir, 'vmcore.zst'), path.join(CACHE, 'builtin', 'small-512m.vmcore'), sha);
}

export interface ReferenceMode {
  name: string;
  args: string[];
  exit_code: number;
  pages?: Record<string, number>;
  output_bytes?: number;
  sha256?: string;
}

export function reference(name: string): { modes: ReferenceMode[]; [k: string]: unknown } {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, name, 'reference.json'), 'utf8'));
}

/** A fresh scratch directory under the cache for one test file (per process: runs may overlap). */
export function scratchDir(label: string): string {
  const d = path.join(CACHE, 'tmp', `${label}-${process.pid}`);
  fs.rmSync(d, { recursive: true, force: true });
  fs.mkdirSync(d, { recursive: true });
  return d;
}

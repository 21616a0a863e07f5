// The built-in input: the small real vmcore kept in data/ (a Debian 6.1 kernel that panicked
// in a 512 MiB QEMU guest), unpacked once into .cache and checked against its sha256. The
// demo dumps it, and the build trains the start-up code cache on it (startup-bundle.ts).
// Only a checkout has data/; an installed package has neither the file nor the need.
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { pipeline } from 'stream/promises';

const REPO = path.resolve(__dirname, '../../..');
const DATA = path.join(REPO, 'data', 'small-512m');
const CACHE = path.join(REPO, '.cache', 'builtin');

/** Whether this checkout holds the built-in vmcore. */
export function hasBuiltinVmcore(): boolean {
  return fs.existsSync(path.join(DATA, 'vmcore.zst'));
}

/** The built-in vmcore's path, unpacked on the first call. `log` hears that it is being unpacked. */
export async function builtinVmcore(log: (line: string) => void = () => {}): Promise<string> {
  const out = path.join(CACHE, 'small-512m.vmcore');
  if (fs.existsSync(out + '.ok') && fs.existsSync(out)) return out;
  fs.mkdirSync(CACHE, { recursive: true });
  const zst = path.join(DATA, 'vmcore.zst');
  log(`unpacking ${path.relative(process.cwd(), zst)} (once) ...`);
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { DecompressStream } = require('zstd-napi') as typeof import('zstd-napi');
  const tmp = `${out}.${process.pid}.tmp`;
  const hash = createHash('sha256');
  const sink = fs.createWriteStream(tmp);
  // the file was written with --long=31: allow the long window
  await pipeline(fs.createReadStream(zst), new DecompressStream({ windowLogMax: 31 }), async function* (chunks: AsyncIterable<Buffer>) {
    for await (const c of chunks) {
      hash.update(c);
      yield c;
    }
  }, sink);
  const want = fs.readFileSync(path.join(DATA, 'vmcore.sha256'), 'latin1').trim().split(/\s+/)[0];
  const got = hash.digest('hex');
  if (got !== want) {
    fs.rmSync(tmp, { force: true });
    throw new Error(`${zst}: unpacked sha256 ${got}, expected ${want}`);
  }
  fs.renameSync(tmp, out);
  fs.writeFileSync(out + '.ok', '');
  return out;
}

// `npm run demo`: the main job on the built-in input. Unpacks the small real vmcore shipped
// in data/ (a Debian 6.1 kernel that panicked in a 512 MiB QEMU guest) into .cache once,
// then runs `cyclodump -l -d 31` on it and prints makedumpfile's report.
import * as fs from 'fs';
import * as path from 'path';
import { pipeline } from 'stream/promises';
import { main } from './main';

const REPO = path.resolve(__dirname, '../../..');
const DATA = path.join(REPO, 'data', 'small-512m');
const CACHE = path.join(REPO, '.cache', 'builtin');

async function unpack(): Promise<string> {
  const out = path.join(CACHE, 'small-512m.vmcore');
  if (fs.existsSync(out + '.ok')) return out;
  fs.mkdirSync(CACHE, { recursive: true });
  process.stderr.write(`unpacking ${path.relative(process.cwd(), path.join(DATA, 'vmcore.zst'))} (once) ...\n`);
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { DecompressStream } = require('zstd-napi') as typeof import('zstd-napi');
  const tmp = out + '.tmp';
  // the file was written with --long=31: allow the long window
  await pipeline(fs.createReadStream(path.join(DATA, 'vmcore.zst')), new DecompressStream({ windowLogMax: 31 }), fs.createWriteStream(tmp));
  fs.renameSync(tmp, out);
  fs.writeFileSync(out + '.ok', '');
  return out;
}

async function demo(): Promise<number> {
  const vmcore = await unpack();
  const dump = path.join(CACHE, 'demo.kdump');
  const args = ['-l', '-d', '31', '--message-level', '31', '-f', vmcore, dump, ...process.argv.slice(2)];
  process.stderr.write(`cyclodump ${args.join(' ')}\n`);
  return main(args);
}

demo().then((code) => { process.exitCode = code; }, (e) => {
  process.stderr.write(`demo: ${(e as Error).message}\n`);
  process.exitCode = 1;
});

// `npm run demo`: the main job on the built-in input (builtin-input.ts, unpacked into .cache
// once): `cyclodump -l -d 31` on it, with makedumpfile's report.
import * as path from 'path';
import { builtinVmcore } from './builtin-input';
import { main } from './main';


async function demo(): Promise<number> {
  const vmcore = await builtinVmcore((line) => process.stderr.write(`${line}\n`));
  const dump = path.join(path.dirname(vmcore), 'demo.kdump');
  const args = ['-l', '-d', '31', '--message-level', '31', '-f', vmcore, dump, ...process.argv.slice(2)];
  process.stderr.write(`cyclodump ${args.join(' ')}\n`);
  return main(args);
}

demo().then((code) => { process.exitCode = code; }, (e) => {
  process.stderr.write(`demo: ${(e as Error).message}\n`);
  process.exitCode = 1;
});

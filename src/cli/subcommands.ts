// `cyclodump info DUMPFILE` and `cyclodump map VMCORE --svg FILE` (operator tools). Their
// options are declared with the others in options.ts (SUBCOMMANDS).
import * as fs from 'fs';
import { Command, CommanderError, Option } from 'commander';
import type { CodecName } from '../codec';
import { DumpError, EXIT_COMPLETED } from '../util/errors';
import { DEFAULT_MSG_LEVEL, MAX_MSG_LEVEL, Messages } from '../util/messages';
import { subcommandHelp } from './help';
import { SUBCOMMANDS, SubcommandDef } from './options';
import { atoi } from './parse';

interface Parsed {
  opts: Record<string, string | boolean | undefined>;
  files: string[];
  codec: CodecName;
}

function parse(def: SubcommandDef, args: string[]): Parsed {
  let codec: CodecName = 'none';
  const program = new Command(`cyclodump ${def.name}`)
    .exitOverride()
    .helpOption(false)
    .configureOutput({ writeErr: () => undefined, writeOut: () => undefined })
    .allowExcessArguments(true)
    .argument('[files...]');
  program.addOption(new Option('-h, --help'));
  for (const o of def.options) {
    const flags = [o.short ? `-${o.short}` : '', o.long ? `--${o.long}` : ''].filter(Boolean).join(', ');
    const opt = new Option(o.arg ? `${flags} <${o.arg.toLowerCase()}>` : flags, o.help);
    opt.attributeName = () => o.key;
    program.addOption(opt);
  }
  for (const [flag, name] of [['c', 'zlib'], ['l', 'lzo'], ['p', 'snappy'], ['z', 'zstd']] as const) {
    if (def.options.some((o) => o.short === flag)) program.on(`option:${flag}`, () => { codec = name; });
  }
  try {
    program.parse(args, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) throw new DumpError('usage', `${def.name}: ${e.message.replace(/^error: /, '')}\nUsage: ${def.synopsis}`);
    throw e;
  }
  return { opts: program.opts(), files: program.args, codec };
}

export async function subcommand(name: string, args: string[]): Promise<number> {
  const def = SUBCOMMANDS.find((c) => c.name === name);
  if (!def) throw new DumpError('usage', `unknown command ${name}`);
  const { opts, files, codec } = parse(def, args);
  if (opts.help) {
    process.stdout.write(subcommandHelp(def).join('\n') + '\n');
    return EXIT_COMPLETED;
  }
  const usage = (why: string): DumpError => new DumpError('usage', `${name}: ${why}\nUsage: ${def.synopsis}`);
  if (name === 'info') {
    if (files.length !== 1) throw usage('one DUMPFILE is needed');
    const msgs = new Messages(DEFAULT_MSG_LEVEL);
    const { dumpInfo, formatInfo } = await import('../inspect/info');
    const lines = opts.lines !== undefined ? Math.max(0, atoi(String(opts.lines))) : 20;
    const info = dumpInfo(files[0], { lines, warn: (m) => msgs.warn(m) });
    process.stdout.write(opts.json ? JSON.stringify(info, null, 2) + '\n' : formatInfo(info));
    return EXIT_COMPLETED;
  }
  // map
  if (files.length !== 1) throw usage('one VMCORE is needed');
  if (opts.svg === undefined && !opts.json) throw usage('--svg FILE (or --json) is needed');
  let level = DEFAULT_MSG_LEVEL;
  if (opts.messageLevel !== undefined) {
    level = atoi(String(opts.messageLevel));
    if (level < 0 || level > MAX_MSG_LEVEL) throw usage(`Message_level(${level}) is invalid.`);
  }
  const msgs = new Messages(level);
  const { buildMemoryMap } = await import('../inspect/memory-map');
  const { formatMapText, mapMetadata, renderMapSvg } = await import('../inspect/map-svg');
  const map = await buildMemoryMap({ input: files[0], codec }, msgs);
  if (typeof opts.svg === 'string') {
    try {
      fs.writeFileSync(opts.svg, renderMapSvg(map));
    } catch (e) {
      throw new DumpError('output-open', `can't write ${opts.svg}: ${(e as Error).message}`);
    }
  }
  if (opts.json) process.stdout.write(JSON.stringify(mapMetadata(map), null, 2) + '\n');
  else {
    msgs.msg(formatMapText(map));
    if (typeof opts.svg === 'string') msgs.msg(`The memory map is saved to ${opts.svg}.`);
  }
  return EXIT_COMPLETED;
}

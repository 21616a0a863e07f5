// cyclodump's command line: makedumpfile's options and meanings, its messages where
// scripts read them, its exit statuses. Errors end in one line on stderr, never a stack.
import { Command, CommanderError, Option } from 'commander';
import type { CodecName } from '../codec';
import { parseDumpLevels } from '../filter/dump-level';
import { runKdumpDump } from '../pipeline/dump';
import { formatReport } from '../pipeline/report';
import { DumpError, EXIT_COMPLETED, EXIT_FAILED, NoSpaceError } from '../util/errors';
import { DEFAULT_MSG_LEVEL, MAX_MSG_LEVEL, ML_PRINT_REPORT_MSG, Messages } from '../util/messages';
import { VERSION } from './version';

class UsageError extends Error {}

function intArg(name: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    if (!/^\d+$/.test(v)) throw new UsageError(`invalid ${name} "${v}"`);
    const n = Number(v);
    if (n < min || n > max) throw new UsageError(`${name} ${n} is out of range (${min}-${max})`);
    return n;
  };
}

export interface ParsedArgs {
  codec: CodecName;
  dumpLevels: number[];
  cyclicBufferKiB?: number;
  numThreads?: number;
  bitmapCacheKiB?: number;
  messageLevel: number;
  force: boolean;
  showStats: boolean;
  positionals: string[];
}

export function buildProgram(onCodec: (c: CodecName) => void): Command {
  const program = new Command('cyclodump')
    .usage('[-c|-l|-p|-z] [-d LEVEL] [--cyclic-buffer KB] [--num-threads N] [--message-level N] VMCORE DUMPFILE')
    .description('Write a filtered, compressed kdump dump file from a Linux crash dump (makedumpfile-compatible).')
    .argument('[files...]', 'VMCORE (e.g. /proc/vmcore) and DUMPFILE')
    .helpOption('-h, --help', 'show this help')
    .addOption(new Option('-c', 'compress each page with zlib (level 1)'))
    .addOption(new Option('-l', 'compress each page with LZO1X-1'))
    .addOption(new Option('-p', 'compress each page with snappy'))
    .addOption(new Option('-z', 'compress each page with zstd (level 1)'))
    .addOption(new Option('-d <level>', 'dump level: sum of 1 zero, 2 cache, 4 private cache, 8 user data, 16 free pages; a,b,c retries after ENOSPC').default('0'))
    .addOption(new Option('--cyclic-buffer <KiB>', 'bitmap buffer per cycle in KiB (default: makedumpfile\'s rule, at most 4 MiB)').argParser(intArg('cyclic buffer size', 1, 1 << 30)))
    .addOption(new Option('--num-threads <N>', 'worker threads (default: the CPUs this process may run on; 1: no worker threads)').argParser(intArg('thread count', 0, 256)))
    .addOption(new Option('--bitmap-cache <KiB>', 'cyclodump: memory for the lz4-compressed 2nd bitmap kept between the two passes (default 32768); cycles that do not fit are scanned again').argParser(intArg('bitmap cache size', 0, 1 << 30)))
    .addOption(new Option('--message-level <N>', 'bit mask: 1 progress, 2 common, 4 errors, 8 debug, 16 report').argParser(intArg('message level', 0, MAX_MSG_LEVEL)).default(DEFAULT_MSG_LEVEL))
    .addOption(new Option('-f', 'overwrite an existing DUMPFILE'))
    .addOption(new Option('--show-stats', 'print the page report (message level 16)'))
    .addOption(new Option('-v', 'show the version'))
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: (s) => process.stdout.write(s) })
    .allowExcessArguments(true);
  for (const [flag, codec] of [['c', 'zlib'], ['l', 'lzo'], ['p', 'snappy'], ['z', 'zstd']] as const) {
    // the last of -c/-l/-p/-z on the command line wins, as in makedumpfile
    program.on(`option:${flag}`, () => onCodec(codec));
  }
  return program;
}

export function parseArgs(argv: string[]): ParsedArgs | 'help' | 'version' {
  let codec: CodecName = 'none';
  const program = buildProgram((c) => { codec = c; });
  try {
    program.parse(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.help') return 'help';
      throw new UsageError(e.message.replace(/^error: /, ''));
    }
    throw e;
  }
  const o = program.opts();
  if (o.v) return 'version';
  let dumpLevels: number[];
  try {
    dumpLevels = parseDumpLevels(String(o.d));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return {
    codec, dumpLevels, cyclicBufferKiB: o.cyclicBuffer, numThreads: o.numThreads, bitmapCacheKiB: o.bitmapCache,
    messageLevel: o.messageLevel | (o.showStats ? ML_PRINT_REPORT_MSG : 0), force: !!o.f, showStats: !!o.showStats,
    positionals: program.args,
  };
}

export async function main(argv: string[]): Promise<number> {
  let msgs = new Messages(DEFAULT_MSG_LEVEL);
  try {
    const args = parseArgs(argv);
    if (args === 'help') return EXIT_COMPLETED;
    if (args === 'version') {
      process.stdout.write(`cyclodump: version ${VERSION} (makedumpfile 1.7.2 compatible)\n`);
      return EXIT_COMPLETED;
    }
    msgs = new Messages(args.messageLevel);
    if (args.positionals.length !== 2) {
      throw new UsageError(args.positionals.length < 2 ? 'VMCORE and DUMPFILE are needed' : `unexpected argument "${args.positionals[2]}"`);
    }
    const [input, output] = args.positionals;
    for (let i = 0; i < args.dumpLevels.length; i++) {
      const level = args.dumpLevels[i];
      const outcome = await runKdumpDump({
        input, output, force: args.force || i > 0, dumpLevel: level, codec: args.codec,
        cyclicBufferKiB: args.cyclicBufferKiB, numThreads: args.numThreads,
        bitmapCacheBytes: args.bitmapCacheKiB === undefined ? undefined : args.bitmapCacheKiB * 1024,
      }, msgs);
      if (outcome.error) {
        if (outcome.error instanceof NoSpaceError && i + 1 < args.dumpLevels.length) {
          msgs.msg(`${outcome.error.message}; retrying with dump level ${args.dumpLevels[i + 1]}`);
          continue;
        }
        msgs.report(formatReport(outcome.report));
        throw outcome.error;
      }
      msgs.report(formatReport(outcome.report));
      msgs.msg(`The dumpfile is saved to ${output}.`);
      msgs.msg('\ncyclodump Completed.');
      return EXIT_COMPLETED;
    }
    return EXIT_FAILED;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`cyclodump: ${e.message}\nTry 'cyclodump --help' for more information.\n`);
      return EXIT_FAILED;
    }
    if (e instanceof DumpError) {
      process.stderr.write(`cyclodump: ${e.message}\n`);
      msgs.msg('\ncyclodump Failed.');
      return e.exitCode;
    }
    process.stderr.write(`cyclodump: internal error: ${(e as Error)?.message ?? String(e)}\n`);
    if (process.env.CYCLODUMP_DEBUG) process.stderr.write(`${(e as Error)?.stack}\n`);
    return EXIT_FAILED;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}

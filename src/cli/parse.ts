// argv -> a parsed command, with makedumpfile's parameter rules (check_param_for_*): the
// same command lines are accepted and rejected, so `--check-params` answers as it does.
import { Command, CommanderError, Option } from 'commander';
import type { CodecName } from '../codec';
import { MAX_DUMP_LEVEL } from '../filter/dump-level';
import { DEFAULT_MSG_LEVEL, MAX_MSG_LEVEL, ML_PRINT_DEBUG_MSG, ML_PRINT_REPORT_MSG } from '../util/messages';
import { OPTIONS, optionSynopsis } from './options';

export type Mode = 'create' | 'rearrange' | 'reassemble' | 'dmesg' | 'mem-usage';

export interface ParsedCommand {
  mode: Mode;
  /** what makedumpfile would call VMCORE (create, dmesg, mem-usage) */
  vmcore?: string;
  /** DUMPFILE (create, rearrange, reassemble) or LOGFILE (dmesg); absent with -F */
  dumpfile?: string;
  /** --split outputs, or --reassemble inputs */
  dumpfiles: string[];
  codec: CodecName;
  dumpLevels: number[];
  elf: boolean;
  flatten: boolean;
  force: boolean;
  blockOrder: number;
  sizeLimit?: number;
  excludeVmemmap: boolean;
  vmcoreinfoFile?: string;
  /** the -i file's text, read by main before the run */
  vmcoreinfoText?: string;
  messageLevel: number;
  vtop?: bigint;
  partialDmesg: boolean;
  cyclicBufferKiB?: number;
  splitblockKiB?: number;
  workDir?: string;
  numThreads?: number;
  checkParams: boolean;
  dryRun: boolean;
  nonMmap: boolean;
  pfnOrder: boolean;
  bitmapCacheKiB?: number;
  reportJson?: string;
  logJson: boolean;
  /** unsupported options that were given, with the reason */
  refused: { option: string; reason: string }[];
}

export type ParseOutcome =
  | { kind: 'run'; cmd: ParsedCommand }
  | { kind: 'help' }
  | { kind: 'version' }
  /** a command line makedumpfile would reject ("Commandline parameter is invalid.") */
  | { kind: 'invalid'; message: string };

/** C atoi: leading blanks, optional sign, digits; anything after is ignored; no digits gives 0. */
export function atoi(s: string): number {
  const m = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(s);
  if (!m) return 0;
  const n = Number(m[1]);
  return Math.max(-2147483648, Math.min(2147483647, n));
}

/** makedumpfile's memparse: strtoull base 0 with an optional K/M/G/T/P/E suffix. */
export function memparse(s: string): { value: number; rest: string } {
  const m = /^\s*(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*)(.*)$/s.exec(s);
  if (!m) return { value: 0, rest: s };
  let v = m[1].startsWith('0x') || m[1].startsWith('0X') ? parseInt(m[1], 16) : m[1].length > 1 && m[1][0] === '0' ? parseInt(m[1], 8) : Number(m[1]);
  let rest = m[2];
  const shifts: Record<string, number> = { k: 1, m: 2, g: 3, t: 4, p: 5, e: 6 };
  const sh = shifts[rest[0]?.toLowerCase() ?? ''];
  if (sh !== undefined) {
    v *= 2 ** (10 * sh);
    rest = rest.slice(1);
  }
  return { value: v, rest };
}

function buildProgram(onCodec: (c: CodecName) => void): Command {
  const program = new Command('cyclodump')
    .exitOverride()
    .helpOption(false)
    .configureOutput({ writeErr: () => undefined, writeOut: () => undefined })
    .allowExcessArguments(true)
    .argument('[files...]');
  for (const o of OPTIONS) {
    const flags = [o.short ? `-${o.short}` : '', o.long ? `--${o.long}` : ''].filter(Boolean).join(', ');
    const opt = new Option(o.arg ? `${flags} <${o.arg.toLowerCase()}>` : flags, o.help);
    opt.attributeName = () => o.key;
    program.addOption(opt);
  }
  for (const [flag, codec] of [['c', 'zlib'], ['l', 'lzo'], ['p', 'snappy'], ['z', 'zstd']] as const) {
    // the last of -c/-l/-p/-z on the command line wins, as in makedumpfile
    program.on(`option:${flag}`, () => onCodec(codec));
  }
  return program;
}

/**
 * getopt_long accepts any unique prefix of a long option (--num-thread, --check): expand
 * them before commander sees them. makedumpfile's own options are matched first, so that
 * cyclodump's extensions never make one of its prefixes ambiguous.
 */
export function expandLongOptions(argv: string[]): string[] | { ambiguous: string } {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (!a.startsWith('--') || a.length <= 2) {
      out.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    const exact = OPTIONS.find((o) => o.long === name);
    let match = exact;
    if (!match) {
      for (const group of [OPTIONS.filter((o) => o.status !== 'extension'), OPTIONS.filter((o) => o.status === 'extension')]) {
        const hits = group.filter((o) => o.long !== undefined && o.long.startsWith(name));
        if (hits.length > 1) return { ambiguous: `--${name}` };
        if (hits.length === 1) {
          match = hits[0];
          break;
        }
      }
    }
    out.push(match ? `--${match.long}${eq < 0 ? '' : a.slice(eq)}` : a);
    // the value of an option that takes one is not an option, whatever it looks like
    if (match?.arg && eq < 0 && i + 1 < argv.length) out.push(argv[++i]);
  }
  return out;
}

export function parseCommandLine(argvIn: string[]): ParseOutcome {
  let codec: CodecName = 'none';
  const expanded = expandLongOptions(argvIn);
  if (!Array.isArray(expanded)) return { kind: 'invalid', message: `option '${expanded.ambiguous}' is ambiguous` };
  const argv = expanded;
  const program = buildProgram((c) => { codec = c; });
  try {
    program.parse(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      return { kind: 'invalid', message: e.message.replace(/^error: /, '') };
    }
    throw e;
  }
  const o = program.opts() as Record<string, string | boolean | undefined>;
  if (o.help) return { kind: 'help' };
  if (o.v) return { kind: 'version' };

  const str = (k: string): string | undefined => (typeof o[k] === 'string' ? (o[k] as string) : undefined);
  const flag = (k: string): boolean => o[k] === true;
  const values = numericValues(str, flag);
  if ('kind' in values) return values;
  const { dumpLevels, dumpLevelGiven, messageLevel, sizeLimit, vtop } = values;
  const numThreads = str('numThreads') !== undefined ? Math.max(atoi(str('numThreads')!), 0) : undefined;
  const refused: ParsedCommand['refused'] = [];
  for (const def of OPTIONS) {
    if (def.status === 'unsupported' && o[def.key] !== undefined && o[def.key] !== false) {
      refused.push({ option: optionSynopsis(def), reason: def.reason ?? 'not supported' });
    }
  }
  const cmd: ParsedCommand = {
    mode: 'create',
    dumpfiles: [],
    codec,
    dumpLevels,
    elf: flag('E'),
    flatten: flag('F'),
    force: flag('f'),
    blockOrder: str('b') !== undefined ? atoi(str('b')!) : 4,
    sizeLimit,
    excludeVmemmap: flag('e'),
    vmcoreinfoFile: str('i'),
    messageLevel,
    vtop,
    partialDmesg: flag('partialDmesg'),
    cyclicBufferKiB: str('cyclicBuffer') !== undefined ? atoi(str('cyclicBuffer')!) : undefined,
    splitblockKiB: str('splitblockSize') !== undefined ? atoi(str('splitblockSize')!) : undefined,
    workDir: str('workDir'),
    numThreads,
    checkParams: flag('checkParams'),
    dryRun: flag('dryRun'),
    nonMmap: flag('nonMmap'),
    pfnOrder: flag('pfnOrder'),
    bitmapCacheKiB: str('bitmapCache') !== undefined ? atoi(str('bitmapCache')!) : undefined,
    reportJson: str('reportJson'),
    logJson: flag('logJson'),
    refused,
  };
  // an option cyclodump refuses is refused with its reason, even where makedumpfile would
  // find the line invalid anyway (-g without -x, --config without -x)
  if (refused.length > 0) return { kind: 'run', cmd };
  return checkMode(cmd, program.args, o, dumpLevelGiven);
}

/** The values of -d, --message-level (with -D and --show-stats), -L and --vtop, as makedumpfile reads them. */
function numericValues(str: (k: string) => string | undefined, flag: (k: string) => boolean): ParseOutcome | {
  dumpLevels: number[]; dumpLevelGiven: boolean; messageLevel: number; sizeLimit?: number; vtop?: bigint;
} {
  // -d: atoi of each comma-separated part, 0..31, like parse_dump_level
  let dumpLevels = [0];
  let dumpLevelGiven = false;
  if (str('d') !== undefined) {
    dumpLevelGiven = true;
    dumpLevels = [];
    for (const part of str('d')!.split(',').filter((p) => p.length > 0)) {
      const n = atoi(part);
      if (n < 0 || n > MAX_DUMP_LEVEL) return { kind: 'invalid', message: `Dump_level(${n}) is invalid.` };
      if (dumpLevels.length >= 32) return { kind: 'invalid', message: 'Dump_level is invalid.' };
      dumpLevels.push(n);
    }
    if (dumpLevels.length === 0) dumpLevels = [0];
  }
  let messageLevel = DEFAULT_MSG_LEVEL;
  if (str('messageLevel') !== undefined) {
    const ml = atoi(str('messageLevel')!);
    if (ml < 0 || ml > MAX_MSG_LEVEL) return { kind: 'invalid', message: `Message_level(${ml}) is invalid.` };
    messageLevel = ml;
  }
  if (flag('D')) messageLevel |= ML_PRINT_DEBUG_MSG;
  if (flag('showStats')) messageLevel |= ML_PRINT_REPORT_MSG;
  let sizeLimit: number | undefined;
  if (str('L') !== undefined) {
    const { value, rest } = memparse(str('L')!);
    if (rest.length > 0 || value === 0) return { kind: 'invalid', message: `Limit size(${str('L')}) is invalid.` };
    sizeLimit = value;
  }
  let vtop: bigint | undefined;
  if (str('vtop') !== undefined) {
    const m = /^\s*(0[xX][0-9a-fA-F]+|\d+)/.exec(str('vtop')!);
    vtop = m ? BigInt(m[1]) : 0n;
  }
  return { dumpLevels, dumpLevelGiven, messageLevel, sizeLimit, vtop };
}

/** makedumpfile's check_param_for_* of the mode the options ask for, and the files it takes. */
function checkMode(cmd: ParsedCommand, files: string[], o: Record<string, string | boolean | undefined>, dumpLevelGiven: boolean): ParseOutcome {
  const flag = (k: string): boolean => o[k] === true;
  const invalid = (message = 'Commandline parameter is invalid.'): ParseOutcome => ({ kind: 'invalid', message });
  const compressing = cmd.codec !== 'none';
  const anyLevel = dumpLevelGiven && cmd.dumpLevels[0] !== 0;
  const readVmcoreinfo = cmd.vmcoreinfoFile !== undefined;
  const vmlinux = o.x !== undefined;
  const xenSyms = o.xenSyms !== undefined;

  if (o.g !== undefined) {
    // check_param_for_generating_vmcoreinfo
    if (files.length !== 0 || compressing || anyLevel || cmd.elf || readVmcoreinfo || cmd.flatten || flag('R') || flag('X') || (!vmlinux && !xenSyms)) return invalid();
    if (cmd.dryRun) return invalid('--dry-run cannot be used with -g.');
    return { kind: 'run', cmd };
  }
  if (flag('R')) {
    // check_param_for_rearranging_dumpdata
    if (files.length !== 1) return invalid();
    if (compressing || anyLevel || cmd.elf || readVmcoreinfo || vmlinux || xenSyms || cmd.flatten || flag('X')) return invalid();
    cmd.mode = 'rearrange';
    cmd.dumpfile = files[0];
    return { kind: 'run', cmd };
  }
  if (flag('reassemble')) {
    // check_param_for_reassembling_dumpfile
    if (compressing || anyLevel || cmd.elf || readVmcoreinfo || vmlinux || xenSyms || cmd.flatten || flag('X') || flag('split')) return invalid();
    if (cmd.dryRun) return invalid('--dry-run cannot be used with --reassemble.');
    if (files.length < 2) return invalid();
    cmd.mode = 'reassemble';
    cmd.dumpfiles = files.slice(0, -1);
    cmd.dumpfile = files[files.length - 1];
    return { kind: 'run', cmd };
  }
  // check_param_for_creating_dumpfile (also for --dump-dmesg and --mem-usage)
  if ((compressing && cmd.elf) || (readVmcoreinfo && vmlinux) || (readVmcoreinfo && xenSyms)) return invalid();
  if (cmd.dryRun && flag('dumpDmesg')) return invalid('--dry-run cannot be used with --dump-dmesg.');
  if (cmd.flatten && flag('split')) return invalid();
  if (o.config !== undefined && !vmlinux) return invalid();
  if (cmd.numThreads) {
    if (flag('split')) return invalid('--num-threads cannot used with --split.');
    if (cmd.elf) return invalid('--num-threads cannot used with ELF format.');
  }
  if (cmd.partialDmesg && !flag('dumpDmesg')) return invalid();
  if (cmd.excludeVmemmap && !cmd.workDir) return invalid('-e requires --work-dir');
  const diskset = o.diskset !== undefined;
  if (files.length === 2 && !cmd.flatten && !flag('split') && !diskset) {
    cmd.vmcore = files[0];
    cmd.dumpfile = files[1];
  } else if (flag('split') && files.length > 2) {
    if (cmd.elf) return invalid('Options for splitting dumpfile cannot be used with Elf format.');
    cmd.vmcore = files[0];
    cmd.dumpfiles = files.slice(1);
  } else if (files.length === 1 && cmd.flatten) {
    cmd.vmcore = files[0];
  } else if (files.length === 1 && flag('memUsage')) {
    cmd.vmcore = files[0];
  } else if (diskset && !flag('split') && files.length === 1) {
    // sadump: the dump comes from the disk set; refused below with the reason
    cmd.dumpfile = files[0];
  } else if (diskset && flag('split') && files.length >= 2) {
    cmd.dumpfiles = files;
  } else {
    return invalid();
  }
  if (flag('dumpDmesg')) cmd.mode = 'dmesg';
  else if (flag('memUsage')) cmd.mode = 'mem-usage';
  return { kind: 'run', cmd };
}

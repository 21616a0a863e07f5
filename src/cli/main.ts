// cyclodump's command line: makedumpfile's options and meanings, its messages where
// scripts read them, its exit statuses. Errors end in one line on stderr, never a stack.
import * as fs from 'fs';
import { DUMP_DH_EXCLUDED_VMEMMAP } from '../format/diskdump';
import type { RunOptions } from '../pipeline/dump';
import { DumpReport, formatReport, reportJson } from '../pipeline/report';
import { DumpError, EXIT_COMPLETED, EXIT_FAILED, NoSpaceError, writeFailure } from '../util/errors';
import { DEFAULT_MSG_LEVEL, Messages } from '../util/messages';
import { createOutputFile, sizeWritePool } from '../util/file';
import { defaultThreadCeiling } from '../pipeline/prepare';
import { fsPath, recordArgvBytes } from '../util/argv-bytes';
import { writeAllSync } from '../format/flattened-sink';
import { installSignalHandlers } from '../util/interrupt';
import { openInput } from '../vmcore/open';
import { helpText } from './help';
import { ParsedCommand, parseCommandLine } from './parse';
import { VERSION } from './version';

export async function main(argv: string[]): Promise<number> {
  let msgs = new Messages(DEFAULT_MSG_LEVEL);
  // file names are kept as the bytes given (a name that is not UTF-8 is still that file)
  recordArgvBytes(argv);
  try {
    if (argv[0] === 'info' || argv[0] === 'map') {
      const { subcommand } = await import('./subcommands');
      return await subcommand(argv[0], argv.slice(1));
    }
    const parsed = parseCommandLine(argv);
    switch (parsed.kind) {
      case 'help':
        process.stdout.write(helpText());
        return EXIT_COMPLETED;
      case 'version':
        process.stdout.write(`cyclodump: version ${VERSION} (makedumpfile 1.7.2 compatible)\n`);
        return EXIT_COMPLETED;
      case 'invalid':
        process.stderr.write(`cyclodump: ${parsed.message}\nCommandline parameter is invalid.\nTry 'cyclodump --help' for more information.\n`);
        return EXIT_FAILED;
    }
    const cmd = parsed.cmd;
    if (cmd.refused.length > 0) {
      const r = cmd.refused[0];
      process.stderr.write(`cyclodump: ${r.option} is not supported: ${r.reason}\n`);
      return EXIT_FAILED;
    }
    if (cmd.checkParams) return EXIT_COMPLETED;
    checkOutputPlaces(cmd);
    // before the handlers: a signal while -i names a FIFO that nobody writes ends the run
    // at once, as nothing has been written yet
    cmd.vmcoreinfoText = readVmcoreinfoFile(cmd.vmcoreinfoFile);
    installSignalHandlers();
    // with -F the dump goes to stdout, so every message goes to stderr (as makedumpfile does)
    msgs = new Messages(cmd.messageLevel, cmd.flatten ? process.stderr : process.stdout, process.stderr, { json: cmd.logJson });
    switch (cmd.mode) {
      // each mode loads its own code: start-up stays short for the common case
      case 'rearrange': {
        const { rebuildFlattened } = await import('../format/flattened-rebuild');
        const r = await rebuildFlattened(0, cmd.dumpfile!, { force: cmd.force });
        msgs.msg(`\nThe dumpfile is saved to ${cmd.dumpfile}.`);
        void r;
        break;
      }
      case 'reassemble': {
        const { reassemble } = await import('../format/reassemble');
        reassemble(cmd.dumpfiles, cmd.dumpfile!, { force: cmd.force });
        msgs.msg(`\nThe dumpfile is saved to ${cmd.dumpfile}.`);
        break;
      }
      case 'dmesg':
        await writeDmesgFile(cmd, msgs);
        break;
      case 'mem-usage': {
        const { runMemUsage } = await import('../pipeline/mem-usage');
        await runMemUsage(dumpOptions(cmd, cmd.dumpLevels[0]), msgs);
        return EXIT_COMPLETED;
      }
      case 'create':
        return await create(cmd, msgs);
    }
    msgs.msg('\ncyclodump Completed.');
    return EXIT_COMPLETED;
  } catch (e) {
    if (e instanceof DumpError) {
      fatal(msgs, e.message, { code: e.code, exitCode: e.exitCode });
      msgs.msg('\ncyclodump Failed.');
      return e.exitCode;
    }
    fatal(msgs, `internal error: ${(e as Error)?.message ?? String(e)}`, { code: 'internal', exitCode: EXIT_FAILED });
    if (process.env.CYCLODUMP_DEBUG) process.stderr.write(`${(e as Error)?.stack}\n`);
    return EXIT_FAILED;
  }
}

/**
 * Where the run will write, checked before anything is read: -F needs an open standard
 * output (makedumpfile fails there too; Node puts /dev/null on a closed one, so the dump
 * would be thrown away with exit 0), and --work-dir a directory that exists.
 */
function checkOutputPlaces(cmd: ParsedCommand): void {
  if (cmd.flatten && cmd.mode !== 'rearrange' && stdoutWasClosed()) {
    throw new DumpError('stdout-closed', 'standard output is closed: -F writes the dump there (give it a file or a pipe)');
  }
  if (cmd.workDir !== undefined) {
    let st: fs.Stats;
    try {
      st = fs.statSync(fsPath(cmd.workDir));
    } catch (e) {
      throw new DumpError('work-dir', `--work-dir ${cmd.workDir}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : (e as Error).message}`);
    }
    if (!st.isDirectory()) throw new DumpError('work-dir', `--work-dir ${cmd.workDir}: not a directory`);
  }
}

/**
 * Whether this process was started with fd 1 closed: Node then opens /dev/null there,
 * read-write and close-on-exec (a shell's `>/dev/null` is write-only and inherited).
 */
function stdoutWasClosed(): boolean {
  try {
    if (fs.readlinkSync('/proc/self/fd/1') !== '/dev/null') return false;
    const flags = /^flags:\s*([0-7]+)/m.exec(fs.readFileSync('/proc/self/fdinfo/1', 'latin1'));
    if (!flags) return false;
    const f = parseInt(flags[1], 8);
    return (f & 3) === fs.constants.O_RDWR && (f & 0o2000000) !== 0;
  } catch {
    return false;
  }
}

/** The line that ends a failed run: "cyclodump: ..." on stderr, or a JSON error record with --log-json. */
function fatal(msgs: Messages, message: string, fields: { code: string; exitCode: number }): void {
  if (msgs.log.json) msgs.log.fatal(message, fields);
  else msgs.put(process.stderr, `cyclodump: ${message}\n`);
}

/**
 * The kernel keeps VMCOREINFO in one page (VMCOREINFO_BYTES is PAGE_SIZE, at most 64 KiB
 * on the architectures cyclodump reads): a -i file larger than that is not one, and
 * reading stops there, whatever the file is (/dev/zero, a pipe).
 */
export const MAX_VMCOREINFO_FILE = 64 << 10;

function readVmcoreinfoFile(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  const buf = Buffer.alloc(MAX_VMCOREINFO_FILE + 1);
  let got = 0;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      for (let n = 1; n > 0 && got < buf.length; got += n) n = fs.readSync(fd, buf, got, buf.length - got, null);
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    throw new DumpError('vmcoreinfo-file', `can't read the VMCOREINFO file ${file}: ${(e as Error).message}`);
  }
  if (got > MAX_VMCOREINFO_FILE) {
    throw new DumpError('vmcoreinfo-file', `the VMCOREINFO file ${file} holds more than ${MAX_VMCOREINFO_FILE} bytes, more than any kernel's VMCOREINFO`);
  }
  return buf.toString('latin1', 0, got);
}

function dumpOptions(cmd: ParsedCommand, level: number): RunOptions {
  return {
    input: cmd.vmcore!,
    output: cmd.dumpfile,
    dumpLevel: level,
    codec: cmd.codec,
    elf: cmd.elf,
    flatten: cmd.flatten,
    dryRun: cmd.dryRun,
    force: cmd.force,
    sizeLimit: cmd.sizeLimit,
    cyclicBufferKiB: cmd.cyclicBufferKiB,
    numThreads: cmd.numThreads,
    bitmapCacheBytes: cmd.bitmapCacheKiB === undefined ? undefined : cmd.bitmapCacheKiB * 1024,
    forceOneCycle: cmd.workDir !== undefined || cmd.excludeVmemmap,
    workDir: cmd.workDir,
    vtop: cmd.vtop,
    excludeVmemmap: cmd.excludeVmemmap,
    extraStatus: cmd.excludeVmemmap ? DUMP_DH_EXCLUDED_VMEMMAP : 0,
    vmcoreinfoText: cmd.vmcoreinfoText,
    vmcoreinfoFile: cmd.vmcoreinfoFile,
    flatRecordPages: 2 ** Math.max(0, Math.min(cmd.blockOrder, 14)),
    numDumpfiles: cmd.dumpfiles.length || 1,
    noMmap: cmd.nonMmap,
    pfnOrder: cmd.pfnOrder,
  };
}

async function create(cmd: ParsedCommand, msgs: Messages): Promise<number> {
  const levels = cmd.dumpLevels;
  // libuv's threads compress only with a codec (page-batch.ts compressBatchAsync)
  sizeWritePool(cmd.dumpfiles.length || 1, cmd.codec === 'none' ? 0 : cmd.numThreads ?? defaultThreadCeiling());
  for (let i = 0; i < levels.length; i++) {
    const opts = dumpOptions(cmd, levels[i]);
    if (i > 0) opts.force = true;
    let report: DumpReport;
    let error: DumpError | undefined;
    if (cmd.dumpfiles.length > 0) {
      const { runSplitDump } = await import('../pipeline/split-output');
      ({ report, error } = await runSplitDump({ ...opts, outputs: cmd.dumpfiles, splitblockKiB: cmd.splitblockKiB }, msgs));
    } else {
      const { runDump } = await import('../pipeline/dump');
      ({ report, error } = await runDump(opts, msgs));
    }
    if (error) {
      if (error instanceof NoSpaceError && i + 1 < levels.length && !cmd.flatten) {
        // one line on stderr, wherever the other messages go: the file is rewritten
        process.stderr.write(`cyclodump: ${error.message}; retrying with dump level ${levels[i + 1]} (-d ${levels.join(',')})\n`);
        continue;
      }
      msgs.report(formatReport(report));
      writeReportJson(cmd, report, error.message);
      throw error;
    }
    msgs.report(formatReport(report));
    writeReportJson(cmd, report);
    if (cmd.dryRun) {
      msgs.msg('\nThe dry run is done: nothing was written.');
    } else if (cmd.dumpfiles.length > 0) {
      msgs.msg(`\nThe dumpfiles are saved to ${cmd.dumpfiles.slice(0, -1).join(', ')}, and ${cmd.dumpfiles[cmd.dumpfiles.length - 1]}.`);
    } else if (!cmd.flatten) {
      msgs.msg(`\nThe dumpfile is saved to ${cmd.dumpfile}.`);
    }
    msgs.msg('\ncyclodump Completed.');
    return EXIT_COMPLETED;
  }
  return EXIT_FAILED;
}

/** --report-json FILE: the report's figures as JSON (schemas/report.schema.json). */
function writeReportJson(cmd: ParsedCommand, report: DumpReport, error?: string): void {
  if (cmd.reportJson === undefined) return;
  const outputs = cmd.dryRun ? [] : cmd.flatten ? ['-'] : cmd.dumpfiles.length > 0 ? cmd.dumpfiles : [cmd.dumpfile!];
  const doc = reportJson(report, {
    version: VERSION, input: cmd.vmcore!, outputs, format: cmd.elf ? 'elf' : 'kdump-compressed',
    flattened: cmd.flatten, dryRun: cmd.dryRun, error,
  });
  const tmp = `${cmd.reportJson}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, JSON.stringify(doc, null, 2) + '\n');
    fs.renameSync(tmp, cmd.reportJson);
  } catch (e) {
    try { fs.rmSync(tmp, { force: true }); } catch { /* nothing to clean */ }
    throw new DumpError('report-json', `can't write the report to ${cmd.reportJson}: ${(e as Error).message}`);
  }
}

async function writeDmesgFile(cmd: ParsedCommand, msgs: Messages): Promise<void> {
  const { DmesgCorruptError, extractDmesg } = await import('../kernel/printk');
  const { buildKernelModel } = await import('../kernel/kernel-model');
  const { debugVmcoreinfo } = await import('../pipeline/prepare');
  const input = openInput(cmd.vmcore!);
  let text: Buffer;
  let failure: DumpError | undefined;
  try {
    const vmcoreinfo = cmd.vmcoreinfoText ?? input.vmcoreinfo?.text;
    if (vmcoreinfo !== undefined) debugVmcoreinfo(vmcoreinfo, msgs);
    if (vmcoreinfo === undefined) throw new DumpError('no-vmcoreinfo', `${cmd.vmcore} has no VMCOREINFO note: the kernel log can't be found without it (give -i VMCOREINFO)`);
    const km = buildKernelModel(input, vmcoreinfo, {
      warn: (m) => msgs.warn(m), needPageLayout: false, arch: input.arch,
      maxMapnr: input.earlierDump?.maxMapnr, physBase: input.earlierDump?.physBase,
    });
    try {
      text = extractDmesg(km, { partial: cmd.partialDmesg });
    } catch (e) {
      if (!(e instanceof DmesgCorruptError)) throw e;
      // makedumpfile leaves what it could read behind, and fails
      text = e.partialText;
      failure = e;
    }
  } finally {
    input.close();
  }
  if (cmd.flatten) {
    try {
      writeAllSync(1, text);
    } catch (e) {
      throw writeFailure(e, 'standard output', 'the kernel log to standard output');
    }
  } else {
    const fd = createOutputFile(cmd.dumpfile!, cmd.force, 'dmesg file');
    try {
      writeAllSync(fd, text);
    } catch (e) {
      throw writeFailure(e, cmd.dumpfile!, `the dmesg file ${cmd.dumpfile}`);
    } finally {
      fs.closeSync(fd);
    }
  }
  if (failure) throw failure;
  if (!cmd.flatten) msgs.msg(`\nThe dmesg log is saved to ${cmd.dumpfile}.`);
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}

// A whole dump: prepare, scan once, write (kdump-compressed or ELF, to a file, a flattened
// stream or nowhere), report; and what happens when it cannot be finished: the output is
// marked incomplete the way its format allows, and stays readable.
import { DUMP_DH_COMPRESSED_INCOMPLETE, DiskDumpHeader } from '../format/diskdump';
import { NullSink } from '../format/null-sink';
import { DumpSink, FileSink } from '../format/sink';
import { DumpError, NoSpaceError } from '../util/errors';
import type { Messages } from '../util/messages';
import { KdumpWriter } from './kdump-output';
import { DumpJob, DumpOptions, closeJob, prepareDump } from './prepare';
import { DumpReport, buildReport } from './report';
import { scanPass } from './scan-pass';

export interface RunOptions extends DumpOptions {
  /** the dump file; absent with -F (stdout) and --dry-run */
  output?: string;
  flatten?: boolean;
  dryRun?: boolean;
  force: boolean;
  sizeLimit?: number;
  /** DUMP_DH_* bits to add to the header status (-e) */
  extraStatus?: number;
  /** -F: largest record (makedumpfile's cache size, page size << -b) */
  flatRecordBytes?: number;
}

export interface DumpOutcome {
  report: DumpReport;
  /** set when the dump could not be finished; a file output is marked incomplete */
  error?: DumpError;
}

/** Sets DUMP_DH_COMPRESSED_INCOMPLETE in a written header (makedumpfile does the same on ENOSPC). */
export function markIncomplete(sink: DumpSink): boolean {
  if (!sink.seekable || !sink.readBack) return false;
  const at = DiskDumpHeader.offsets.status;
  const b = Buffer.alloc(4);
  try {
    sink.readBack(b, at);
    b.writeUInt32LE(b.readUInt32LE(0) | DUMP_DH_COMPRESSED_INCOMPLETE, 0);
    sink.write(b, at);
    return true;
  } catch {
    return false;
  }
}

function openSink(opts: RunOptions): DumpSink {
  if (opts.dryRun) return new NullSink();
  if (opts.flatten) {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { FlattenedSink } = require('../format/flattened-sink') as typeof import('../format/flattened-sink');
    return new FlattenedSink({ fd: 1, name: 'stdout', maxRecord: opts.flatRecordBytes });
  }
  if (!opts.output) throw new DumpError('usage', 'no dump file given');
  return new FileSink(opts.output, { force: opts.force, sizeLimit: opts.sizeLimit });
}

export async function runDump(opts: RunOptions, msgs: Messages): Promise<DumpOutcome> {
  const job: DumpJob = prepareDump(opts, msgs);
  let sink: DumpSink | undefined;
  let started = false;
  let elfExcluded: number | undefined;
  try {
    sink = openSink(opts);
    await scanPass(job);
    started = true;
    if (opts.elf) {
      const { ElfWriter } = await import('./elf-output');
      const r = await new ElfWriter(job, sink).write();
      elfExcluded = r.elfExcluded;
    } else {
      const writer = new KdumpWriter(job, sink, { extraStatus: opts.extraStatus });
      writer.writeHeaders();
      writer.writeMemoryBitmap();
      await writer.writePages();
    }
    sink.close();
    job.progress.finish();
    return { report: buildReport(job, sink.bytesWritten, false, elfExcluded) };
  } catch (e) {
    if (!sink) throw e;
    if (!started) {
      sink.discard();
      throw e;
    }
    // what is on disk is consistent (data before the descriptors pointing at it): flag it
    const marked = opts.elf ? (await import('./elf-output')).markElfIncomplete(sink) : markIncomplete(sink);
    try { sink.close(); } catch { /* the error that brought us here is the one to report */ }
    job.progress.finish();
    const err = e instanceof DumpError ? e : new DumpError('internal', (e as Error).message);
    if (!(e instanceof DumpError)) msgs.debug((e as Error).stack ?? String(e));
    if (marked) msgs.error(`the dump file ${opts.output} is incomplete (marked so in its header) but readable`);
    else if (opts.flatten && !(e instanceof NoSpaceError)) msgs.error('the flattened stream was cut short: it has no end marker, and -R will refuse it');
    return { report: buildReport(job, sink.bytesWritten, true, elfExcluded), error: err };
  } finally {
    await closeJob(job);
  }
}

// A whole kdump-compressed dump: prepare, scan once, write, report; and what happens when
// it cannot be finished (the output is marked incomplete and stays readable).
import { DUMP_DH_COMPRESSED_INCOMPLETE, DiskDumpHeader } from '../format/diskdump';
import { DumpSink, FileSink } from '../format/sink';
import { DumpError, NoSpaceError } from '../util/errors';
import type { Messages } from '../util/messages';
import { KdumpWriter } from './kdump-output';
import { DumpOptions, closeJob, prepareDump } from './prepare';
import { DumpReport, buildReport } from './report';
import { scanPass } from './scan-pass';

export interface KdumpRunOptions extends DumpOptions {
  output: string;
  force: boolean;
  sizeLimit?: number;
  /** DUMP_DH_* bits to add to the header status (-e) */
  extraStatus?: number;
}

export interface DumpOutcome {
  report: DumpReport;
  /** set when the dump could not be finished; the file is marked incomplete */
  error?: DumpError;
}

const STATUS_OFFSET = DiskDumpHeader.offsets.status;

/** Sets DUMP_DH_COMPRESSED_INCOMPLETE in a written header (makedumpfile does the same on ENOSPC). */
export function markIncomplete(sink: DumpSink): boolean {
  if (!sink.seekable || !sink.readBack) return false;
  const b = Buffer.alloc(4);
  try {
    sink.readBack(b, STATUS_OFFSET);
    b.writeUInt32LE(b.readUInt32LE(0) | DUMP_DH_COMPRESSED_INCOMPLETE, 0);
    sink.write(b, STATUS_OFFSET);
    return true;
  } catch {
    return false;
  }
}

export async function runKdumpDump(opts: KdumpRunOptions, msgs: Messages): Promise<DumpOutcome> {
  const job = prepareDump(opts, msgs);
  let sink: FileSink | undefined;
  let headerWritten = false;
  try {
    sink = new FileSink(opts.output, { force: opts.force, sizeLimit: opts.sizeLimit });
    await scanPass(job);
    const writer = new KdumpWriter(job, sink, { extraStatus: opts.extraStatus });
    writer.writeHeaders();
    headerWritten = true;
    writer.writeMemoryBitmap();
    await writer.writePages();
    sink.close();
    job.progress.finish();
    return { report: buildReport(job, sink.bytesWritten, false) };
  } catch (e) {
    if (!sink) throw e;
    if (!headerWritten) {
      sink.discard();
      throw e;
    }
    // descriptors are written after their data, so what is on disk is consistent: flag it
    const marked = markIncomplete(sink);
    try { sink.close(); } catch { /* the error that brought us here is the one to report */ }
    job.progress.finish();
    const err = e instanceof DumpError ? e : new DumpError('internal', (e as Error).message);
    if (!(e instanceof NoSpaceError) && !(e instanceof DumpError)) {
      msgs.debug((e as Error).stack ?? String(e));
    }
    if (marked) msgs.error(`the dump file ${opts.output} is incomplete (marked so in its header) but readable`);
    return { report: buildReport(job, sink.bytesWritten, true), error: err };
  } finally {
    await closeJob(job);
  }
}

// A whole dump: prepare, scan once, write (kdump-compressed or ELF, to a file, a flattened
// stream or nowhere), report; and what happens when it cannot be finished: the output is
// marked incomplete the way its format allows, and stays readable.
import { DUMP_DH_COMPRESSED_INCOMPLETE, DiskDumpHeader, PageDesc } from '../format/diskdump';
import type { FlattenedSink } from '../format/flattened-sink';
import type { KdumpGeometry } from '../format/kdump-layout';
import { NullSink } from '../format/null-sink';
import { DumpSink, FileSink } from '../format/sink';
import { DumpError } from '../util/errors';
import { checkInterrupted, onForcedExit } from '../util/interrupt';
import type { Messages } from '../util/messages';
import type { ElfWriter } from './elf-output';
import { KdumpWriter } from './kdump-output';
import { DumpJob, DumpOptions, closeJob, prepareDump, usableCpus } from './prepare';
import { DumpReport, buildReport } from './report';
import { cycleBounds, scanPass } from './scan-pass';

export interface RunOptions extends DumpOptions {
  /** the dump file; absent with -F (stdout) and --dry-run */
  output?: string;
  flatten?: boolean;
  dryRun?: boolean;
  force: boolean;
  sizeLimit?: number;
  /** DUMP_DH_* bits to add to the header status (-e) */
  extraStatus?: number;
  /** -F: pages in the largest record (makedumpfile's cache size is page size << -b) */
  flatRecordPages?: number;
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

/**
 * A full disk stops a write at a block boundary, and one in the descriptor table can leave
 * a page descriptor half written: an offset without its size, or a size without its flags,
 * which readers would take for a raw page. Such a descriptor is cleared (its bytes are in
 * a block already allocated, so the rewrite needs no space): offset 0 says "data lost",
 * as makedumpfile's cleared slots do (spec kdump-compressed.md §7). Returns how many.
 */
export function repairShortWrites(sink: DumpSink, g: KdumpGeometry, numDumpable: number): number {
  if (!(sink instanceof FileSink)) return 0;
  const tableEnd = g.offsetDesc + PageDesc.size * numDumpable;
  let repaired = 0;
  for (const w of sink.shortWrites) {
    const cut = w.pos + w.done;
    if (cut <= g.offsetDesc || cut >= tableEnd) continue;
    const descStart = g.offsetDesc + Math.floor((cut - g.offsetDesc) / PageDesc.size) * PageDesc.size;
    if (descStart === cut) continue;
    const from = Math.max(descStart, w.pos);
    try {
      sink.write(new Uint8Array(cut - from), from);
      repaired++;
    } catch {
      // cannot be cleared: readers will find a descriptor that fails their checks
    }
  }
  return repaired;
}

/**
 * When pass 1 kept the 2nd bitmap in the file, the cycles pass 2 never reached still have
 * their bits set, with no descriptor written for them. They are cleared, so that an
 * unfinished file says what it always said: those pages are not in the dump.
 */
export function clearUnwrittenBitmap2(job: DumpJob, sink: DumpSink, writer: KdumpWriter): void {
  if (!job.cache.usesOutput) return;
  const end = writer.g.offsetBitmap2 + writer.g.bitmapLen;
  const from = writer.bitmapCycles < job.numCycles ? writer.bitmap2Offset(cycleBounds(job, writer.bitmapCycles).start) : end;
  const zeros = new Uint8Array(Math.min(end - from, 1 << 20));
  try {
    for (let pos = from; pos < end; pos += zeros.length) sink.write(zeros.subarray(0, Math.min(zeros.length, end - pos)), pos);
  } catch {
    // the blocks are taken already; a failure here leaves bits readers find no descriptor for
  }
}

function openSink(opts: RunOptions, pageSize: number): DumpSink {
  if (opts.dryRun) return new NullSink();
  if (opts.flatten) {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { FlattenedSink } = require('../format/flattened-sink') as typeof import('../format/flattened-sink');
    const maxRecord = opts.flatRecordPages === undefined ? undefined : opts.flatRecordPages * pageSize;
    return new FlattenedSink({ fd: 1, name: 'stdout', maxRecord });
  }
  if (!opts.output) throw new DumpError('usage', 'no dump file given');
  return openFileSink(opts.output, opts);
}

/** A dump file (or a --split part) as the options say; with one usable CPU written on this thread. */
export function openFileSink(file: string, opts: RunOptions): FileSink {
  return new FileSink(file, { force: opts.force, sizeLimit: opts.sizeLimit, syncWrites: usableCpus() === 1 });
}

/** The error that ends a run whose pass 2 could not read some pages (the dump is kept, marked). */
export function unreadPagesError(job: DumpJob): DumpError {
  return new DumpError('read-error',
    `${job.stats.unreadPages} dumpable pages could not be read from ${job.opts.input}; their descriptors say the data was lost`);
}

export async function runDump(opts: RunOptions, msgs: Messages): Promise<DumpOutcome> {
  const job: DumpJob = prepareDump(opts, msgs);
  let sink: DumpSink | undefined;
  let started = false;
  let elfExcluded: number | undefined;
  let kdump: KdumpWriter | undefined;
  let elf: ElfWriter | undefined;
  let unregister = (): void => {};
  try {
    sink = openSink(opts, job.pageSize);
    const out = sink;
    if (!opts.elf) {
      const writer = new KdumpWriter(job, sink, { extraStatus: opts.extraStatus });
      kdump = writer;
      // a dump file keeps pass 1's 2nd bitmap in its final place: no memory, no rescan
      if (out instanceof FileSink && job.cache.budgetBytes > 0) {
        job.cache.useOutput({
          write: (b, pos) => out.write(b, pos),
          read: (b, pos) => out.readBack(b, pos),
          offsetOf: (c) => writer.bitmap2Offset(cycleBounds(job, c).start),
        });
      }
    }
    await scanPass(job);
    // a signal during pass 1 ends the run before anything is written
    checkInterrupted();
    started = true;
    if (opts.elf) {
      const { ElfWriter, markElfIncomplete } = await import('./elf-output');
      elf = new ElfWriter(job, sink);
      unregister = onForcedExit(() => { markElfIncomplete(out); });
      const r = await elf.write();
      elfExcluded = r.elfExcluded;
    } else {
      const writer = kdump!;
      unregister = onForcedExit(() => {
        writer.flushWrittenDescriptorsSync();
        repairShortWrites(out, writer.g, job.numDumpable);
        clearUnwrittenBitmap2(job, out, writer);
        markIncomplete(out);
      });
      writer.writeHeaders();
      writer.writeMemoryBitmap();
      await writer.writePages();
      if (job.stats.unreadPages > 0) throw unreadPagesError(job);
    }
    sink.close();
    unregister();
    job.progress.finish();
    return { report: buildReport(job, sink.bytesWritten, false, elfExcluded) };
  } catch (e) {
    unregister();
    if (!sink) throw e;
    if (!started) {
      sink.discard();
      throw e;
    }
    job.progress.finish();
    const err = e instanceof DumpError ? e : new DumpError('internal', `internal error: ${(e as Error)?.message ?? String(e)}`);
    if (!(e instanceof DumpError)) msgs.debug((e as Error)?.stack ?? String(e));
    const report = buildReport(job, sink.bytesWritten, true, elfExcluded);
    if (opts.dryRun) return { report, error: err };
    if (opts.flatten) {
      (sink as FlattenedSink).cut();
      msgs.error('the flattened stream was cut short: it has no end marker, and -R will refuse it');
      return { report, error: err };
    }
    // a file that holds no page yet (the disk filled up or a signal came while the headers
    // and bitmaps were written) is of no use to anyone: it goes, and its space with it
    const stored = kdump ? kdump.written > 0 : elf ? elf.stored : false;
    if (!stored) {
      sink.discard();
      msgs.error(`the dump file ${opts.output} held no page yet and was deleted`);
      return { report, error: err };
    }
    // what is on disk is consistent (data before the descriptors pointing at it): flag it
    if (kdump) {
      repairShortWrites(sink, kdump.g, job.numDumpable);
      clearUnwrittenBitmap2(job, sink, kdump);
    }
    const marked = opts.elf ? (await import('./elf-output')).markElfIncomplete(sink) : markIncomplete(sink);
    try { sink.close(); } catch { /* the error that brought us here is the one to report */ }
    if (marked) msgs.error(`the dump file ${opts.output} is incomplete (marked so in its header) but readable`);
    else msgs.error(`the dump file ${opts.output} is incomplete and could not be marked so`);
    return { report, error: err };
  } finally {
    await closeJob(job);
  }
}

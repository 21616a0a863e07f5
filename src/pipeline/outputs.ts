// Where a run's dump goes: a file, the files of a --split set, a flattened stream on
// standard output (-F), or nowhere (--dry-run). Opened before pass 1; closed when the dump
// is complete, or, when it cannot be finished, left as each allows: a file that holds no
// page yet is deleted, one that does is marked incomplete and stays readable, a stream is
// cut short without its end marker.
import type { DumpWriter } from '../format/dump-writer';
import type { FlattenedSink } from '../format/flattened-sink';
import { NullSink } from '../format/null-sink';
import { DumpSink, FileSink } from '../format/sink';
import { DumpError } from '../util/errors';
import type { Messages } from '../util/messages';
import { usableCpus } from './prepare';

export interface OutputOptions {
  /** the dump file; absent with -F (stdout) and --dry-run */
  output?: string;
  flatten?: boolean;
  dryRun?: boolean;
  force: boolean;
  sizeLimit?: number;
  /** -F: pages in the largest record (makedumpfile's cache size is page size << -b) */
  flatRecordPages?: number;
}

/** A dump file (or a --split part) as the options say; with one usable CPU written on this thread. */
export function openFileSink(file: string, opts: OutputOptions): FileSink {
  return new FileSink(file, { force: opts.force, sizeLimit: opts.sizeLimit, syncWrites: usableCpus() === 1 });
}

export class Outputs {
  private constructor(readonly sinks: readonly DumpSink[], private readonly names: readonly string[],
    private readonly stream?: FlattenedSink) {}

  /** The one output of a dump: a file, standard output (-F) or nothing (--dry-run). */
  static open(opts: OutputOptions, pageSize: number): Outputs {
    if (opts.dryRun) return new Outputs([new NullSink()], []);
    if (opts.flatten) {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const { FlattenedSink } = require('../format/flattened-sink') as typeof import('../format/flattened-sink');
      const maxRecord = opts.flatRecordPages === undefined ? undefined : opts.flatRecordPages * pageSize;
      const stream = new FlattenedSink({ fd: 1, name: 'stdout', maxRecord });
      return new Outputs([stream], [], stream);
    }
    if (!opts.output) throw new DumpError('usage', 'no dump file given');
    return new Outputs([openFileSink(opts.output, opts)], [opts.output]);
  }

  /** The files of a --split set; none is left behind when one cannot be opened. */
  static openFiles(files: readonly string[], opts: OutputOptions): Outputs {
    const sinks: FileSink[] = [];
    try {
      for (const f of files) sinks.push(openFileSink(f, opts));
    } catch (e) {
      for (const s of sinks) s.discard();
      throw e;
    }
    return new Outputs(sinks, files);
  }

  get bytesWritten(): number {
    return this.sinks.reduce((a, s) => a + s.bytesWritten, 0);
  }

  close(): void {
    for (const s of this.sinks) s.close();
  }

  /**
   * Nothing of use was written (the run stopped before pass 2): every output this run made
   * goes (one it did not make, opened with -f, stays as its first headers left it: marked
   * incomplete). Returns whether all went.
   */
  discard(): boolean {
    let all = true;
    for (const s of this.sinks) all = s.discard() && all;
    return all;
  }

  /** Files that hold no page yet (the disk filled while their headers went out) go, and it is said. */
  dropEmpty(msgs: Messages): void {
    if (this.names.length === 0) {
      this.discard();
      return;
    }
    const one = this.names.length === 1;
    const names = this.names.join(', ');
    if (this.discard()) {
      msgs.error(one ? `the dump file ${names} held no page yet and was deleted` : `the dump files ${names} held no page yet and were deleted`);
    } else {
      msgs.error(one ? `the dump file ${names} holds no page (marked incomplete); it was not made by this run, so it is left`
        : `the dump files ${names} hold no page (marked incomplete); those not made by this run are left`);
    }
  }

  /** The end of the one failure path: what the writer left is kept, marked or deleted, and said so. */
  leaveUnfinished(writer: DumpWriter, msgs: Messages): void {
    if (this.stream) {
      this.stream.cut();
      msgs.error('the flattened stream was cut short: it has no end marker, and -R will refuse it');
      return;
    }
    if (this.names.length === 0) return;
    // a file that holds no page yet (the disk filled up or a signal came while the headers
    // and bitmaps were written) is of no use to anyone: it goes, and its space with it
    if (!writer.stored) {
      this.dropEmpty(msgs);
      return;
    }
    const one = this.names.length === 1;
    const names = this.names.join(', ');
    // what is on disk is consistent (data before the descriptors pointing at it): flag it
    const marked = writer.markIncomplete();
    for (const s of this.sinks) {
      try { s.close(); } catch { /* the error that brought us here is the one to report */ }
    }
    if (one) {
      msgs.error(marked > 0 ? `the dump file ${names} is incomplete (marked so in its header) but readable`
        : `the dump file ${names} is incomplete and could not be marked so`);
    } else {
      msgs.error(marked === this.sinks.length ? `the dump files ${names} are incomplete (marked so in their headers) but readable`
        : `the dump files ${names} are incomplete; ${this.sinks.length - marked} of them could not be marked so`);
    }
  }
}

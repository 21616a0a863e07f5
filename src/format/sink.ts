// Where a dump's bytes go. Writers address the output by file offset; a sink either
// writes there (a file) or frames each write as a flattened record (a stream, -F).
import * as fs from 'fs';
import { NoSpaceError, writeFailure } from '../util/errors';
import { fsPath } from '../util/argv-bytes';
import { OutputFile, openOutputFile, releaseOutput, syncOutput } from '../util/file';
import { nativePages } from '../codec/native-pages';

export interface DumpSink {
  readonly name: string;
  /** Writes buf at file offset pos. Throws NoSpaceError when the device or -L limit is full. */
  write(buf: Uint8Array, pos: number): void;
  /**
   * The same, off the main thread where the sink allows it (a file: libuv's pool, so page
   * data is copied into the page cache while the main thread hands out work). Several may
   * be in flight at different offsets; buf must stay untouched until the promise settles.
   */
  writeAsync?(buf: Uint8Array, pos: number): Promise<void>;
  /**
   * Takes the blocks of [pos, pos + len) before anything else is written there (zeros go
   * there; not counted as written bytes): a later write of those bytes cannot fail for
   * want of room, nor stop half way on a full disk.
   */
  reserve?(pos: number, len: number): Promise<void>;
  /**
   * Writes ranges of the input file (runs: [offset, length] pairs, count of them) one
   * after the other at pos, moved inside the kernel where it can: the kept pages of a dump
   * without a codec from a mapped input (/proc/vmcore). Throws as write does.
   */
  copyRuns?(inFd: number, runs: Float64Array, count: number, pos: number): void;
  /** Reads back bytes already written (rewriting the header on ENOSPC); undefined where nothing is kept (streams, --dry-run). */
  readBack?(buf: Uint8Array, pos: number): void;
  /** Writes the device cut short, for the writer to repair what they left (a file's; undefined elsewhere). */
  readonly shortWrites?: readonly ShortWrite[];
  /** Whether bytes already written can be rewritten in place (false for flattened streams). */
  readonly seekable: boolean;
  /** bytes handed to write() so far */
  readonly bytesWritten: number;
  /**
   * Waits until the bytes written so far are on the device (fdatasync), before the last
   * header write says the dump is complete: a power cut can then not leave a header that
   * says complete over data that never reached the disk. Absent where nothing is kept.
   */
  sync?(): void;
  /**
   * The same off the main thread: settles once every byte written before the call is on
   * the device. The kdump writer waits for it before it writes descriptors that point at
   * those bytes, so a power cut can leave pages missing but never a descriptor pointing at
   * data the device never got (or past the end of the file).
   */
  syncAsync?(): Promise<void>;
  /**
   * Asks the kernel to start writing back what was written, without waiting: descriptors
   * just written reach the device in milliseconds, not at the next sync or the kernel's
   * own writeback 5-30 s later (a machine reset in between would lose their pages).
   */
  writeback?(): void;
  /** close (the data is synced before the final header write, not here) */
  close(): void;
  /**
   * Close and delete: the output is useless (nothing but a partial header was written).
   * Only a file this run made is deleted; returns whether it was.
   */
  discard(): boolean;
}

/** A write that the device cut short: `done` of its `len` bytes at `pos` reached the file. */
export interface ShortWrite {
  pos: number;
  len: number;
  done: number;
}

export interface FileSinkOptions {
  /** overwrite an existing file (-f); otherwise refuse, as makedumpfile does (O_EXCL) */
  force: boolean;
  /** -L: bytes the file may grow to; reaching it behaves like ENOSPC */
  sizeLimit?: number;
  /**
   * writeAsync writes on the calling thread. For a process with one usable CPU: libuv's
   * thread could only run in turns with the main one, and by its turn the pages it copies
   * have left the CPU's cache (synth-4G -d 31 pinned: the kernel's copy into the page
   * cache took twice makedumpfile's samples; perf/RESULTS.md).
   */
  syncWrites?: boolean;
}

/**
 * Sets `bits` in the little-endian 32-bit header word at `at` of what was written (the
 * kdump status word, the ELF e_flags): how an unfinished dump is marked incomplete.
 * False when the sink cannot rewrite what it wrote, or the rewrite failed.
 */
export function setHeaderBits(sink: DumpSink, at: number, bits: number): boolean {
  if (!sink.seekable || !sink.readBack) return false;
  const b = Buffer.alloc(4);
  try {
    sink.readBack(b, at);
    b.writeUInt32LE(b.readUInt32LE(0) | bits, 0);
    sink.write(b, at);
    return true;
  } catch {
    return false;
  }
}

let zeroBuf = new Uint8Array(0);
/** A shared all-zero buffer of at least len bytes (never written to, so writes may share it). */
function zeros(len: number): Uint8Array {
  if (zeroBuf.length < len) zeroBuf = new Uint8Array(Math.max(len, 64 << 10));
  return zeroBuf.subarray(0, len);
}

/**
 * Bytes written between two starts of writeback (FileSink.startWriteback): the final
 * fdatasync then waits for at most about this much, not for the whole file.
 */
const WRITEBACK_STEP = 4 << 20;

export class FileSink implements DumpSink {
  readonly seekable = true;
  private fd: number;
  private readonly file: OutputFile;
  bytesWritten = 0;
  /** bytesWritten when writeback was last started */
  private writebackAt = 0;
  /**
   * Writes that failed after part of their bytes were written (a full disk stops a write
   * at a block boundary, which may fall inside a page descriptor): what is left on disk
   * there is repaired before the file is marked incomplete.
   */
  readonly shortWrites: ShortWrite[] = [];

  constructor(readonly name: string, opts: FileSinkOptions) {
    this.file = openOutputFile(name, { force: opts.force, what: 'dump file', readBack: true });
    this.fd = this.file.fd;
    this.sizeLimit = opts.sizeLimit;
    this.syncWrites = !!opts.syncWrites;
  }

  private readonly sizeLimit?: number;
  private readonly syncWrites: boolean;

  write(buf: Uint8Array, pos: number): void {
    if (this.sizeLimit !== undefined && pos + buf.length > this.sizeLimit) {
      throw new NoSpaceError(`${this.name} reached the size limit of ${this.sizeLimit} bytes (-L)`);
    }
    this.writeAll(buf, pos);
    this.bytesWritten += buf.length;
    this.startWriteback();
  }

  /**
   * Every WRITEBACK_STEP bytes, the kernel is asked to start writing the file's dirty
   * pages (sync_file_range, without waiting): the device works while pages are still being
   * compressed, and the sync before the last header write has only the tail left.
   */
  private startWriteback(): void {
    if (this.bytesWritten - this.writebackAt < WRITEBACK_STEP || this.fd < 0) return;
    this.writeback();
  }

  /**
   * Starts writeback now. With more than one CPU on the addon's writeback thread: the
   * submission costs the block layer's CPU time, which this thread spends on the dump
   * instead (perf/RESULTS.md, "Writeback off the main thread").
   */
  writeback(): void {
    if (this.fd < 0) return;
    this.writebackAt = this.bytesWritten;
    const native = nativePages();
    if (!this.syncWrites && native?.startWritebackAsync) {
      this.writebackThread = true;
      native.startWritebackAsync(this.fd);
    } else {
      native?.startWriteback?.(this.fd);
    }
  }

  /** the writeback thread has had this file's descriptor: it is done with it before the descriptor is closed */
  private writebackThread = false;

  private settleWriteback(): void {
    if (this.writebackThread) nativePages()?.waitWriteback?.();
    this.writebackThread = false;
  }

  /** All of buf at pos, on this thread; a short write is recorded, errors become DumpErrors. */
  private writeAll(buf: Uint8Array, pos: number): void {
    let done = 0;
    try {
      this.ensureOpen();
      while (done < buf.length) done += fs.writeSync(this.fd, buf, done, buf.length - done, pos + done);
    } catch (e) {
      if (done > 0) this.shortWrites.push({ pos, len: buf.length, done });
      throw writeFailure(e, this.name);
    }
  }

  /** defined where the addon has copyRuns */
  get copyRuns(): ((inFd: number, runs: Float64Array, count: number, pos: number) => void) | undefined {
    return nativePages()?.copyRuns ? this.copyRunsHere : undefined;
  }

  private readonly copyRunsHere = (inFd: number, runs: Float64Array, count: number, pos: number): void => {
    let len = 0;
    for (let k = 0; k < count; k++) len += runs[2 * k + 1];
    if (this.sizeLimit !== undefined && pos + len > this.sizeLimit) {
      throw new NoSpaceError(`${this.name} reached the size limit of ${this.sizeLimit} bytes (-L)`);
    }
    try {
      this.ensureOpen();
      nativePages()!.copyRuns!(this.fd, inFd, runs, count, pos);
    } catch (e) {
      const done = (e as { done?: number }).done ?? 0;
      if (done > 0) this.shortWrites.push({ pos, len, done });
      throw writeFailure(e, this.name);
    }
    this.bytesWritten += len;
    this.startWriteback();
  };

  writeAsync(buf: Uint8Array, pos: number): Promise<void> {
    if (this.sizeLimit !== undefined && pos + buf.length > this.sizeLimit) {
      return Promise.reject(new NoSpaceError(`${this.name} reached the size limit of ${this.sizeLimit} bytes (-L)`));
    }
    this.bytesWritten += buf.length;
    this.startWriteback();
    // handed to libuv at once, not after the previous write: a write that waits for the
    // one before it waits for a turn of the main thread's event loop too, and the writing
    // thread idles meanwhile. Which writes run together is up to libuv's pool, which the
    // CLI sizes to one thread per output file (sizeWritePool): writes to one file take its
    // inode lock in turn anyway. Nothing here depends on the order they run in.
    return this.writeNow(buf, pos);
  }

  private writeNow(buf: Uint8Array, pos: number): Promise<void> {
    if (this.syncWrites) return this.writeHere(buf, pos);
    return new Promise((resolve, reject) => {
      const step = (done: number): void => {
        fs.write(this.fd, buf, done, buf.length - done, pos + done, (err, n) => {
          if (err) {
            if (done > 0) this.shortWrites.push({ pos, len: buf.length, done });
            reject(writeFailure(err, this.name));
          } else if (done + n < buf.length) {
            step(done + n);
          } else {
            resolve();
          }
        });
      };
      step(0);
    });
  }

  /** writeNow on this thread (syncWrites): the same errors and short-write record */
  private writeHere(buf: Uint8Array, pos: number): Promise<void> {
    try {
      this.writeAll(buf, pos);
    } catch (e) {
      return Promise.reject(e);
    }
    return Promise.resolve();
  }

  reserve(pos: number, len: number): Promise<void> {
    const before = this.bytesWritten;
    const p = this.writeAsync(zeros(len), pos);
    this.bytesWritten = before;
    return p;
  }

  sync(): void {
    this.ensureOpen();
    syncOutput(this.fd, this.name);
  }

  /** the fdatasync running, and the one queued behind it (which covers every write made before it starts) */
  private syncRunning?: Promise<void>;
  private syncQueued?: Promise<void>;

  syncAsync(): Promise<void> {
    if (this.syncQueued) return this.syncQueued;
    if (!this.syncRunning) return this.startSync();
    const queued = this.syncRunning.then(() => undefined, () => undefined).then(() => {
      this.syncQueued = undefined;
      return this.startSync();
    });
    this.syncQueued = queued;
    return queued;
  }

  private startSync(): Promise<void> {
    const running = new Promise<void>((resolve, reject) => {
      this.ensureOpen();
      fs.fdatasync(this.fd, (err) => {
        // a character device cannot be synced and has nothing to wait for
        if (err && err.code !== 'EINVAL') reject(writeFailure(err, this.name));
        else resolve();
      });
    }).finally(() => {
      if (this.syncRunning === running) this.syncRunning = undefined;
    });
    this.syncRunning = running;
    return running;
  }

  readBack(buf: Uint8Array, pos: number): void {
    this.ensureOpen();
    fs.readSync(this.fd, buf, 0, buf.length, pos);
  }

  /**
   * After a failed close() the descriptor is gone, but the file must still be marked
   * incomplete: reopen it (without truncating) for that.
   */
  private ensureOpen(): void {
    if (this.fd >= 0) return;
    if (!this.closedOnce) throw new Error(`${this.name}: not open`);
    this.fd = fs.openSync(fsPath(this.name), 'r+');
  }

  private closedOnce = false;

  close(): void {
    if (this.fd < 0) return;
    this.settleWriteback();
    this.closedOnce = true;
    try {
      fs.closeSync(this.fd);
    } catch (e) {
      throw writeFailure(e, this.name);
    } finally {
      this.fd = -1;
    }
  }

  discard(): boolean {
    this.settleWriteback();
    this.file.fd = this.fd;
    this.fd = -1;
    return releaseOutput(this.file, true);
  }
}

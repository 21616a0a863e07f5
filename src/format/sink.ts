// Where a dump's bytes go. Writers address the output by file offset; a sink either
// writes there (a file) or frames each write as a flattened record (a stream, -F).
import * as fs from 'fs';
import { DumpError, NoSpaceError, isNoSpace } from '../util/errors';
import { createOutputFile } from '../util/file';

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
  /** Reads back bytes already written (rewriting the header on ENOSPC); undefined where nothing is kept (streams, --dry-run). */
  readBack?(buf: Uint8Array, pos: number): void;
  /** Writes the device cut short, for the writer to repair what they left (a file's; undefined elsewhere). */
  readonly shortWrites?: readonly ShortWrite[];
  /** Whether bytes already written can be rewritten in place (false for flattened streams). */
  readonly seekable: boolean;
  /** bytes handed to write() so far */
  readonly bytesWritten: number;
  /** close; like makedumpfile, no fsync (kdump scripts sync after the dump) */
  close(): void;
  /** close and delete: the output is useless (nothing but a partial header was written) */
  discard(): void;
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

export class FileSink implements DumpSink {
  readonly seekable = true;
  private fd: number;
  bytesWritten = 0;
  /**
   * Writes that failed after part of their bytes were written (a full disk stops a write
   * at a block boundary, which may fall inside a page descriptor): what is left on disk
   * there is repaired before the file is marked incomplete.
   */
  readonly shortWrites: ShortWrite[] = [];

  constructor(readonly name: string, opts: FileSinkOptions) {
    this.fd = createOutputFile(name, opts.force, 'dump file', true);
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
  }

  /** All of buf at pos, on this thread; a short write is recorded, errors become DumpErrors. */
  private writeAll(buf: Uint8Array, pos: number): void {
    let done = 0;
    try {
      this.ensureOpen();
      while (done < buf.length) done += fs.writeSync(this.fd, buf, done, buf.length - done, pos + done);
    } catch (e) {
      if (done > 0) this.shortWrites.push({ pos, len: buf.length, done });
      if (isNoSpace(e)) throw new NoSpaceError(`no space left on the device holding ${this.name}`);
      throw new DumpError('write-error', `can't write the dump file ${this.name}: ${(e as Error).message}`);
    }
  }

  writeAsync(buf: Uint8Array, pos: number): Promise<void> {
    if (this.sizeLimit !== undefined && pos + buf.length > this.sizeLimit) {
      return Promise.reject(new NoSpaceError(`${this.name} reached the size limit of ${this.sizeLimit} bytes (-L)`));
    }
    this.bytesWritten += buf.length;
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
            reject(isNoSpace(err) ? new NoSpaceError(`no space left on the device holding ${this.name}`)
              : new DumpError('write-error', `can't write the dump file ${this.name}: ${err.message}`));
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
    this.fd = fs.openSync(this.name, 'r+');
  }

  private closedOnce = false;

  close(): void {
    if (this.fd < 0) return;
    this.closedOnce = true;
    try {
      fs.closeSync(this.fd);
    } catch (e) {
      if (isNoSpace(e)) throw new NoSpaceError(`no space left on the device holding ${this.name}`);
      throw new DumpError('write-error', `can't write the dump file ${this.name}: ${(e as Error).message}`);
    } finally {
      this.fd = -1;
    }
  }

  discard(): void {
    if (this.fd >= 0) {
      try {
        fs.closeSync(this.fd);
      } catch {
        // the file is deleted next; a failing close changes nothing
      }
      this.fd = -1;
    }
    try {
      fs.unlinkSync(this.name);
    } catch {
      // already gone
    }
  }
}

// Opening the files a run reads and writes, with the one-line errors every mode gives;
// positioned reads and writes that loop until the whole range is done (fs.readSync and
// fs.writeSync may move fewer bytes than asked for).
import * as fs from 'fs';
import { DumpError } from './errors';

/** Opens an input file for reading; a failure is one 'open-failed' line. */
export function openForReading(path: string): number {
  try {
    return fs.openSync(path, 'r');
  } catch (e) {
    throw new DumpError('open-failed', `can't open ${path}: ${(e as Error).message}`);
  }
}

/**
 * Creates an output file, mode 0600. An existing file is refused unless `force` (-f), as
 * makedumpfile's O_EXCL open refuses it. `what` names the file in messages ("dump file");
 * `readBack`: opened for reading too (a dump file is read back to mark it incomplete).
 */
export function createOutputFile(path: string, force: boolean, what: string, readBack = false): number {
  try {
    return fs.openSync(path, (force ? 'w' : 'wx') + (readBack ? '+' : ''), 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new DumpError('output-exists', `can't open the ${what} ${path}: file exists (use -f to overwrite)`);
    }
    throw new DumpError('output-open', `can't open the ${what} ${path}: ${(e as Error).message}`);
  }
}

/** Reads exactly `len` bytes at `pos` unless the file ends; returns the bytes read. */
export function preadFull(fd: number, buf: Uint8Array, off: number, len: number, pos: number): number {
  let done = 0;
  while (done < len) {
    const n = fs.readSync(fd, buf, off + done, len - done, pos + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

export function pwriteFull(fd: number, buf: Uint8Array, off: number, len: number, pos: number): void {
  let done = 0;
  while (done < len) {
    done += fs.writeSync(fd, buf, off + done, len - done, pos + done);
  }
}

/**
 * libuv runs asynchronous file writes on its thread pool, sized from UV_THREADPOOL_SIZE
 * when the pool first starts (4 threads by default). One thread per output file: several
 * writes to one file only spin on its inode lock (a quarter of the writing threads' time
 * on real-1g -d 1 without a codec), while with one thread each file's writes run back to
 * back in the order given. Must run before the first asynchronous file operation; an
 * explicit UV_THREADPOOL_SIZE is left alone.
 */
export function sizeWritePool(files: number): void {
  if (process.env.UV_THREADPOOL_SIZE === undefined) process.env.UV_THREADPOOL_SIZE = String(Math.max(1, Math.min(files, 128)));
}

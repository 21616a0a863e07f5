// Opening the files a run reads and writes, with the one-line errors every mode gives;
// positioned reads and writes that loop until the whole range is done (fs.readSync and
// fs.writeSync may move fewer bytes than asked for).
import * as fs from 'fs';
import * as os from 'os';
import { fsPath } from './argv-bytes';
import { DumpError, writeFailure } from './errors';
import { nativeAddon } from './native-addon';

/** The files this process reads, by identity (an output must be none of them). */
const inputs: { fd: number; dev: number; ino: number; name: string }[] = [];

/**
 * Records an open input (a vmcore, a split part, a flattened stream on standard input):
 * an output that is the same file, by any path, is refused before anything is truncated.
 */
export function registerInput(fd: number, name: string): void {
  try {
    const st = fs.fstatSync(fd);
    if (st.isFile() || st.isBlockDevice()) inputs.push({ fd, dev: st.dev, ino: st.ino, name });
  } catch {
    // not a file: nothing an output could overwrite
  }
}

/** Closes an input opened by openForReading (it is no longer one an output must avoid); `close` false: only forgets it. */
export function closeInput(fd: number, close = true): void {
  const i = inputs.findIndex((x) => x.fd === fd);
  if (i >= 0) inputs.splice(i, 1);
  if (close) fs.closeSync(fd);
}

/** The input that `st` is, if any (inputs since closed, their descriptor reused or gone, are skipped). */
function inputNamed(st: fs.Stats): string | undefined {
  for (const i of inputs) {
    if (i.dev !== st.dev || i.ino !== st.ino) continue;
    try {
      const now = fs.fstatSync(i.fd);
      if (now.dev === i.dev && now.ino === i.ino) return i.name;
    } catch {
      // closed
    }
  }
  return undefined;
}

/** Opens an input file for reading; a failure is one 'open-failed' line. */
export function openForReading(path: string): number {
  let fd: number;
  try {
    fd = fs.openSync(fsPath(path), 'r');
  } catch (e) {
    throw new DumpError('open-failed', `can't open ${path}: ${(e as Error).message}`);
  }
  registerInput(fd, path);
  return fd;
}

/** An output file as opened: whether this run made it (only then may it delete it). */
export interface OutputFile {
  fd: number;
  path: string;
  /** made by this run (O_EXCL): the only kind of file a failed run deletes */
  created: boolean;
  /** a regular file (not a device that -f let us write to) */
  regular: boolean;
}

export interface OutputFileOptions {
  /** -f: an existing file is overwritten (truncated in place once locked); otherwise refused, as makedumpfile's O_EXCL */
  force: boolean;
  /** names the file in messages ("dump file") */
  what: string;
  /** opened for reading too (a dump file is read back to mark it incomplete) */
  readBack?: boolean;
  /** positioned writes: a FIFO or socket is refused (makedumpfile opens one and fails at its first seek) */
  seekable?: boolean;
}

const OPEN_ERR = (path: string, what: string, why: string): DumpError => new DumpError('output-open', `can't open the ${what} ${path}: ${why}`);

/**
 * Opens an output file, mode 0600, for every writer (dump files, split parts, -R and
 * --reassemble outputs, the dmesg file). Before anything is truncated: an output that is
 * an input (same device and inode, by any path) is refused, and an existing file without
 * -f; a FIFO is refused where writes are positioned. The file is then locked (flock,
 * exclusive): a second run on it fails at once. An existing regular file is truncated in
 * place only then; a character device (-f /dev/null) is written as makedumpfile does.
 */
export function openOutputFile(path: string, opts: OutputFileOptions): OutputFile {
  const name = fsPath(path);
  const existing = statOrUndefined(name, path, opts.what);
  if (existing) refuseExisting(existing, path, opts);
  const access = opts.readBack ? fs.constants.O_RDWR : fs.constants.O_WRONLY;
  const flags = access | (existing ? 0 : fs.constants.O_CREAT | fs.constants.O_EXCL);
  let fd: number;
  try {
    fd = fs.openSync(name, flags, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw exists(path, opts.what);
    throw OPEN_ERR(path, opts.what, (e as Error).message);
  }
  const out: OutputFile = { fd, path, created: !existing, regular: true };
  try {
    const st = fs.fstatSync(fd);
    out.regular = st.isFile();
    // the file opened is the one checked (a rename in between is caught here); one this
    // open made cannot be an input
    const input = out.created ? undefined : inputNamed(st);
    if (input !== undefined) throw isInput(path, input, opts.what);
    lockOutput(fd, path, opts.what);
    if (!out.created && out.regular) fs.ftruncateSync(fd, 0);
  } catch (e) {
    releaseOutput(out, true);
    if (e instanceof DumpError) throw e;
    throw OPEN_ERR(path, opts.what, (e as Error).message);
  }
  return out;
}

function statOrUndefined(name: string | Buffer, path: string, what: string): fs.Stats | undefined {
  try {
    return fs.statSync(name);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      // a dangling symbolic link: O_EXCL would refuse it, as makedumpfile's open does
      try {
        if (fs.lstatSync(name).isSymbolicLink()) throw exists(path, what);
      } catch (l) {
        if (l instanceof DumpError) throw l;
      }
      return undefined;
    }
    throw OPEN_ERR(path, what, (e as Error).message);
  }
}

function refuseExisting(st: fs.Stats, path: string, opts: OutputFileOptions): void {
  const input = inputNamed(st);
  if (input !== undefined) throw isInput(path, input, opts.what);
  if (!opts.force) throw exists(path, opts.what);
  if (st.isDirectory()) throw OPEN_ERR(path, opts.what, 'it is a directory');
  if ((opts.seekable ?? true) && (st.isFIFO() || st.isSocket())) {
    throw OPEN_ERR(path, opts.what, `it is a ${st.isFIFO() ? 'FIFO' : 'socket'}, and a dump file is written at positions (stream a dump with -F)`);
  }
}

function exists(path: string, what: string): DumpError {
  return new DumpError('output-exists', `can't open the ${what} ${path}: file exists (use -f to overwrite)`);
}

function isInput(path: string, input: string, what: string): DumpError {
  const same = input === path ? 'is the input' : `is the input ${input} (the same file)`;
  return new DumpError('output-is-input', `the ${what} ${path} ${same}: writing it would destroy what is read`);
}

/** flock(LOCK_EX | LOCK_NB) through the native addon; without the addon no lock is taken. */
function lockOutput(fd: number, path: string, what: string): void {
  const addon = nativeAddon() as { lockExclusive?: (fd: number) => number } | undefined;
  if (!addon?.lockExclusive) return;
  const err = addon.lockExclusive(fd);
  if (err === 0) return;
  if (err === os.constants.errno.EWOULDBLOCK) {
    throw new DumpError('output-locked', `can't write the ${what} ${path}: another run is writing it (the file is locked)`);
  }
  // a file system without flock: the run goes on without the lock
}

/**
 * Closes an output; with `remove`, deletes it if this run made it and the name still
 * leads to it. Never deletes a device, a FIFO or a file someone else made.
 * Returns whether the file was deleted.
 */
export function releaseOutput(out: OutputFile, remove: boolean): boolean {
  let st: fs.Stats | undefined;
  try {
    if (out.fd >= 0) st = fs.fstatSync(out.fd);
  } catch {
    st = undefined;
  }
  if (out.fd >= 0) {
    try {
      fs.closeSync(out.fd);
    } catch {
      // a close that fails changes nothing here
    }
    out.fd = -1;
  }
  if (!remove || !out.created || !out.regular || !st) return false;
  const name = fsPath(out.path);
  try {
    const now = fs.lstatSync(name);
    if (now.dev !== st.dev || now.ino !== st.ino) return false;
    fs.unlinkSync(name);
    return true;
  } catch {
    return false;
  }
}

/**
 * fdatasync before the write that says a dump is complete; a character device, which
 * cannot be synced (EINVAL), has nothing to wait for.
 */
export function syncOutput(fd: number, name: string): void {
  try {
    fs.fdatasyncSync(fd);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EINVAL') return;
    throw writeFailure(e, name);
  }
}

/**
 * Creates an output file with openOutputFile's checks and returns its descriptor (callers
 * that only write it: the dmesg file).
 */
export function createOutputFile(path: string, force: boolean, what: string, readBack = false): number {
  return openOutputFile(path, { force, what, readBack, seekable: false }).fd;
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
export function sizeWritePool(files: number, compressThreads = 0): void {
  // plus one thread per batch the native page loop may compress on the pool at once
  // (page-batch.ts compressBatchAsync), where it takes the batches
  // and one per file for the fdatasync before its descriptors (kdump-writer.ts), which
  // would otherwise hold up that file's writes behind it
  const threads = 2 * files + (compressThreads > 1 ? compressThreads : 0);
  if (process.env.UV_THREADPOOL_SIZE === undefined) process.env.UV_THREADPOOL_SIZE = String(Math.max(1, Math.min(threads, 128)));
}

// -F: the dump as a flattened stream. Every positioned write becomes one record
// (BE int64 offset, BE int64 size, payload) after a 4096-byte stream header; close()
// appends the end marker. Nothing can be rewritten, so the header's "incomplete" flag is
// never set in a stream (a stream without its end marker is the sign of a failed dump).
// Spec: flattened-and-split.md §1.1.
import * as fs from 'fs';
import { writeFailure } from '../util/errors';
import {
  END_FLAG_FLAT_HEADER, FLAT_HEADER_BLOCK, FLAT_SIGNATURE, FlatDataHeader, FlatHeader, TYPE_FLAT_HEADER,
  VERSION_FLAT_HEADER,
} from './flattened';
import type { DumpSink } from './sink';

export interface FlattenedSinkOptions {
  /** where the stream goes; default 1 (stdout) */
  fd?: number;
  /** name used in messages; default "standard output" */
  name?: string;
  /** largest payload of one record; longer writes are split (default 1 MiB) */
  maxRecord?: number;
  /** close `fd` on close()/discard(); default false (stdout stays open) */
  closeFd?: boolean;
}

/** The 4096-byte stream header: signature, type 1, version 1, zeros. */
export function encodeFlatHeader(): Buffer {
  const b = Buffer.alloc(FLAT_HEADER_BLOCK);
  const sig = Buffer.alloc(16);
  sig.write(FLAT_SIGNATURE, 0, 'latin1');
  FlatHeader.encode({ signature: sig, type: TYPE_FLAT_HEADER, version: VERSION_FLAT_HEADER }, b);
  return b;
}

/** One record's 16-byte data header. */
export function encodeFlatDataHeader(offset: number, size: number): Buffer {
  return FlatDataHeader.encode({ offset, buf_size: size });
}

/** The end marker: offset = size = -1. */
export function encodeFlatEndMarker(): Buffer {
  return FlatDataHeader.encode({ offset: END_FLAG_FLAT_HEADER, buf_size: END_FLAG_FLAT_HEADER });
}

const DEFAULT_MAX_RECORD = 1 << 20;
/** small records are gathered into one write of up to this many bytes */
const GATHER_BYTES = 1 << 20;
const waitCell = new Int32Array(new SharedArrayBuffer(4));

/**
 * Writes all of buf to fd (a pipe, a file, a terminal), retrying short writes and, on a
 * non-blocking pipe, EAGAIN (after a millisecond's pause).
 */
export function writeAllSync(fd: number, buf: Uint8Array): void {
  let done = 0;
  while (done < buf.length) {
    try {
      done += fs.writeSync(fd, buf, done, buf.length - done);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') {
        Atomics.wait(waitCell, 0, 0, 1);
        continue;
      }
      throw e;
    }
  }
}

export class FlattenedSink implements DumpSink {
  readonly seekable = false;
  readonly name: string;
  bytesWritten = 0;
  /** records written so far (the end marker not counted) */
  records = 0;
  private readonly fd: number;
  private readonly maxRecord: number;
  private readonly closeFd: boolean;
  private readonly gather = Buffer.allocUnsafe(GATHER_BYTES);
  private gathered = 0;
  private closed = false;
  /** a write to the stream failed: what follows it on the stream may be a cut record */
  private failed = false;

  constructor(opts: FlattenedSinkOptions = {}) {
    this.fd = opts.fd ?? 1;
    this.name = opts.name ?? 'standard output';
    this.maxRecord = Math.max(1, Math.floor(opts.maxRecord ?? DEFAULT_MAX_RECORD));
    this.closeFd = opts.closeFd ?? false;
    this.put(encodeFlatHeader());
    this.flush();
  }

  write(buf: Uint8Array, pos: number): void {
    if (this.closed) throw new Error(`${this.name}: write after close`);
    if (!Number.isSafeInteger(pos) || pos < 0) throw new Error(`${this.name}: bad offset ${pos}`);
    for (let at = 0; at < buf.length; at += this.maxRecord) {
      const n = Math.min(this.maxRecord, buf.length - at);
      const hdr = encodeFlatDataHeader(pos + at, n);
      const payload = buf.subarray(at, at + n);
      if (16 + n <= GATHER_BYTES / 4) {
        if (this.gathered + 16 + n > GATHER_BYTES) this.flush();
        this.put(hdr);
        this.put(payload);
      } else {
        this.flush();
        this.out(hdr);
        this.out(payload);
      }
      this.records++;
    }
    this.bytesWritten += buf.length;
  }

  /** Writes the end marker; the stream is complete. */
  close(): void {
    if (this.closed) return;
    try {
      this.put(encodeFlatEndMarker());
      this.flush();
    } finally {
      this.closed = true;
      if (this.closeFd) fs.closeSync(this.fd);
    }
  }

  /**
   * Ends a dump that could not be finished: the records gathered so far go out (they are
   * whole records, data before the descriptors that point at it) unless a write to the
   * stream already failed (a record may be cut there), and no end marker follows, so no
   * reader takes the stream for a complete dump.
   */
  cut(): void {
    if (this.closed) return;
    if (!this.failed) {
      try {
        this.flush();
      } catch {
        // the error that stopped the dump is the one reported
      }
    }
    this.discard();
  }

  /** Ends the stream without its end marker, so no reader takes it for a complete dump. */
  discard(): boolean {
    if (this.closed) return false;
    this.closed = true;
    this.gathered = 0;
    if (this.closeFd) {
      try {
        fs.closeSync(this.fd);
      } catch {
        // nothing more to do
      }
    }
    return false;
  }

  private put(b: Uint8Array): void {
    if (this.gathered + b.length > this.gather.length) this.flush();
    this.gather.set(b, this.gathered);
    this.gathered += b.length;
  }

  private flush(): void {
    if (this.gathered === 0) return;
    const n = this.gathered;
    this.gathered = 0;
    this.out(this.gather.subarray(0, n));
  }

  private out(b: Uint8Array): void {
    try {
      writeAllSync(this.fd, b);
    } catch (e) {
      this.failed = true;
      throw writeFailure(e, this.name, `the flattened dump to ${this.name}`);
    }
  }
}

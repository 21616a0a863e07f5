// -R: rebuild the normal dump file from a flattened stream (makedumpfile 1.7.2
// rearrange_dumpdata semantics, spec flattened-and-split.md §1.2): a 4096-byte header whose
// signature is the C string "makedumpfile" and whose type is 1 (the version is not
// checked); records applied in stream order, so a later record wins where two overlap;
// bytes no record covers are holes (zero); the end marker (-1, -1) is required.
//
// Differences from makedumpfile, all on broken input: a stream that ends early fails at
// once (makedumpfile polls the empty pipe for 600 s first), a record header that is neither
// a record nor the end marker, or an offset beyond 2^53, is reported with its stream
// position, and the partial output file is deleted.
import * as fs from 'fs';
import { DumpError, writeFailure } from '../util/errors';
import { OutputFile, closeInput, openOutputFile, pwriteFull, registerInput, releaseOutput, syncOutput } from '../util/file';
import { IncompleteGuard } from './incomplete-guard';
import { FLAT_HEADER_BLOCK, FLAT_SIGNATURE, FlatHeader, TYPE_FLAT_HEADER } from './flattened';

export interface RebuildOptions {
  /** overwrite an existing output file (-f) */
  force: boolean;
}

export interface RebuildResult {
  /** size of the rebuilt file */
  bytes: number;
  /** data records applied */
  records: number;
}

const DATA_HEADER = 16;
/** bytes asked of the input per read */
const READ_CHUNK = 8 << 20;
/** contiguous record payloads are gathered into writes of up to this many bytes */
const WRITE_GATHER = 8 << 20;

function bad(code: string, message: string): DumpError {
  return new DumpError(code, message);
}

/**
 * Parses a flattened stream pushed to it in chunks of any size and hands each record's
 * payload (possibly in pieces) to `apply` in stream order.
 */
export class FlatStreamParser {
  /** bytes of the stream consumed so far */
  streamPos = 0;
  records = 0;
  private state: 'header' | 'data-header' | 'payload' | 'done' = 'header';
  private readonly carry = Buffer.alloc(FLAT_HEADER_BLOCK);
  private carried = 0;
  private first = true;
  private emptyFirst = false;
  private recOffset = 0;
  private recSize = 0;
  private recDone = 0;
  private recStart = 0;

  constructor(private readonly apply: (payload: Buffer, offset: number) => void) {}

  get done(): boolean {
    return this.state === 'done';
  }

  /** Consumes a chunk; returns true once the end marker has been read (the rest is ignored). */
  push(chunk: Buffer): boolean {
    let at = 0;
    while (at < chunk.length && this.state !== 'done') {
      if (this.state === 'payload') {
        const n = Math.min(this.recSize - this.recDone, chunk.length - at);
        this.apply(chunk.subarray(at, at + n), this.recOffset + this.recDone);
        this.recDone += n;
        at += n;
        this.streamPos += n;
        if (this.recDone === this.recSize) this.state = 'data-header';
        continue;
      }
      const need = this.state === 'header' ? FLAT_HEADER_BLOCK : DATA_HEADER;
      if (this.carried === 0 && chunk.length - at >= need) {
        // whole header inside this chunk
        at += need;
        this.streamPos += need;
        this.onHeader(chunk.subarray(at - need, at));
        continue;
      }
      const n = Math.min(need - this.carried, chunk.length - at);
      chunk.copy(this.carry, this.carried, at, at + n);
      this.carried += n;
      at += n;
      this.streamPos += n;
      if (this.carried === need) {
        this.carried = 0;
        this.onHeader(this.carry.subarray(0, need));
      }
    }
    return this.state === 'done';
  }

  /** The input ended: fine only after the end marker. */
  finish(): void {
    switch (this.state) {
      case 'done':
        return;
      case 'header':
        if (this.streamPos === 0) throw bad('flat-empty', 'the flattened stream is empty: no makedumpfile header');
        throw bad('flat-truncated', `the flattened stream ends inside its ${FLAT_HEADER_BLOCK}-byte header (${this.streamPos} bytes)`);
      case 'data-header':
        if (this.carried === 0 && this.records === 0 && this.emptyFirst) {
          throw bad('flat-no-records', 'the flattened stream holds no data records (its first record header is the end marker)');
        }
        if (this.carried === 0) {
          throw bad('flat-truncated', `the flattened stream is truncated: it ends after ${this.records} records without the end marker`);
        }
        throw bad('flat-truncated', `the flattened stream is truncated inside a record header at stream offset ${this.streamPos - this.carried}`);
      case 'payload':
        throw bad('flat-truncated',
          `the flattened stream is truncated: record ${this.records} (${this.recSize} bytes for dump offset ${this.recOffset}, at stream offset ${this.recStart}) ends after ${this.recDone} bytes`);
    }
  }

  private onHeader(h: Buffer): void {
    if (this.state === 'header') {
      this.checkStreamHeader(h);
      this.state = 'data-header';
      return;
    }
    const at = this.streamPos - DATA_HEADER;
    const offset = h.readBigInt64BE(0);
    const size = h.readBigInt64BE(8);
    const first = this.first;
    this.first = false;
    if (offset >= 0n && size > 0n) {
      if (offset + size > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw bad('flat-bad-record', `flattened record at stream offset ${at} reaches beyond 2^53 (offset ${offset}, size ${size}): the stream is corrupt`);
      }
      this.recOffset = Number(offset);
      this.recSize = Number(size);
      this.recDone = 0;
      this.recStart = at;
      this.records++;
      this.state = 'payload';
      return;
    }
    if (first && size <= 0n) {
      // makedumpfile applies the first header without testing it, so an empty first
      // record (even the end marker) is stepped over and the walk goes on
      this.emptyFirst = offset === -1n && size === -1n;
      return;
    }
    if (offset === -1n && size === -1n) {
      this.state = 'done';
      return;
    }
    throw bad('flat-bad-record',
      `invalid flattened record header at stream offset ${at}: offset ${offset}, size ${size} (neither a record nor the end marker)`);
  }

  private checkStreamHeader(h: Buffer): void {
    const sig = Buffer.from(FLAT_SIGNATURE + '\0', 'latin1');
    // compared as a C string: "makedumpfile" and its NUL
    if (!h.subarray(0, sig.length).equals(sig)) {
      throw bad('flat-signature', `not a flattened dump: the stream does not start with the "${FLAT_SIGNATURE}" signature`);
    }
    let type: number;
    try {
      type = FlatHeader.decode(h).type;
    } catch {
      type = NaN;
    }
    if (type !== TYPE_FLAT_HEADER) {
      throw bad('flat-type', `flattened stream header has type ${h.readBigInt64BE(16)}, expected ${TYPE_FLAT_HEADER}`);
    }
  }
}

/** Positioned writes into the output, contiguous pieces gathered into large writes. */
class GatherWriter {
  private readonly buf = Buffer.allocUnsafe(WRITE_GATHER);
  private len = 0;
  private start = 0;
  end = 0;

  /** header records are written flagged incomplete until finish() */
  private readonly guard = new IncompleteGuard();

  constructor(private readonly fd: number, private readonly name: string) {}

  write(data: Buffer, offset: number): void {
    const guarded = this.guard.pass(data, offset);
    this.put(guarded.data, offset);
    if (guarded.flag) this.put(guarded.flag, guarded.flagAt);
  }

  /** Everything written and synced, then the header as the stream says it: the file is complete. */
  finish(): void {
    this.flush();
    const flag = this.guard.finalWord();
    if (!flag) return;
    syncOutput(this.fd, this.name);
    this.pwrite(flag.bytes, flag.at);
  }

  private put(data: Buffer, offset: number): void {
    if (this.len > 0 && offset === this.start + this.len && this.len + data.length <= this.buf.length) {
      data.copy(this.buf, this.len);
      this.len += data.length;
    } else {
      this.flush();
      if (data.length >= this.buf.length / 2) {
        this.pwrite(data, offset);
      } else {
        data.copy(this.buf, 0);
        this.start = offset;
        this.len = data.length;
      }
    }
    this.end = Math.max(this.end, offset + data.length);
  }

  flush(): void {
    if (this.len === 0) return;
    const n = this.len;
    this.len = 0;
    this.pwrite(this.buf.subarray(0, n), this.start);
  }

  private pwrite(data: Buffer, offset: number): void {
    try {
      pwriteFull(this.fd, data, 0, data.length, offset);
    } catch (e) {
      throw writeFailure(e, this.name);
    }
  }
}

function readFd(fd: number, buf: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      fs.read(fd, buf, 0, buf.length, null, (err, n) => {
        if (err) {
          if (err.code === 'EAGAIN') {
            setTimeout(attempt, 2);
            return;
          }
          reject(err);
          return;
        }
        resolve(n);
      });
    };
    attempt();
  });
}

/** Large chunks from a file descriptor (one reused buffer) or a readable stream. */
async function* chunksOf(input: number | NodeJS.ReadableStream): AsyncGenerator<Buffer> {
  if (typeof input === 'number') {
    const buf = Buffer.allocUnsafe(READ_CHUNK);
    for (;;) {
      let n: number;
      try {
        n = await readFd(input, buf);
      } catch (e) {
        throw new DumpError('read-error', `can't read the flattened stream: ${(e as Error).message}`);
      }
      if (n === 0) return;
      yield buf.subarray(0, n);
    }
  }
  for await (const c of input as AsyncIterable<Buffer | string>) {
    yield typeof c === 'string' ? Buffer.from(c, 'latin1') : c;
  }
}

/**
 * makedumpfile -R: reads a flattened stream from `input` (a file descriptor such as 0, or
 * a readable stream) and writes the dump file it describes to `outputPath`.
 */
export async function rebuildFlattened(
  input: number | NodeJS.ReadableStream, outputPath: string, opts: RebuildOptions,
): Promise<RebuildResult> {
  // `cyclodump -R -f F < F` would truncate its own input
  if (typeof input === 'number') registerInput(input, 'the flattened stream (standard input)');
  let out: OutputFile;
  try {
    out = openOutputFile(outputPath, { force: opts.force, what: 'dump file' });
  } catch (e) {
    if (typeof input === 'number') closeInput(input, false);
    throw e;
  }
  const writer = new GatherWriter(out.fd, outputPath);
  const parser = new FlatStreamParser((payload, offset) => writer.write(payload, offset));
  let ok = false;
  try {
    for await (const chunk of chunksOf(input)) {
      if (parser.push(chunk)) break;
    }
    parser.finish();
    writer.finish();
    ok = true;
    return { bytes: writer.end, records: parser.records };
  } finally {
    releaseOutput(out, !ok);
    if (typeof input === 'number') closeInput(input, false);
  }
}

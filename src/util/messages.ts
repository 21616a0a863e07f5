// makedumpfile's message levels (--message-level, a bit mask): which kinds of output are
// printed and where. Common and report messages go to stdout, errors and progress to stderr.
// Warnings and errors are log lines (util/log.ts: text, or JSON with --log-json); common,
// debug and report messages keep makedumpfile's plain stdout form, which scripts read.
import { Logger } from './log';

export const ML_PRINT_PROGRESS = 0x01;
export const ML_PRINT_COMMON_MSG = 0x02;
export const ML_PRINT_ERROR_MSG = 0x04;
export const ML_PRINT_DEBUG_MSG = 0x08;
export const ML_PRINT_REPORT_MSG = 0x10;
export const DEFAULT_MSG_LEVEL = 7;
export const MAX_MSG_LEVEL = 31;

export interface TextOut {
  write(s: string): unknown;
  isTTY?: boolean;
}

/** A line redrawn in place on a terminal (the progress meter), cleared before other output. */
export interface StatusLine {
  /** erases the line if it is drawn; it is drawn again at the next update */
  clear(): void;
}

export interface MessagesOptions {
  /** --log-json */
  json?: boolean;
}

export class Messages {
  readonly log: Logger;
  private status?: StatusLine;

  constructor(
    public level: number = DEFAULT_MSG_LEVEL,
    readonly out: TextOut = process.stdout,
    readonly err: TextOut = process.stderr,
    opts: MessagesOptions = {},
  ) {
    this.log = new Logger({ json: !!opts.json, mask: () => this.level, write: (s) => this.put(this.err, s) });
  }

  /** common message (stdout) */
  msg(text: string): void {
    if (this.level & ML_PRINT_COMMON_MSG) this.put(this.out, text.endsWith('\n') ? text : text + '\n');
  }

  /** one-line error (stderr) */
  error(text: string): void {
    this.log.error(text);
  }

  /** a warning: something was kept or skipped, the dump goes on (stderr, as an error-level line) */
  warn(text: string): void {
    this.log.warn(text);
  }

  debug(text: string): void {
    if (this.level & ML_PRINT_DEBUG_MSG) this.put(this.out, text.endsWith('\n') ? text : text + '\n');
  }

  report(text: string): void {
    if (this.level & ML_PRINT_REPORT_MSG) this.put(this.out, text.endsWith('\n') ? text : text + '\n');
  }

  get progressEnabled(): boolean {
    return (this.level & ML_PRINT_PROGRESS) !== 0;
  }

  /** The progress meter registers its line here while it is drawn on a terminal. */
  setStatusLine(s: StatusLine | undefined): void {
    this.status = s;
  }

  /** Writes to out or err, first erasing a status line drawn on the terminal. */
  put(stream: TextOut, text: string): void {
    if (broken.has(stream)) return;
    watchForBrokenPipe(stream, this.err);
    if (this.status && stream.isTTY) this.status.clear();
    stream.write(text);
  }
}

/** streams whose reader went away: nothing more is written to them */
const broken = new WeakSet<object>();
const watched = new WeakSet<object>();

/**
 * A pipe whose reader went away (`cyclodump ... | head -1`) fails the next write with EPIPE,
 * emitted as an 'error' event that would end the process with a stack trace. The stream
 * is given up instead, and stderr says so once: the dump itself goes on.
 */
function watchForBrokenPipe(stream: TextOut, err: TextOut): void {
  const s = stream as TextOut & { on?: (ev: string, fn: (e: NodeJS.ErrnoException) => void) => void };
  if (watched.has(stream) || typeof s.on !== 'function') return;
  watched.add(stream);
  s.on('error', (e) => {
    if (e.code !== 'EPIPE') throw e;
    broken.add(stream);
    if (stream !== err && !broken.has(err)) err.write(`cyclodump: ${stream === process.stdout ? 'standard output' : 'a message stream'}: the reader went away (broken pipe); its messages are dropped\n`);
  });
}

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
    if (this.status && stream.isTTY) this.status.clear();
    stream.write(text);
  }
}

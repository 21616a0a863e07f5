// makedumpfile's message levels (--message-level, a bit mask): which kinds of output are
// printed and where. Common and report messages go to stdout, errors and progress to stderr.

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

export class Messages {
  constructor(
    public level: number = DEFAULT_MSG_LEVEL,
    readonly out: TextOut = process.stdout,
    readonly err: TextOut = process.stderr,
  ) {}

  /** common message (stdout) */
  msg(text: string): void {
    if (this.level & ML_PRINT_COMMON_MSG) this.out.write(text.endsWith('\n') ? text : text + '\n');
  }

  /** one-line error (stderr) */
  error(text: string): void {
    if (this.level & ML_PRINT_ERROR_MSG) this.err.write(text.endsWith('\n') ? text : text + '\n');
  }

  /** a warning: something was kept or skipped, the dump goes on (stderr, as an error-level line) */
  warn(text: string): void {
    this.error(`warning: ${text}`);
  }

  debug(text: string): void {
    if (this.level & ML_PRINT_DEBUG_MSG) this.out.write(text.endsWith('\n') ? text : text + '\n');
  }

  report(text: string): void {
    if (this.level & ML_PRINT_REPORT_MSG) this.out.write(text.endsWith('\n') ? text : text + '\n');
  }

  get progressEnabled(): boolean {
    return (this.level & ML_PRINT_PROGRESS) !== 0;
  }
}

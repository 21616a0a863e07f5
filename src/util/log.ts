// Log lines on stderr: readable text by default, one JSON object per line, made by pino,
// with --log-json. Which lines are written follows makedumpfile's message levels (messages.ts):
// warnings and errors with bit 4, common lines with bit 2, debug with bit 8, phase timings
// with bit 16 (makedumpfile prints its STEP timings as report messages), progress records
// with bit 1 (JSON only: on text the progress line is drawn by pipeline/progress.ts).
//
// pino is slow to load for a short run (perf/RESULTS.md), so only --log-json loads it, when its
// first line is written: text lines are written directly (pino's record only carried the
// level and the message to them).
import type { Logger as PinoLogger } from 'pino';

export const LOG_PROGRESS = 0x01;
export const LOG_COMMON = 0x02;
export const LOG_ERROR = 0x04;
export const LOG_DEBUG = 0x08;
export const LOG_REPORT = 0x10;

export type LogLevelName = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface LoggerOptions {
  /** --log-json: JSON lines instead of text */
  json: boolean;
  /** the --message-level mask, read at every call (it may change after construction) */
  mask: () => number;
  /** writes one finished line (ends in "\n") to stderr */
  write: (line: string) => void;
}

/** Text form of a record: what an operator reads on a console. */
export function textLine(level: string, msg: string): string {
  const body = level === 'warn' ? `warning: ${msg}` : msg;
  return body.endsWith('\n') ? body : body + '\n';
}

export class Logger {
  private pino?: PinoLogger;

  constructor(private readonly o: LoggerOptions) {}

  get json(): boolean {
    return this.o.json;
  }

  /** whether pino has been loaded (start-up cost checks) */
  get loaded(): boolean {
    return this.pino !== undefined;
  }

  debug(msg: string, fields?: LogFields): void {
    if (this.o.mask() & LOG_DEBUG) this.emit('debug', msg, fields);
  }

  info(msg: string, fields?: LogFields): void {
    if (this.o.mask() & LOG_COMMON) this.emit('info', msg, fields);
  }

  /** a phase timing (makedumpfile's STEP lines): report level */
  step(msg: string, fields?: LogFields): void {
    if (this.o.mask() & LOG_REPORT) this.emit('info', msg, fields);
  }

  warn(msg: string, fields?: LogFields): void {
    if (this.o.mask() & LOG_ERROR) this.emit('warn', msg, fields);
  }

  error(msg: string, fields?: LogFields): void {
    if (this.o.mask() & LOG_ERROR) this.emit('error', msg, fields);
  }

  /** the line that ends a failed run: always written, whatever the message level */
  fatal(msg: string, fields?: LogFields): void {
    this.emit('error', msg, fields);
  }

  /** a progress record (JSON only; the text progress line is drawn by the progress meter) */
  progress(msg: string, fields: LogFields): void {
    if (this.o.json && (this.o.mask() & LOG_PROGRESS)) this.emit('info', msg, fields);
  }

  private emit(level: LogLevelName, msg: string, fields?: LogFields): void {
    if (!this.o.json) {
      this.o.write(textLine(level, msg));
      return;
    }
    const p = this.pino ?? this.load();
    if (fields) p[level](fields, msg);
    else p[level](msg);
  }

  private load(): PinoLogger {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const pino = require('pino') as typeof import('pino');
    const write = this.o.write;
    const dest = {
      write(line: string): void {
        write(line.endsWith('\n') ? line : line + '\n');
      },
    };
    this.pino = pino.default({
      name: 'cyclodump',
      level: 'debug',
      base: { pid: process.pid },
      formatters: { level: (label: string) => ({ level: label }) },
    }, dest);
    return this.pino;
  }
}

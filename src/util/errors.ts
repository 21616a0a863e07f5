// Errors that end a run with a one-line message and a documented exit status.
// Exit statuses follow makedumpfile: 0 completed, 1 failed, 2 wrong release.

export const EXIT_COMPLETED = 0;
export const EXIT_FAILED = 1;
export const EXIT_WRONG_RELEASE = 2;

/**
 * A failure the user must see as one line. `code` names the problem for tests and
 * scripts (it is what the bad-input corpus files are named after).
 */
export class DumpError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: number = EXIT_FAILED,
  ) {
    super(message);
    this.name = 'DumpError';
  }
}

/** Thrown when the output device is full (ENOSPC/EDQUOT/EFBIG or the -L limit). */
export class NoSpaceError extends DumpError {
  constructor(message: string) {
    super('no-space', message);
    this.name = 'NoSpaceError';
  }
}

export function isNoSpace(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return err instanceof NoSpaceError || code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG';
}

/**
 * The one line for a write to file `name` that failed (`what` names it: "the dump file
 * NAME"): a full disk or quota (NoSpaceError, which a next dump level may cure), a file
 * grown past what its file system or RLIMIT_FSIZE allows (EFBIG: "file too large", also a
 * NoSpaceError), a reader that went away from a pipe (EPIPE), or the system's own words.
 */
export function writeFailure(e: unknown, name: string, what = `the dump file ${name}`): DumpError {
  if (e instanceof DumpError) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return new NoSpaceError(`no space left on the device holding ${name}`);
  if (code === 'EFBIG') return new NoSpaceError(`${what} is too large: the file system or the file size limit (ulimit -f) allows no more (file too large)`);
  if (code === 'EPIPE') return new DumpError('write-error', `can't write ${what}: the reader went away (broken pipe)`);
  return new DumpError('write-error', `can't write ${what}: ${(e as Error)?.message ?? String(e)}`);
}

/**
 * Text taken from the input (a VMCOREINFO value, a kernel release read from memory), fit
 * for a one-line message: control and non-ASCII characters as \xNN, at most `max` long.
 */
export function printable(s: string, max = 120): string {
  // eslint-disable-next-line no-control-regex
  const t = s.replace(/[\x00-\x1f\x7f-\uffff]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return t.length > max ? `${t.slice(0, max)}...` : t;
}


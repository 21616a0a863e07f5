// File names as the bytes the user gave. Node decodes the command line as UTF-8 and puts
// U+FFFD where the bytes are not UTF-8, so a dump file named $'x\xff.cd' would be created
// as x\xef\xbf\xbd.cd, and an input named $'in\xff.vmcore' would not be found. Linux file
// names are bytes: the raw arguments are read back from /proc/self/cmdline, and every
// open of an input or output file goes through fsPath().
import * as fs from 'fs';

const REPLACEMENT = '\ufffd';
/** decoded argument (or --option=value value) -> its bytes, for those that did not decode */
const raw = new Map<string, Buffer | null>();

function remember(text: string, bytes: Buffer): void {
  if (!text.includes(REPLACEMENT)) return;
  const had = raw.get(text);
  // two arguments that decode alike but differ in bytes: neither can be told by its text
  raw.set(text, had === undefined || (had !== null && had.equals(bytes)) ? bytes : null);
}

/**
 * Records the bytes of the arguments `argv` (the program's, as main() gets them): they are
 * the last entries of /proc/self/cmdline. Nothing is recorded unless every one of them
 * decodes to the text Node gave (main() called with other arguments, as in tests).
 */
export function recordArgvBytes(argv: readonly string[]): void {
  let cmdline: Buffer;
  try {
    cmdline = fs.readFileSync('/proc/self/cmdline');
  } catch {
    return;
  }
  const parts: Buffer[] = [];
  for (let at = 0; at < cmdline.length;) {
    let end = cmdline.indexOf(0, at);
    if (end < 0) end = cmdline.length;
    parts.push(cmdline.subarray(at, end));
    at = end + 1;
  }
  if (parts.length < argv.length) return;
  const tail = parts.slice(parts.length - argv.length);
  if (!tail.every((b, i) => b.toString('utf8') === argv[i])) return;
  tail.forEach((b, i) => {
    remember(argv[i], b);
    const eq = b.indexOf(0x3d);
    if (argv[i].startsWith('--') && eq > 0) remember(argv[i].slice(argv[i].indexOf('=') + 1), b.subarray(eq + 1));
  });
}

/** The bytes of a name that did not decode (to hand to a worker thread, which has its own table). */
export function pathBytes(name: string): Uint8Array | undefined {
  return raw.get(name) ?? undefined;
}

/** Records the bytes of a name in this thread's table (a worker's, from pathBytes in the main thread). */
export function recordPathBytes(name: string, bytes: Uint8Array): void {
  remember(name, Buffer.from(bytes));
}

/** The name to give the file system for a file name from the command line: its own bytes where Node's text lost them. */
export function fsPath(name: string): string | Buffer {
  return raw.get(name) ?? name;
}

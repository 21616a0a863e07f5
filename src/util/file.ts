// Positioned reads and writes that loop until the whole range is done; fs.readSync
// and fs.writeSync may move fewer bytes than asked for.
import * as fs from 'fs';

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

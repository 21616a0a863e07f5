// --dry-run: everything is done but nothing is written.
import type { DumpSink } from './sink';

export class NullSink implements DumpSink {
  readonly name = '(dry run)';
  readonly seekable = true;
  bytesWritten = 0;

  write(buf: Uint8Array): void {
    this.bytesWritten += buf.length;
  }

  close(): void {}

  discard(): boolean {
    return true;
  }
}

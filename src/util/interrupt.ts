// SIGINT/SIGTERM during a dump: the pipeline stops at the next batch boundary, so what is
// on disk stays consistent and the file can be marked incomplete instead of being left as
// an unmarked truncated dump. A second signal ends the process at once, after the
// output has been marked incomplete (a synchronous rewrite of one header word).
import { DumpError } from './errors';

let received: NodeJS.Signals | undefined;
let installed = false;
const lastWords = new Set<() => void>();

/** Runs `fn` if a second signal ends the process; returns the function that unregisters it. */
export function onForcedExit(fn: () => void): () => void {
  lastWords.add(fn);
  return () => { lastWords.delete(fn); };
}

export class InterruptedError extends DumpError {
  constructor(signal: string) {
    super('interrupted', `interrupted by ${signal}`);
    this.name = 'InterruptedError';
  }
}

export function installSignalHandlers(): void {
  if (installed) return;
  installed = true;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as NodeJS.Signals[]) {
    process.on(sig, () => {
      if (received) {
        for (const fn of lastWords) {
          try { fn(); } catch { /* exiting anyway */ }
        }
        process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
      }
      received = sig;
    });
  }
}

/** Throws once a signal has arrived; called between batches, cycles and segments. */
export function checkInterrupted(): void {
  if (received) throw new InterruptedError(received);
}

// One progress indicator for the whole run (not one per cycle or pass): percent, MB/s in
// and out, ETA; redrawn in place on a terminal, a plain line every few seconds otherwise,
// so that a serial console shows life. Updated by time, never per page.
import type { Messages } from '../util/messages';

export interface ProgressOptions {
  /** redraw interval on a TTY */
  ttyIntervalMs?: number;
  /** plain-line interval without a TTY */
  plainIntervalMs?: number;
  now?: () => number;
}

export class Progress {
  private scanDone = 0;
  private scanTotal = 1;
  private writeDone = 0;
  private writeTotal = 0;
  private bytesIn = 0;
  private bytesOut = 0;
  private readonly start: number;
  private last = 0;
  private drawn = false;
  private readonly tty: boolean;
  private readonly interval: number;
  private readonly now: () => number;
  /** share of the run spent scanning mem_map, for a percentage that moves evenly */
  private scanWeight = 0.1;

  constructor(private readonly msgs: Messages, opts: ProgressOptions = {}) {
    this.now = opts.now ?? (() => Date.now());
    this.start = this.now();
    this.tty = !!msgs.err.isTTY;
    this.interval = this.tty ? (opts.ttyIntervalMs ?? 250) : (opts.plainIntervalMs ?? 5000);
    this.last = this.start;
  }

  setScanTotal(pfns: number, weight: number): void {
    this.scanTotal = Math.max(1, pfns);
    this.scanWeight = weight;
  }

  setWriteTotal(pages: number): void {
    this.writeTotal = pages;
  }

  scanned(pfns: number, memMapBytes: number): void {
    this.scanDone += pfns;
    this.bytesIn += memMapBytes;
    this.tick();
  }

  written(pages: number, bytesIn: number, bytesOut: number): void {
    this.writeDone += pages;
    this.bytesIn += bytesIn;
    this.bytesOut += bytesOut;
    this.tick();
  }

  get fraction(): number {
    const s = Math.min(1, this.scanDone / this.scanTotal);
    const w = this.writeTotal > 0 ? Math.min(1, this.writeDone / this.writeTotal) : 0;
    return s * this.scanWeight + w * (1 - this.scanWeight);
  }

  private tick(): void {
    if (!this.msgs.progressEnabled) return;
    const t = this.now();
    if (t - this.last < this.interval) return;
    this.last = t;
    this.draw(t, false);
  }

  /** the final 100% line */
  finish(): void {
    if (!this.msgs.progressEnabled) return;
    this.draw(this.now(), true);
    if (this.tty) this.msgs.err.write('\n');
  }

  private draw(t: number, done: boolean): void {
    const f = done ? 1 : this.fraction;
    const secs = Math.max(0.001, (t - this.start) / 1000);
    const mbIn = this.bytesIn / secs / 1e6;
    const mbOut = this.bytesOut / secs / 1e6;
    let eta = '';
    if (!done && f > 0.01) eta = ` eta ${formatDuration(secs / f - secs)}`;
    const line = `Dumping: ${(f * 100).toFixed(1).padStart(5)}% | in ${mbIn.toFixed(1)} MB/s | out ${mbOut.toFixed(1)} MB/s | ${formatDuration(secs)}${eta}`;
    if (this.tty) {
      this.msgs.err.write(`\r${line}\x1b[K`);
      this.drawn = true;
    } else {
      this.msgs.err.write(line + '\n');
    }
  }

  get hasDrawn(): boolean {
    return this.drawn;
  }
}

export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${Math.round(s % 60).toString().padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${(m % 60).toString().padStart(2, '0')}m`;
}

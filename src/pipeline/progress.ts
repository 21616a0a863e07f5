// One progress indicator for the whole run (not one per cycle or pass): percent, MB/s in
// and out, ETA. On a terminal one line redrawn in place; otherwise a plain line every few
// seconds, so that a serial console shows life; with --log-json a JSON record instead.
// Drawn by time (a timer, and a clock check when work is reported), never per page.
// Silenced by --message-level without bit 1. The same timer warns when nothing has moved
// for a while (a stalled disk or input): that warning is an error-level message.
//
// The percentage is work done over work to do, the work of each pass weighed by what it
// costs: a pfn scanned in mem_map is cheap, a page read and compressed is not (COST, from
// measurements). Pages to write are estimated from what the scan has kept so far until the
// scan ends, then known exactly. The shown value never goes back, stays below 100% until
// the run has really done all its work, and reads 100% once, on the last line.
import type { CodecName } from '../codec';
import type { Messages, StatusLine } from '../util/messages';

/** Estimated cost in microseconds of one core, per unit of work (measured on real-1g, Node 20). */
export const COST = {
  /** one pfn of the struct-page scan (mem_map read through the page tables, classified) */
  structScanPerPfn: 0.6,
  /** one pfn when no struct page is read (the bitmap comes from PT_LOADs alone) */
  plainScanPerPfn: 0.01,
  /** reading one page and testing it for zero */
  readPerPage: 2.5,
  /** compressing one page, by codec (added to the read) */
  codecPerPage: { none: 1, lzo: 22, zlib: 55, zstd: 24, snappy: 11 } as Record<CodecName, number>,
};

export interface ProgressPlan {
  /** pfns pass 1 walks */
  pfns: number;
  /** pages present in memory: the most pass 2 can write */
  presentPages: number;
  /** whether pass 1 reads struct pages */
  structScan: boolean;
  /** whether pass 1 also reads every dumpable page for the zero test (-E, --mem-usage with bit 1) */
  zeroScan: boolean;
  /** false when nothing is written (--mem-usage) */
  write: boolean;
  codec: CodecName;
  /** share of present pages expected to be kept, before the scan has said anything */
  keptPrior: number;
}

export interface ProgressOptions {
  /** redraw interval on a terminal (default 250 ms, or CYCLODUMP_PROGRESS_MS) */
  ttyIntervalMs?: number;
  /** plain-line and JSON-record interval (default 5000 ms, or CYCLODUMP_PROGRESS_MS) */
  plainIntervalMs?: number;
  /** warn when no work has been reported for this long (default 30000 ms, or CYCLODUMP_STALL_MS) */
  stallMs?: number;
  now?: () => number;
  /** run a timer (default); unit tests drive poll() by hand instead */
  timer?: boolean;
  /** first word of the line (default "Dumping", makedumpfile's word) */
  label?: string;
}

type Phase = 'start' | 'scan' | 'write' | 'done' | 'stopped';

function envMs(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

interface Sample {
  t: number;
  bytesIn: number;
  bytesOut: number;
}

/** how far back rates and the ETA look */
const RATE_WINDOW_MS = 10_000;

export class Progress implements StatusLine {
  private plan: ProgressPlan = {
    pfns: 1, presentPages: 0, structScan: false, zeroScan: false, write: true, codec: 'none', keptPrior: 1,
  };
  private phase: Phase = 'start';
  private scanPfns = 0;
  private scanPresent = 0;
  private scanExcluded = 0;
  private zeroPages = 0;
  private writeDone = 0;
  private writeTotal = -1;
  private bytesIn = 0;
  private bytesOut = 0;
  private readonly start: number;
  private scanEndedAt = -1;
  private lastDraw: number;
  private lastActivity: number;
  private stallReported = false;
  private shown = 0;
  private visible = false;
  private finished = false;
  private timer?: NodeJS.Timeout;
  private samples: Sample[] = [];
  private readonly tty: boolean;
  private readonly json: boolean;
  private readonly interval: number;
  private readonly stallMs: number;
  private readonly now: () => number;
  /** first word of the line */
  label: string;
  private readonly useTimer: boolean;

  constructor(private readonly msgs: Messages, opts: ProgressOptions = {}) {
    this.now = opts.now ?? (() => Date.now());
    this.start = this.now();
    this.json = msgs.log.json;
    this.tty = !this.json && !!msgs.err.isTTY;
    const envInterval = envMs('CYCLODUMP_PROGRESS_MS');
    this.interval = this.tty ? (opts.ttyIntervalMs ?? envInterval ?? 250) : (opts.plainIntervalMs ?? envInterval ?? 5000);
    this.stallMs = opts.stallMs ?? envMs('CYCLODUMP_STALL_MS') ?? 30_000;
    this.label = opts.label ?? 'Dumping';
    this.useTimer = opts.timer ?? true;
    this.lastDraw = this.start;
    this.lastActivity = this.start;
  }

  /** Pass 1 begins: what the run will do, for the weights. Starts the timer. */
  begin(plan: ProgressPlan): void {
    this.plan = { ...plan, pfns: Math.max(1, plan.pfns) };
    this.phase = 'scan';
    this.lastActivity = this.now();
    if (this.useTimer && !this.timer) {
      this.timer = setInterval(() => this.poll(), Math.max(20, Math.min(this.interval, 1000)));
      this.timer.unref();
    }
  }

  /** Kept for callers that only know the scan size: a plain plan with the given pfns. */
  setScanTotal(pfns: number): void {
    this.begin({ ...this.plan, pfns });
  }

  /** pfns of pass 1 done, with what they held (present pages, of which excluded). */
  scanned(pfns: number, memMapBytes: number, presentPages = 0, excludedPages = 0): void {
    this.scanPfns += pfns;
    this.scanPresent += presentPages;
    this.scanExcluded += excludedPages;
    this.bytesIn += memMapBytes;
    this.activity();
  }

  /** pages read by pass 1's zero test */
  zeroScanned(pages: number, bytesRead: number): void {
    this.zeroPages += pages;
    this.bytesIn += bytesRead;
    this.activity();
  }

  /** Pass 1 is over: its timing goes to the log (report level). */
  scanFinished(stats: { ms: number; pfns: number; memMapBytes: number; dumpable: number }): void {
    this.scanPfns = Math.max(this.scanPfns, this.plan.pfns);
    this.scanEndedAt = this.now();
    this.msgs.log.step(`scan: ${(stats.ms / 1000).toFixed(3)} s, ${stats.pfns} pfns, ${mb(stats.memMapBytes)} MB of mem_map read, ${stats.dumpable} pages to dump`,
      { phase: 'scan', ms: stats.ms, pfns: stats.pfns, memMapBytes: stats.memMapBytes, dumpablePages: stats.dumpable });
    this.activity();
  }

  /** Pass 2 begins, with the exact number of pages it writes. */
  setWriteTotal(pages: number): void {
    this.writeTotal = pages;
    this.phase = 'write';
    if (this.scanEndedAt < 0) this.scanEndedAt = this.now();
    this.activity();
  }

  written(pages: number, bytesIn: number, bytesOut: number): void {
    this.writeDone += pages;
    this.bytesIn += bytesIn;
    this.bytesOut += bytesOut;
    this.activity();
  }

  /** Work done and to do, in estimated microseconds of one core. */
  private work(): { done: number; total: number } {
    const p = this.plan;
    const perPfn = p.structScan ? COST.structScanPerPfn : COST.plainScanPerPfn;
    const perPage = COST.readPerPage + (COST.codecPerPage[p.codec] ?? COST.codecPerPage.zlib);
    let kept: number;
    if (this.writeTotal >= 0) {
      kept = this.writeTotal;
    } else if (this.scanPresent > 0) {
      kept = p.presentPages * Math.max(0, 1 - this.scanExcluded / this.scanPresent);
    } else {
      kept = p.presentPages * p.keptPrior;
    }
    const zeroTotal = p.zeroScan ? Math.max(kept, this.zeroPages) : 0;
    const total = p.pfns * perPfn + zeroTotal * COST.readPerPage + (p.write ? Math.max(kept, this.writeDone) * perPage : 0);
    const done = Math.min(this.scanPfns, p.pfns) * perPfn + this.zeroPages * COST.readPerPage + (p.write ? this.writeDone * perPage : 0);
    return { done, total: Math.max(total, 1) };
  }

  /**
   * The share of the run done at time t. Until pass 2 has a rate of its own, the cost
   * model's; then, blended in over its first tenth, the share of time: time elapsed over
   * time elapsed plus what pass 2's rate says is left (its pages do not all cost the same:
   * zero pages are not compressed, some pages compress faster).
   */
  private estimate(t: number): number {
    const { done, total } = this.work();
    const model = done / total;
    if (this.writeTotal <= 0 || this.writeDone <= 0 || this.scanEndedAt < 0) return model;
    const share = Math.min(1, this.writeDone / this.writeTotal);
    const writeMs = t - this.scanEndedAt;
    if (writeMs < 200) return model;
    const elapsed = t - this.start;
    const timed = elapsed / (elapsed + (writeMs * (1 - share)) / share);
    const w = Math.min(1, share / 0.1);
    return (1 - w) * model + w * timed;
  }

  private fractionAt(t: number): number {
    if (this.phase === 'done') return 1;
    this.shown = Math.max(this.shown, Math.min(0.999, this.estimate(t)));
    return this.shown;
  }

  /** The share shown: never backwards, below 1 until finish() finds all work done. */
  get fraction(): number {
    return this.fractionAt(this.now());
  }

  /** whether all the work announced has been reported done */
  get complete(): boolean {
    if (this.phase === 'start') return false;
    if (this.scanPfns < this.plan.pfns) return false;
    if (!this.plan.write) return true;
    return this.writeTotal >= 0 && this.writeDone >= this.writeTotal;
  }

  private activity(): void {
    const t = this.now();
    if (this.stallReported) {
      this.stallReported = false;
      this.msgs.log.warn(`progress resumed after ${((t - this.lastActivity) / 1000).toFixed(0)} s of standstill`, { stallMs: t - this.lastActivity });
    }
    this.lastActivity = t;
    if (t - this.lastDraw >= this.interval) this.draw(t);
  }

  /** Timer tick: redraw when due, warn once per stall. */
  poll(): void {
    if (this.finished || this.phase === 'start') return;
    const t = this.now();
    if (!this.stallReported && t - this.lastActivity >= this.stallMs) {
      this.stallReported = true;
      this.clear();
      this.msgs.log.warn(`no progress for ${((t - this.lastActivity) / 1000).toFixed(0)} s (${this.phaseName()}, ${(this.fraction * 100).toFixed(1)}%): is the disk or the input stuck?`,
        { stallMs: t - this.lastActivity, phase: this.phaseName(), percent: round1(this.fraction * 100) });
    }
    if (t - this.lastDraw >= this.interval) this.draw(t);
  }

  /**
   * The run is over: the last line (100% if all the work was done, else where it stopped),
   * the write phase's timing. Stops the timer.
   */
  finish(): void {
    if (this.finished) return;
    const t = this.now();
    const ok = this.complete;
    this.phase = ok ? 'done' : 'stopped';
    this.draw(t, true);
    if (this.visible) this.msgs.err.write('\n');
    this.visible = false;
    this.msgs.setStatusLine(undefined);
    if (this.plan.write && this.scanEndedAt >= 0) {
      const ms = t - this.scanEndedAt;
      this.msgs.log.step(`compress/write: ${(ms / 1000).toFixed(3)} s, ${this.writeDone} pages, ${mb(this.bytesOut)} MB written`,
        { phase: 'write', ms, pages: this.writeDone, bytesOut: this.bytesOut });
    }
    this.stop();
  }

  /** Stops the timer without a last line (the run ended before it did anything). */
  stop(): void {
    this.finished = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.visible) {
      this.msgs.err.write('\n');
      this.visible = false;
    }
    this.msgs.setStatusLine(undefined);
  }

  /** StatusLine: erase the drawn line before someone else writes to the terminal. */
  clear(): void {
    if (!this.visible) return;
    this.msgs.err.write('\r\x1b[K');
    this.visible = false;
  }

  private phaseName(): string {
    switch (this.phase) {
      case 'start':
      case 'scan': return 'scan';
      case 'write': return 'write';
      case 'done': return 'done';
      case 'stopped': return 'stopped';
    }
  }

  private rates(t: number, last: boolean): { inRate: number; outRate: number; eta: number } {
    const cur: Sample = { t, bytesIn: this.bytesIn, bytesOut: this.bytesOut };
    this.samples.push(cur);
    while (this.samples.length > 2 && t - this.samples[1].t >= RATE_WINDOW_MS) this.samples.shift();
    // the last line gives the whole run's averages; the others the recent rates
    const from: Sample = last || this.samples.length < 2
      ? { t: this.start, bytesIn: 0, bytesOut: 0 }
      : this.samples[0];
    const dt = Math.max(0.001, (t - from.t) / 1000);
    // time left: as long again as the time so far, in the proportion the estimate says
    const e = this.estimate(t);
    const elapsed = (t - this.start) / 1000;
    const eta = e > 0.01 && elapsed >= 1 ? (elapsed * (1 - e)) / e : NaN;
    return { inRate: (this.bytesIn - from.bytesIn) / dt, outRate: (this.bytesOut - from.bytesOut) / dt, eta };
  }

  private draw(t: number, last = false): void {
    this.lastDraw = t;
    if (!this.msgs.progressEnabled) return;
    const f = this.fractionAt(t);
    const { inRate, outRate, eta } = this.rates(t, last);
    const elapsed = (t - this.start) / 1000;
    const pct = f * 100;
    if (this.json) {
      this.msgs.log.progress('progress', {
        percent: round1(pct), phase: this.phaseName(), inMBps: round1(inRate / 1e6), outMBps: round1(outRate / 1e6),
        elapsedS: round1(elapsed), ...(Number.isFinite(eta) && !last ? { etaS: round1(eta) } : {}),
      });
      return;
    }
    const tail = last ? '' : Number.isFinite(eta) ? ` eta ${formatDuration(eta)}` : ' eta ?';
    const line = `${this.label}: ${pct.toFixed(1).padStart(5)}% [${this.phaseName().padEnd(7)}] in ${(inRate / 1e6).toFixed(1).padStart(6)} MB/s out ${(outRate / 1e6).toFixed(1).padStart(6)} MB/s elapsed ${formatDuration(elapsed)}${tail}`;
    if (this.tty) {
      this.msgs.setStatusLine(this);
      this.msgs.err.write(`\r${line}\x1b[K`);
      this.visible = true;
    } else {
      this.msgs.err.write(line + '\n');
    }
  }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${Math.round(s % 60).toString().padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${(m % 60).toString().padStart(2, '0')}m`;
}

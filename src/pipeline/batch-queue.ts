// Pass 2's ordered, bounded queue of page batches: each batch goes to the executor (the
// pool, or this thread) as it is cut, and the results are stored in the order the batches
// were cut, while later ones are read and compressed. Never more than a window of batches
// in flight, nor more than a few stores unfinished: a slow disk stalls the workers instead
// of growing memory. A result buffer comes back to the workers once its data is written.
import { checkInterrupted } from '../util/interrupt';
import { leanMode } from '../util/limits';
import type { SlotRun } from '../format/dump-writer';
import type { Executor } from './executor';
import type { PageBatch, PageBatchResult } from './page-batch';

/** stores (batch data writes) in flight at once with worker threads */
const MAX_WRITES_IN_FLIGHT = 4;
/**
 * Longest run of batches without a turn of the event loop. With one thread every promise
 * here settles at once and the loop would never turn until pass 2 ends: the callbacks of
 * the background work (the fdatasync before a group of descriptors, whose descriptors then
 * wait in memory, lost on a power cut) and signal handlers would run only then.
 */
const EVENT_LOOP_TURN_MS = 50;

/** A batch, and the dump's page number of its first page (and of the others, when they are not neighbours). */
export interface QueuedBatch {
  batch: PageBatch;
  index: number;
  runs?: readonly SlotRun[];
}

export class BatchQueue {
  private readonly inFlight: (QueuedBatch & { result: Promise<PageBatchResult> })[] = [];
  private readonly writes: Promise<void>[] = [];
  private readonly spare: ArrayBuffer[] = [];
  private seq = 0;
  /** a failed store is kept here (or by the writer: failed()) and rethrown, never left unhandled */
  private writeFailure: unknown;
  private readonly window: number;
  private readonly maxWrites: number;
  /** every batch asks for its kept pages as ranges of the input (PageBatch.fromInput) */
  fromInput = false;
  private lastTurn = Date.now();
  /** callbacks due once the batch numbered seq (and every one before it) is handed to the store */
  private readonly marks: { seq: number; fn: () => void }[] = [];

  /**
   * @param store writes a result; settles when its buffer may be reused
   * @param failed a failure the store found later (the writer's background writes)
   */
  constructor(private readonly executor: Executor, private readonly store: (q: QueuedBatch, r: PageBatchResult) => Promise<void>,
    private readonly failed: () => unknown) {
    // with one thread a batch is done when compress() returns: results held back only take
    // buffers, each touched (page faults) the first time it is used. Three writes in flight
    // keep libuv's thread busy while the next batch is read (perf/RESULTS.md). With one
    // usable CPU the file sink writes on this thread instead (FileSinkOptions.syncWrites).
    const inline = executor.inline === true || executor.threads === 1;
    this.window = inline ? 1 : executor.threads * 3;
    // in lean mode (little memory) one: each write holds a batch's buffer
    this.maxWrites = leanMode() ? 1 : inline ? 3 : MAX_WRITES_IN_FLIGHT;
  }

  async push(batch: PageBatch, index: number, runs?: readonly SlotRun[]): Promise<void> {
    batch.seq = this.seq++;
    batch.out = this.spare.pop();
    batch.fromInput = this.fromInput;
    const result = this.executor.compress(batch);
    // a batch that fails while earlier ones are awaited is reported when its turn comes
    // (or settled by settle()), never as an unhandled rejection
    result.catch(() => undefined);
    this.inFlight.push({ batch, index, runs, result });
    if (this.inFlight.length >= this.window) await this.drainOne();
  }

  /**
   * Runs fn once every batch pushed so far has been handed to the store (at once when none
   * is in flight), without waiting for it: the pipeline stays full meanwhile.
   */
  afterStored(fn: () => void): void {
    if (this.inFlight.length === 0) fn();
    else this.marks.push({ seq: this.seq - 1, fn });
  }

  /** Stores every batch still in flight and waits for every store. */
  async drain(): Promise<void> {
    while (this.inFlight.length) {
      checkInterrupted();
      await this.drainOne();
    }
    while (this.writes.length) await this.writes.shift();
    this.stopIfFailed();
  }

  /** After a failure: lets the batches and stores still running end (before the pool goes and the file is marked). */
  async settle(): Promise<void> {
    await Promise.allSettled(this.inFlight.map((f) => f.result));
    await Promise.allSettled(this.writes);
  }

  private async drainOne(): Promise<void> {
    const head = this.inFlight.shift()!;
    const r = await head.result;
    this.stopIfFailed();
    this.writes.push(this.store(head, r).then(() => { this.spare.push(r.data); }, (e) => { this.writeFailure ??= e; }));
    while (this.marks.length && this.marks[0].seq <= head.batch.seq) this.marks.shift()!.fn();
    if (this.writes.length >= this.maxWrites) await this.writes.shift();
    if (Date.now() - this.lastTurn >= EVENT_LOOP_TURN_MS) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      this.lastTurn = Date.now();
    }
    this.stopIfFailed();
  }

  private stopIfFailed(): void {
    const failure = this.writeFailure ?? this.failed();
    if (failure !== undefined) throw failure;
  }
}

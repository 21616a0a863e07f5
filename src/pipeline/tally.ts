// What a run counts: pages per class (the report's lines), what pass 1 read and found,
// pass 2's unreadable pages and rescans, phase times. The coordinator owns one; pass 1
// and the results of pass 2's batches add to it.
import { NUM_COUNTERS } from '../filter/dump-level';

export class Tally {
  /** excluded pages per class, indexed by the C_* counters of filter/dump-level.ts */
  readonly counts = new Float64Array(NUM_COUNTERS);
  /** struct-page bytes read, in both passes */
  memMapBytes = 0;
  /** pfns whose struct page could not be read (kept) */
  unreadablePfns = 0;
  /** pass 2: dumpable pages whose data could not be read from the input (descriptors say "lost") */
  unreadPages = 0;
  /** free pages whose buddy order made no sense (kept) */
  badOrderPfns = 0;
  /** cycles pass 2 found neither in the cache nor in the file, and scanned again */
  rescannedCycles = 0;
  scanMs = 0;
  writeMs = 0;
  /** pass 2: finding the pages written first (the default write order) */
  priorityMs = 0;
  /** pass 2 until the pages written first are handed to the writer (finding them included); 0 in pfn order */
  firstMs = 0;
}

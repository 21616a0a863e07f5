// Dump levels: a bit mask of page classes to leave out. Spec: page-filtering.md §1.

export const DL_EXCLUDE_ZERO = 1;
export const DL_EXCLUDE_CACHE = 2;
export const DL_EXCLUDE_CACHE_PRI = 4;
export const DL_EXCLUDE_USER_DATA = 8;
export const DL_EXCLUDE_FREE = 16;
export const MAX_DUMP_LEVEL = 31;

/** Indices of the per-class page counters, in makedumpfile's report order. */
export const C_ZERO = 0;
export const C_CACHE = 1;
export const C_CACHE_PRIVATE = 2;
export const C_USER = 3;
export const C_FREE = 4;
export const C_HWPOISON = 5;
export const C_OFFLINE = 6;
export const NUM_COUNTERS = 7;
export const COUNTER_NAMES = ['zero', 'cache', 'cache_private', 'user', 'free', 'hwpoison', 'offline'] as const;

/** Parses `-d N` or `-d a,b,c` (retry levels after ENOSPC). */
export function parseDumpLevels(text: string): number[] {
  const parts = text.split(',');
  const levels: number[] = [];
  for (const p of parts) {
    if (!/^\d+$/.test(p.trim())) throw new Error(`invalid dump level "${text}"`);
    const n = Number(p.trim());
    if (n > MAX_DUMP_LEVEL) throw new Error(`dump level ${n} is out of range (0-31)`);
    levels.push(n);
  }
  if (levels.length === 0 || levels.length > 8) throw new Error(`invalid dump level "${text}"`);
  return levels;
}

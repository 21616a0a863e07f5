// Dump levels: a bit mask of page classes to leave out, as the kdump sub-header records
// it (declared with it, in format/diskdump.ts). Spec: page-filtering.md §1.

export {
  DL_EXCLUDE_CACHE, DL_EXCLUDE_CACHE_PRI, DL_EXCLUDE_FREE, DL_EXCLUDE_USER_DATA, DL_EXCLUDE_ZERO, MAX_DUMP_LEVEL,
} from '../format/diskdump';

/** Indices of the per-class page counters, in makedumpfile's report order. */
export const C_ZERO = 0;
export const C_CACHE = 1;
export const C_CACHE_PRIVATE = 2;
export const C_USER = 3;
export const C_FREE = 4;
export const C_HWPOISON = 5;
export const C_OFFLINE = 6;
export const NUM_COUNTERS = 7;

// Dump levels: a bit mask of page classes to leave out. Spec: page-filtering.md §1.

export const DL_EXCLUDE_ZERO = 1;
export const DL_EXCLUDE_CACHE = 2;
export const DL_EXCLUDE_CACHE_PRI = 4;
export const DL_EXCLUDE_USER_DATA = 8;
export const DL_EXCLUDE_FREE = 16;

/** Indices of the per-class page counters, in makedumpfile's report order. */
export const C_ZERO = 0;
export const C_CACHE = 1;
export const C_CACHE_PRIVATE = 2;
export const C_USER = 3;
export const C_FREE = 4;
export const C_HWPOISON = 5;
export const C_OFFLINE = 6;
export const NUM_COUNTERS = 7;

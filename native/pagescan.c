/*
 * The struct-page decision table in C: classifyChunk of src/filter/page-rules.ts, which
 * declares everything both share (the R_* enum of the rules' fields, the marker kinds,
 * the verdicts and counters: cyclodump-shared.h, generated from those declarations at
 * build time) and runs where this addon is not built. test/filter/page-rules runs both
 * over synthetic struct pages of every kernel generation. In JavaScript the table runs
 * interpreted until the JIT has seen enough of it, which on a small machine is most of
 * the scan.
 *
 * classifyChunk(rules, structPages, valid, n, firstPfn, codes, orders) -> first pfn with
 * an out-of-range buddy order, or -1
 *   rules: Int32Array of R_COUNT fields
 *   structPages: the n struct pages read for pfns [firstPfn, firstPfn + n)
 *   valid[i]: 0 when struct page i could not be read
 *   codes[i] := a VERDICT_*, VERDICT_EXCLUDE_BASE + counter when excluded; orders[i] := block order
 */
#include <node_api.h>
#include <stdint.h>
#include <string.h>
#include "cyclodump-shared.h"
#include "napi-args.h"
#include "pagescan.h"

/* makedumpfile's test_bit: the bit number taken mod 32 on the low word; bit 31 sign-extends */
static int test_bit(uint32_t lo, uint32_t hi, int32_t nr)
{
	int n = nr & 31;
	if (n == 31)
		return (lo & 0x80000000u) != 0 || hi != 0;
	return (lo >> n) & 1;
}

/* (1UL << nr) on the 64-bit word; shift counts wrap as JavaScript's do */
static int test_bit64(uint32_t lo, uint32_t hi, int32_t nr)
{
	return nr < 32 ? (lo >> (nr & 31)) & 1 : (hi >> ((nr - 32) & 31)) & 1;
}

static int is_type(int top_byte, uint32_t pt, uint32_t value)
{
	return top_byte ? (pt >> 24) == (value >> 24) : pt == value;
}

static int has_type(int top_byte, uint32_t pt)
{
	if (top_byte) {
		uint32_t t = pt >> 24;
		return t >= 0xf0 && t <= 0xfe;
	}
	return (int32_t)pt < -128;
}

static uint32_t word(const unsigned char *p, int64_t byte_off)
{
	uint32_t w;
	memcpy(&w, p + byte_off, 4);
	return w;
}

static double classify(const int32_t *R, const unsigned char *sp, const uint8_t *valid, int32_t n,
		       double first_pfn, uint8_t *codes, uint8_t *orders)
{
	const int64_t size_page = R[R_SIZE_PAGE];
	const int top = R[R_TOP_BYTE];
	double bad_order = -1;
	int32_t idx;
	for (idx = 0; idx < n; idx++) {
		const unsigned char *pg = sp + (int64_t)idx * size_page;
		uint64_t pfn = (uint64_t)first_pfn + (uint64_t)idx;
		uint32_t flags_lo, flags_hi, pt;
		uint32_t order = 0;
		int huge, slab, kernel_typed, anon, cache, priv, code;
		orders[idx] = 0;
		if (!valid[idx]) {
			codes[idx] = VERDICT_KEEP;
			continue;
		}
		if (R[R_W_HEAD] >= 0 && (word(pg, 4 * (int64_t)R[R_W_HEAD]) & 1)) {
			codes[idx] = VERDICT_TAIL;
			continue;
		}
		flags_lo = word(pg, 4 * (int64_t)R[R_W_FLAGS]);
		flags_hi = word(pg, 4 * (int64_t)R[R_W_FLAGS] + 4);
		pt = R[R_W_MAPCOUNT] >= 0 ? word(pg, 4 * (int64_t)R[R_W_MAPCOUNT]) : 0xffffffffu;
		huge = R[R_HUGE_KIND] == HUGE_KIND_PAGE_TYPE && is_type(top, pt, (uint32_t)R[R_HUGE_VALUE]);
		if ((pfn & 511) != 511 && ((flags_lo & (uint32_t)R[R_HEAD_LO]) || (flags_hi & (uint32_t)R[R_HEAD_HI]))
		    && idx + 1 < n && valid[idx + 1]) {
			const unsigned char *next = pg + size_page;
			if (R[R_ORDER_KIND] == ORDER_KIND_OFFSET) {
				order = next[R[R_ORDER_OFFSET]];
				if (R[R_ORDER_WIDTH] != 1)
					order |= (uint32_t)next[R[R_ORDER_OFFSET] + 1] << 8;
			} else if (R[R_ORDER_KIND] == ORDER_KIND_TAIL_FLAGS) {
				order = word(next, 4 * (int64_t)R[R_W_FLAGS]) & 0xff;
			}
			if (order >= 64 || (pfn & ((UINT64_C(1) << order) - 1)) != 0)
				order = 0;
			if (R[R_HUGE_KIND] == HUGE_KIND_DTOR) {
				uint32_t d = next[R[R_HUGE_OFFSET]];
				if (R[R_HUGE_WIDTH] != 1)
					d |= (uint32_t)next[R[R_HUGE_OFFSET] + 1] << 8;
				huge = d == (uint32_t)R[R_HUGE_VALUE];
			} else if (R[R_HUGE_KIND] == HUGE_KIND_DTOR_POINTER) {
				/* word-aligned like the JavaScript table's Uint32Array reads */
				int64_t at = 4 * (int64_t)(R[R_HUGE_OFFSET] >> 2);
				huge = word(next, at) == (uint32_t)R[R_HUGE_PTR_LO] && word(next, at + 4) == (uint32_t)R[R_HUGE_PTR_HI];
			} else if (R[R_HUGE_KIND] == HUGE_KIND_TAIL_FLAG) {
				huge = test_bit64(word(next, 4 * (int64_t)R[R_W_FLAGS]), word(next, 4 * (int64_t)R[R_W_FLAGS] + 4),
						  R[R_HUGE_BIT]) && (order == 9 || order == 18);
			}
		} else if (R[R_HUGE_KIND] != HUGE_KIND_PAGE_TYPE) {
			huge = 0;
		}
		slab = R[R_SLAB_KIND] == SLAB_KIND_PAGE_TYPE ? is_type(top, pt, (uint32_t)R[R_SLAB_VALUE])
		     : R[R_SLAB_KIND] == SLAB_KIND_FLAG ? test_bit64(flags_lo, flags_hi, R[R_SLAB_BIT]) : 0;
		if (R[R_EXCL_FREE] && (R[R_HAS_BUDDY_TYPE] ? (!slab && is_type(top, pt, (uint32_t)R[R_BUDDY_VALUE]))
						      : test_bit64(flags_lo, flags_hi, R[R_PG_BUDDY]))) {
			uint32_t priv_lo = word(pg, 4 * (int64_t)R[R_W_PRIVATE]);
			uint32_t priv_hi = word(pg, 4 * (int64_t)R[R_W_PRIVATE] + 4);
			if (priv_hi != 0 || priv_lo >= (uint32_t)R[R_FREE_AREA_LENGTH]) {
				if (bad_order < 0)
					bad_order = (double)pfn;
				codes[idx] = VERDICT_KEEP;
				continue;
			}
			codes[idx] = VERDICT_EXCLUDE_BASE + C_FREE;
			orders[idx] = (uint8_t)priv_lo;
			continue;
		}
		if (R[R_EXCL_FREE] && R[R_HAS_UNACCEPTED] && is_type(top, pt, (uint32_t)R[R_UNACCEPTED_VALUE])) {
			codes[idx] = VERDICT_EXCLUDE_BASE + C_FREE;
			orders[idx] = (uint8_t)(R[R_FREE_AREA_LENGTH] - 1);
			continue;
		}
		kernel_typed = slab || (!huge && has_type(top, pt)
			&& !(R[R_HAS_OFFLINE] && is_type(top, pt, (uint32_t)R[R_OFFLINE_VALUE]))
			&& !(R[R_HAS_BUDDY_TYPE] && is_type(top, pt, (uint32_t)R[R_BUDDY_VALUE]))
			&& !(R[R_HAS_UNACCEPTED] && is_type(top, pt, (uint32_t)R[R_UNACCEPTED_VALUE])));
		anon = !kernel_typed && (word(pg, 4 * (int64_t)R[R_W_MAPPING]) & 1);
		cache = !kernel_typed && (test_bit(flags_lo, flags_hi, R[R_PG_LRU])
			|| ((R[R_PG_SWAPBACKED] < 0 || test_bit(flags_lo, flags_hi, R[R_PG_SWAPBACKED]))
			    && test_bit(flags_lo, flags_hi, R[R_PG_SWAPCACHE])));
		priv = test_bit(flags_lo, flags_hi, R[R_PG_PRIVATE]);
		code = VERDICT_KEEP;
		if (R[R_EXCL_CACHE] && cache && !priv && !anon)
			code = VERDICT_EXCLUDE_BASE + C_CACHE;
		else if (R[R_EXCL_CACHE_PRI] && cache && !anon)
			code = VERDICT_EXCLUDE_BASE + (priv ? C_CACHE_PRIVATE : C_CACHE);
		else if (R[R_EXCL_USER] && (anon || huge))
			code = VERDICT_EXCLUDE_BASE + C_USER;
		else if (R[R_PG_HWPOISON] >= 0 && test_bit(flags_lo, flags_hi, R[R_PG_HWPOISON]))
			code = VERDICT_EXCLUDE_BASE + C_HWPOISON;
		else if (R[R_HAS_OFFLINE] && !slab && is_type(top, pt, (uint32_t)R[R_OFFLINE_VALUE]))
			code = VERDICT_EXCLUDE_BASE + C_OFFLINE;
		codes[idx] = (uint8_t)code;
		orders[idx] = (uint8_t)order;
	}
	return bad_order;
}

/* Whether every field the table reads lies within one struct page (then a page's reads stay in the buffer). */
static int fields_fit(const int32_t *R)
{
	const int64_t sz = R[R_SIZE_PAGE];
	int64_t words[] = { R[R_W_FLAGS] + 1, R[R_W_MAPPING], R[R_W_MAPCOUNT], R[R_W_PRIVATE] + 1, R[R_W_HEAD] };
	size_t i;
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (words[i] >= 0 && 4 * words[i] + 4 > sz)
			return 0;
	if (R[R_W_FLAGS] < 0 || R[R_W_MAPPING] < 0)
		return 0;
	if (R[R_EXCL_FREE] && R[R_W_PRIVATE] < 0)
		return 0;
	if (R[R_ORDER_KIND] == ORDER_KIND_OFFSET && (R[R_ORDER_OFFSET] < 0 || R[R_ORDER_OFFSET] + (R[R_ORDER_WIDTH] == 1 ? 1 : 2) > sz))
		return 0;
	if (R[R_HUGE_KIND] == HUGE_KIND_DTOR && (R[R_HUGE_OFFSET] < 0 || R[R_HUGE_OFFSET] + (R[R_HUGE_WIDTH] == 1 ? 1 : 2) > sz))
		return 0;
	if (R[R_HUGE_KIND] == HUGE_KIND_DTOR_POINTER && (R[R_HUGE_OFFSET] < 0 || 4 * (int64_t)(R[R_HUGE_OFFSET] >> 2) + 8 > sz))
		return 0;
	return 1;
}

napi_value classify_chunk(napi_env env, napi_callback_info info)
{
	size_t argc = 7, rules_len = 0, sp_len = 0, valid_len = 0, codes_len = 0, orders_len = 0;
	int ok[5];
	napi_value argv[7], result;
	const int32_t *rules;
	const unsigned char *sp;
	const uint8_t *valid;
	uint8_t *codes, *orders;
	int32_t n;
	double first_pfn;

	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 7)
		goto bad;
	/* lengths in bytes */
	rules = typed_data(env, argv[0], &rules_len, &ok[0]);
	sp = typed_data(env, argv[1], &sp_len, &ok[1]);
	valid = typed_data(env, argv[2], &valid_len, &ok[2]);
	codes = typed_data(env, argv[5], &codes_len, &ok[3]);
	orders = typed_data(env, argv[6], &orders_len, &ok[4]);
	if (!ok[0] || !ok[1] || !ok[2] || !ok[3] || !ok[4] || rules_len != R_COUNT * sizeof(int32_t)
	    || napi_get_value_int32(env, argv[3], &n) != napi_ok
	    || napi_get_value_double(env, argv[4], &first_pfn) != napi_ok)
		goto bad;
	/* every struct page and every field read must lie inside the buffers */
	if (n < 0 || rules[R_SIZE_PAGE] < 8 || rules[R_SIZE_PAGE] > 4096 || first_pfn < 0
	    || (size_t)n > valid_len || (size_t)n > codes_len || (size_t)n > orders_len
	    || (uint64_t)n * (uint64_t)rules[R_SIZE_PAGE] > sp_len
	    || !fields_fit(rules))
		goto bad;
	if (napi_create_double(env, classify(rules, sp, valid, n, first_pfn, codes, orders), &result) != napi_ok)
		return NULL;
	return result;
bad:
	napi_throw_error(env, NULL, "pagescan: bad arguments");
	return NULL;
}


/*
 * applyChunk(codes, orders, from, to, bitmap2, bitBase, sliceBits, counts) -> index
 *   The scan loop of page-scan.ts for chunk indices [from, to), where nothing but the
 *   verdicts decides: kept pfns are stepped over, single excluded pfns are counted and
 *   cleared in bitmap2 (bit bitBase + i, when below sliceBits). Stops at the first
 *   excluded block (order > 0), which the caller handles, and returns its index, or to.
 */
napi_value apply_chunk(napi_env env, napi_callback_info info)
{
	size_t argc = 8, codes_len = 0, orders_len = 0, bm_len = 0, counts_len = 0;
	int ok[4];
	napi_value argv[8], result;
	const uint8_t *codes, *orders;
	uint8_t *bm;
	double *counts;
	int32_t from, to;
	double bit_base, slice_bits;
	int32_t i;

	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 8)
		goto bad;
	/* lengths in bytes */
	codes = typed_data(env, argv[0], &codes_len, &ok[0]);
	orders = typed_data(env, argv[1], &orders_len, &ok[1]);
	bm = typed_data(env, argv[4], &bm_len, &ok[2]);
	counts = typed_data(env, argv[7], &counts_len, &ok[3]);
	if (!ok[0] || !ok[1] || !ok[2] || !ok[3] || counts_len < NUM_COUNTERS * sizeof(double)
	    || napi_get_value_int32(env, argv[2], &from) != napi_ok || napi_get_value_int32(env, argv[3], &to) != napi_ok
	    || napi_get_value_double(env, argv[5], &bit_base) != napi_ok
	    || napi_get_value_double(env, argv[6], &slice_bits) != napi_ok)
		goto bad;
	if (from < 0 || to < from || (size_t)to > codes_len || (size_t)to > orders_len || bit_base < 0
	    || slice_bits > (double)bm_len * 8)
		goto bad;
	for (i = from; i < to; i++) {
		double bit;
		if (codes[i] < VERDICT_EXCLUDE_BASE)
			continue;
		if (orders[i] != 0)
			break;
		counts[codes[i] - VERDICT_EXCLUDE_BASE] += 1;
		bit = bit_base + i;
		if (bit < slice_bits) {
			uint64_t b = (uint64_t)bit;
			bm[b >> 3] &= (uint8_t)~(1u << (b & 7));
		}
	}
	if (napi_create_int32(env, i, &result) != napi_ok)
		return NULL;
	return result;
bad:
	napi_throw_error(env, NULL, "pagescan: bad arguments");
	return NULL;
}

/*
 * popcountBytes(bytes, from, to) -> the set bits of bytes[from, to): bitmap ranks and
 * counts. filter/bitmap.ts takes it for long ranges: the default write order ranks over
 * the whole 2nd bitmap several times, which in JavaScript took milliseconds a run.
 */
napi_value popcount_bytes(napi_env env, napi_callback_info info)
{
	size_t argc = 3, len = 0, i;
	int ok;
	napi_value argv[3], result;
	const uint8_t *bm;
	int64_t from, to;
	uint64_t n = 0;

	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 3)
		goto bad;
	bm = typed_data(env, argv[0], &len, &ok);
	if (!ok || napi_get_value_int64(env, argv[1], &from) != napi_ok || napi_get_value_int64(env, argv[2], &to) != napi_ok
	    || from < 0 || to < from || (size_t)to > len)
		goto bad;
	i = (size_t)from;
	for (; i < (size_t)to && ((uintptr_t)(bm + i) & 7) != 0; i++)
		n += (uint64_t)__builtin_popcount(bm[i]);
	for (; i + 8 <= (size_t)to; i += 8)
		n += (uint64_t)__builtin_popcountll(*(const uint64_t *)(const void *)(bm + i));
	for (; i < (size_t)to; i++)
		n += (uint64_t)__builtin_popcount(bm[i]);
	if (napi_create_double(env, (double)n, &result) != napi_ok)
		return NULL;
	return result;
bad:
	napi_throw_range_error(env, NULL, "pagescan: bad arguments to popcountBytes");
	return NULL;
}

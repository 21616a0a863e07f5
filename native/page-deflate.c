/*
 * A DEFLATE encoder (RFC 1951) in a zlib wrapper (RFC 1950), made for one memory page at a
 * time.
 *
 * Why not zlib: a dump with -c is one zlib stream per 4 KiB page, and zlib spends much of
 * each page on things a page does not need (a 32 KiB sliding window, a hash table cleared
 * per stream, stream state, and buffering between its match finder and its block writer).
 * Every kdump reader decompresses pages with zlib's uncompress(), which takes any valid
 * stream, so the pages may be written by any encoder: this one.
 *
 * What it writes, per page: the zlib header (78 01), one final block, and the Adler-32 of
 * the page. The block is dynamic Huffman or fixed Huffman, whichever is smaller; when even
 * that is not smaller than the caller's room the page is reported as not fitting, and the
 * caller keeps it raw (as makedumpfile does with zlib's result).
 *
 * Matches are found much as zlib's level 1 (deflate_fast) finds them: greedy, a chain of up
 * to MAX_CHAIN candidates, positions inside a match hashed only for short matches; but the
 * hash is of 4 bytes (MATCH_BYTES: fewer useless candidates on pages of pointers), and after
 * a run of misses the scan steps ahead faster (SKIP_SHIFT), as LZ4 does, so incompressible
 * stretches cost little. The tunables below may be overridden with -D for experiments. The Huffman codes are optimal for the page (limited to 15 and 7 bits by
 * flattening the frequencies and rebuilding, which only the rarest pages need).
 */
#include <stdlib.h>
#include <string.h>

#include "page-deflate.h"

#define MIN_MATCH 3
#define MAX_MATCH 258
#ifndef HASH_BITS
#define HASH_BITS 12
#endif
#define HASH_SIZE (1u << HASH_BITS)
/* candidates tried per position, and the match length that ends the search early */
#ifndef MAX_CHAIN
#define MAX_CHAIN 4
#endif
#ifndef NICE_MATCH
#define NICE_MATCH 32
#endif
/* after 2^SKIP_SHIFT misses in a row, the scan advances two bytes at a time, then three... */
#ifndef SKIP_SHIFT
#define SKIP_SHIFT 5
#endif
/* positions inside a match are hashed only when the match is this short (zlib level 1: 4) */
#ifndef MAX_INSERT
#define MAX_INSERT 4
#endif

#define LITLEN_CODES 286
#define DIST_CODES 30
#define CL_CODES 19
#define MAX_BITS 15
#define MAX_CL_BITS 7
#define END_OF_BLOCK 256

/* RFC 1951 3.2.5: base values and extra bits of the length and distance codes */
static const uint16_t LEN_BASE[29] = {
	3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
	35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
};
static const uint8_t LEN_EXTRA[29] = {
	0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
	3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
};
static const uint16_t DIST_BASE[30] = {
	1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
	257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
};
static const uint8_t DIST_EXTRA[30] = {
	0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
	7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
};
/* RFC 1951 3.2.7: the order in which code length code lengths are sent */
static const uint8_t CL_ORDER[CL_CODES] = {
	16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
};

/* one Huffman code: bit-reversed codes (DEFLATE sends them from the top bit, we write from
 * the bottom) and their lengths */
typedef struct {
	uint16_t code[288];
	uint8_t len[288];
} huff_code;

struct page_deflater {
	/* head[h]: the newest position with hash h, plus `base`; older values are stale */
	uint32_t head[HASH_SIZE];
	/* prev[i]: the position before i with i's hash, plus `base` */
	uint32_t prev[PAGE_DEFLATE_MAX_INPUT];
	uint32_t base;
	/* the page as literals (< 256) and matches (length << 16 | distance) */
	uint32_t items[PAGE_DEFLATE_MAX_INPUT];
	uint32_t lit_freq[288];
	uint32_t dist_freq[32];
	/* code of a length minus 3; code of a distance minus 1 (below 256, then by 128) */
	uint8_t len_code[256];
	uint8_t dist_code[512];
	huff_code lit, dist, cl, fixed_lit, fixed_dist;
	uint8_t out[PAGE_DEFLATE_MAX_INPUT + 1024];
};

static inline uint32_t load32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static inline uint64_t load64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

#ifndef MATCH_BYTES
#define MATCH_BYTES 4
#endif
#if MATCH_BYTES == 4
#define MATCH_MASK 0xffffffffu
#else
#define MATCH_MASK 0xffffffu
#endif

static inline uint32_t hash3(const uint8_t *p)
{
	return ((load32(p) & MATCH_MASK) * 0x9e3779b1u) >> (32 - HASH_BITS);
}

static inline unsigned match_length(const uint8_t *a, const uint8_t *b, unsigned max)
{
	unsigned n = 0;
	while (n + 8 <= max) {
		uint64_t x = load64(a + n) ^ load64(b + n);
		if (x)
			return n + ((unsigned)__builtin_ctzll(x) >> 3);
		n += 8;
	}
	while (n < max && a[n] == b[n])
		n++;
	return n;
}

static uint16_t reverse_bits(uint16_t code, unsigned len)
{
	uint16_t r = 0;
	while (len--) {
		r = (uint16_t)((r << 1) | (code & 1));
		code >>= 1;
	}
	return r;
}

/* RFC 1951 3.2.2: canonical codes from code lengths */
static void assign_codes(huff_code *h, unsigned n)
{
	uint16_t count[MAX_BITS + 1] = { 0 }, next[MAX_BITS + 1];
	uint16_t code = 0;
	unsigned i, bits;
	for (i = 0; i < n; i++)
		count[h->len[i]]++;
	count[0] = 0;
	for (bits = 1; bits <= MAX_BITS; bits++) {
		code = (uint16_t)((code + count[bits - 1]) << 1);
		next[bits] = code;
	}
	for (i = 0; i < n; i++)
		h->code[i] = h->len[i] ? reverse_bits(next[h->len[i]]++, h->len[i]) : 0;
}

/*
 * Optimal code lengths for freq[0, n), none longer than `limit`. A symbol of frequency 0
 * gets no code. One used symbol gets a partner so that the code is complete (inflate
 * accepts an incomplete code only in that case, and not for code lengths; a complete one
 * is always accepted).
 */
static void build_lengths(const uint32_t *freq, unsigned n, unsigned limit, uint8_t *len)
{
	uint32_t f[288], keys[288], tmp[288], weight[576];
	uint16_t parent[576];
	uint8_t depth[576];
	unsigned m, i;

	memcpy(f, freq, n * sizeof(f[0]));
	for (;;) {
		unsigned count[256], pass, leaf, inner, next, k, maxd = 0;
		m = 0;
		for (i = 0; i < n; i++) {
			len[i] = 0;
			if (f[i])
				keys[m++] = (f[i] << 9) | i;
		}
		if (m == 0)
			return;
		if (m == 1) {
			unsigned s = keys[0] & 511;
			len[s] = 1;
			len[s == 0 ? 1 : 0] = 1;
			return;
		}
		/* stable LSD radix sort by frequency (two bytes; f < 2^16 for pages of 32 KiB) */
		for (pass = 0; pass < 2; pass++) {
			unsigned shift = 9 + 8 * pass, sum = 0;
			uint32_t *from = pass ? tmp : keys, *to = pass ? keys : tmp;
			memset(count, 0, sizeof(count));
			for (i = 0; i < m; i++)
				count[(from[i] >> shift) & 255]++;
			for (i = 0; i < 256; i++) {
				unsigned c = count[i];
				count[i] = sum;
				sum += c;
			}
			for (i = 0; i < m; i++)
				to[count[(from[i] >> shift) & 255]++] = from[i];
		}
		/* Huffman's algorithm with two queues: sorted leaves, and inner nodes in the order
		 * they are made (which is also by weight) */
		for (i = 0; i < m; i++)
			weight[i] = keys[i] >> 9;
		leaf = 0;
		inner = m;
		next = m;
		for (k = 0; k + 1 < m; k++) {
			unsigned a, b;
			if (leaf < m && (inner >= next || weight[leaf] <= weight[inner]))
				a = leaf++;
			else
				a = inner++;
			if (leaf < m && (inner >= next || weight[leaf] <= weight[inner]))
				b = leaf++;
			else
				b = inner++;
			weight[next] = weight[a] + weight[b];
			parent[a] = parent[b] = (uint16_t)next;
			next++;
		}
		depth[next - 1] = 0;
		for (k = next - 1; k-- > 0;) {
			depth[k] = (uint8_t)(depth[parent[k]] + 1);
			if (k < m && depth[k] > maxd)
				maxd = depth[k];
		}
		if (maxd <= limit) {
			for (i = 0; i < m; i++)
				len[keys[i] & 511] = depth[i];
			return;
		}
		/* too deep: flatten the frequencies and build again */
		for (i = 0; i < n; i++)
			if (f[i])
				f[i] = (f[i] >> 1) | 1;
	}
}

page_deflater *page_deflater_new(void)
{
	page_deflater *d = calloc(1, sizeof(*d));
	unsigned c, v, i;
	if (!d)
		return NULL;
	/* positions below `base` are stale; the table starts all stale */
	d->base = 1;
	/* code 28 (258) comes last, so it overrides code 27's 227 + 31 */
	for (c = 0; c < 29; c++)
		for (v = LEN_BASE[c]; v < (unsigned)LEN_BASE[c] + (1u << LEN_EXTRA[c]) && v <= MAX_MATCH; v++)
			d->len_code[v - 3] = (uint8_t)c;
	for (c = 0; c < 30; c++)
		for (v = DIST_BASE[c]; v < (unsigned)DIST_BASE[c] + (1u << DIST_EXTRA[c]); v++) {
			unsigned dm1 = v - 1;
			if (dm1 < 256)
				d->dist_code[dm1] = (uint8_t)c;
			else
				d->dist_code[256 + (dm1 >> 7)] = (uint8_t)c;
		}
	/* RFC 1951 3.2.6: the fixed codes */
	for (i = 0; i < 288; i++)
		d->fixed_lit.len[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
	assign_codes(&d->fixed_lit, 288);
	for (i = 0; i < 30; i++)
		d->fixed_dist.len[i] = 5;
	assign_codes(&d->fixed_dist, 30);
	return d;
}

void page_deflater_free(page_deflater *d)
{
	free(d);
}

static inline unsigned dist_code_of(const page_deflater *d, unsigned dist)
{
	unsigned dm1 = dist - 1;
	return dm1 < 256 ? d->dist_code[dm1] : d->dist_code[256 + (dm1 >> 7)];
}

/* LZ77 over the page into d->items; counts the symbols. Returns the number of items. */
static unsigned find_matches(page_deflater *d, const uint8_t *src, unsigned n)
{
	const uint32_t base = d->base;
	unsigned i = 0, k = 0, misses = 0;

	memset(d->lit_freq, 0, sizeof(d->lit_freq));
	memset(d->dist_freq, 0, sizeof(d->dist_freq));
	/* hashing reads 4 bytes: the last 3 positions are literals or inside matches */
	while (i + 4 <= n) {
		uint32_t h = hash3(src + i);
		uint32_t cand = d->head[h];
		unsigned best = 0, best_dist = 0, chain = MAX_CHAIN;
		unsigned max = n - i < MAX_MATCH ? n - i : MAX_MATCH;
		d->head[h] = base + i;
		d->prev[i] = cand;
		while (cand >= base && chain--) {
			unsigned c = cand - base;
			/* a longer match must agree on the byte that would make it longer */
			if (src[c + best] == src[i + best] && ((load32(src + c) ^ load32(src + i)) & MATCH_MASK) == 0) {
				unsigned len = match_length(src + c, src + i, max);
				if (len > best) {
					best = len;
					best_dist = i - c;
					if (len >= NICE_MATCH || len == max)
						break;
				}
			}
			cand = d->prev[c];
		}
		if (best >= MIN_MATCH) {
			unsigned lc = d->len_code[best - 3];
			d->items[k++] = (best << 16) | best_dist;
			d->lit_freq[257 + lc]++;
			d->dist_freq[dist_code_of(d, best_dist)]++;
			if (best <= MAX_INSERT) {
				unsigned j, end = i + best;
				for (j = i + 1; j < end && j + 4 <= n; j++) {
					uint32_t hj = hash3(src + j);
					d->prev[j] = d->head[hj];
					d->head[hj] = base + j;
				}
			}
			i += best;
			misses = 0;
		} else {
			/* after a long stretch without a match (compressed or random data), look at
			 * fewer positions: such a page is kept raw or barely shrinks either way */
			unsigned step = 1 + (misses++ >> SKIP_SHIFT), end = i + step;
			if (end > n - 3)
				end = n - 3;
			for (; i < end; i++) {
				d->items[k++] = src[i];
				d->lit_freq[src[i]]++;
			}
		}
	}
	for (; i < n; i++) {
		d->items[k++] = src[i];
		d->lit_freq[src[i]]++;
	}
	d->lit_freq[END_OF_BLOCK] = 1;
	/* positions of the next page are above every position of this one */
	if (d->base > UINT32_MAX - 2 * PAGE_DEFLATE_MAX_INPUT) {
		memset(d->head, 0, sizeof(d->head));
		d->base = 1;
	} else {
		d->base += n;
	}
	return k;
}

/* bits of the block's symbols under the codes `lit` and `dist`, extra bits included */
static uint64_t symbol_bits(const page_deflater *d, const uint8_t *lit_len, const uint8_t *dist_len)
{
	uint64_t bits = 0;
	unsigned s;
	for (s = 0; s < LITLEN_CODES; s++)
		if (d->lit_freq[s])
			bits += (uint64_t)d->lit_freq[s] * (lit_len[s] + (s > 256 ? LEN_EXTRA[s - 257] : 0));
	for (s = 0; s < DIST_CODES; s++)
		if (d->dist_freq[s])
			bits += (uint64_t)d->dist_freq[s] * (dist_len[s] + DIST_EXTRA[s]);
	return bits;
}

typedef struct {
	uint8_t *p;
	uint64_t buf;
	unsigned count;
} bit_writer;

static inline void put_bits(bit_writer *w, uint32_t bits, unsigned n)
{
	w->buf |= (uint64_t)bits << w->count;
	w->count += n;
	if (w->count >= 32) {
		uint32_t v = (uint32_t)w->buf;
		memcpy(w->p, &v, 4);
		w->p += 4;
		w->buf >>= 32;
		w->count -= 32;
	}
}

static void flush_bits(bit_writer *w)
{
	while (w->count > 0) {
		*w->p++ = (uint8_t)w->buf;
		w->buf >>= 8;
		w->count = w->count > 8 ? w->count - 8 : 0;
	}
}

static void put_symbols(const page_deflater *d, bit_writer *w, unsigned nitems, const huff_code *lit, const huff_code *dist)
{
	unsigned k;
	for (k = 0; k < nitems; k++) {
		uint32_t it = d->items[k];
		if (it < 256) {
			put_bits(w, lit->code[it], lit->len[it]);
		} else {
			unsigned len = it >> 16, dst = it & 0xffff;
			unsigned lc = d->len_code[len - 3], dc = dist_code_of(d, dst);
			put_bits(w, lit->code[257 + lc] | ((uint32_t)(len - LEN_BASE[lc]) << lit->len[257 + lc]),
				lit->len[257 + lc] + LEN_EXTRA[lc]);
			put_bits(w, dist->code[dc] | ((uint32_t)(dst - DIST_BASE[dc]) << dist->len[dc]),
				dist->len[dc] + DIST_EXTRA[dc]);
		}
	}
	put_bits(w, lit->code[END_OF_BLOCK], lit->len[END_OF_BLOCK]);
}

static uint32_t adler32(const uint8_t *p, size_t n)
{
	uint32_t a = 1, b = 0;
	while (n > 0) {
		/* 5552: the most bytes before b can overflow 32 bits (zlib's NMAX) */
		size_t chunk = n < 5552 ? n : 5552, i = 0;
		/* 32 bytes at a time, in a form the compiler can vectorize: over a block, b grows
		 * by 32 times a plus each byte weighted by how many sums it enters */
		for (; i + 32 <= chunk; i += 32) {
			uint32_t sum = 0, weighted = 0;
			unsigned j;
			for (j = 0; j < 32; j++) {
				sum += p[i + j];
				weighted += (32 - j) * p[i + j];
			}
			b += 32 * a + weighted;
			a += sum;
		}
		for (; i < chunk; i++) {
			a += p[i];
			b += a;
		}
		a %= 65521;
		b %= 65521;
		p += chunk;
		n -= chunk;
	}
	return (b << 16) | a;
}

size_t page_deflate(page_deflater *d, const uint8_t *src, size_t len, uint8_t *dst, size_t cap)
{
	uint8_t cl_seq[LITLEN_CODES + DIST_CODES], cl_extra[LITLEN_CODES + DIST_CODES];
	uint8_t lens[LITLEN_CODES + DIST_CODES];
	uint32_t cl_freq[CL_CODES] = { 0 };
	unsigned nitems, hlit, hdist, hclen, ncl = 0, i, n = (unsigned)len;
	uint64_t dyn_bits, fixed_bits, bits;
	int dynamic;
	size_t total;
	bit_writer w;
	uint32_t adler;

	if (len == 0 || len > PAGE_DEFLATE_MAX_INPUT)
		return 0;
	nitems = find_matches(d, src, n);

	/* the dynamic block: its codes, and the code lengths run-length coded (RFC 1951 3.2.7) */
	build_lengths(d->lit_freq, LITLEN_CODES, MAX_BITS, d->lit.len);
	build_lengths(d->dist_freq, DIST_CODES, MAX_BITS, d->dist.len);
	for (hlit = LITLEN_CODES; hlit > 257 && d->lit.len[hlit - 1] == 0; hlit--)
		;
	for (hdist = DIST_CODES; hdist > 1 && d->dist.len[hdist - 1] == 0; hdist--)
		;
	memcpy(lens, d->lit.len, hlit);
	memcpy(lens + hlit, d->dist.len, hdist);
	for (i = 0; i < hlit + hdist;) {
		unsigned v = lens[i], run = 1, r;
		while (i + run < hlit + hdist && lens[i + run] == v)
			run++;
		r = run;
		if (v == 0) {
			while (r >= 11) {
				unsigned take = r < 138 ? r : 138;
				cl_seq[ncl] = 18;
				cl_extra[ncl++] = (uint8_t)(take - 11);
				r -= take;
			}
			if (r >= 3) {
				cl_seq[ncl] = 17;
				cl_extra[ncl++] = (uint8_t)(r - 3);
				r = 0;
			}
		} else {
			cl_seq[ncl] = (uint8_t)v;
			cl_extra[ncl++] = 0;
			r--;
			while (r >= 3) {
				unsigned take = r < 6 ? r : 6;
				cl_seq[ncl] = 16;
				cl_extra[ncl++] = (uint8_t)(take - 3);
				r -= take;
			}
		}
		while (r--) {
			cl_seq[ncl] = (uint8_t)v;
			cl_extra[ncl++] = 0;
		}
		i += run;
	}
	for (i = 0; i < ncl; i++)
		cl_freq[cl_seq[i]]++;
	build_lengths(cl_freq, CL_CODES, MAX_CL_BITS, d->cl.len);
	for (hclen = CL_CODES; hclen > 4 && d->cl.len[CL_ORDER[hclen - 1]] == 0; hclen--)
		;
	dyn_bits = 3 + 5 + 5 + 4 + 3 * (uint64_t)hclen + symbol_bits(d, d->lit.len, d->dist.len);
	for (i = 0; i < CL_CODES; i++)
		dyn_bits += (uint64_t)cl_freq[i] * (d->cl.len[i] + (i == 16 ? 2 : i == 17 ? 3 : i == 18 ? 7 : 0));
	fixed_bits = 3 + symbol_bits(d, d->fixed_lit.len, d->fixed_dist.len);
	dynamic = dyn_bits < fixed_bits;
	bits = dynamic ? dyn_bits : fixed_bits;
	/* zlib header, the block, the Adler-32 */
	total = 2 + (size_t)((bits + 7) / 8) + 4;
	if (total > cap)
		return 0;

	w.p = d->out;
	w.buf = 0;
	w.count = 0;
	/* CMF 0x78: deflate, 32 KiB window; FLG 0x01: fastest, no dictionary, check bits */
	put_bits(&w, 0x0178, 16);
	if (dynamic) {
		assign_codes(&d->lit, LITLEN_CODES);
		assign_codes(&d->dist, DIST_CODES);
		assign_codes(&d->cl, CL_CODES);
		put_bits(&w, 1 | (2 << 1), 3); /* BFINAL, BTYPE 10 */
		put_bits(&w, hlit - 257, 5);
		put_bits(&w, hdist - 1, 5);
		put_bits(&w, hclen - 4, 4);
		for (i = 0; i < hclen; i++)
			put_bits(&w, d->cl.len[CL_ORDER[i]], 3);
		for (i = 0; i < ncl; i++) {
			unsigned s = cl_seq[i];
			put_bits(&w, d->cl.code[s], d->cl.len[s]);
			if (s >= 16)
				put_bits(&w, cl_extra[i], s == 16 ? 2 : s == 17 ? 3 : 7);
		}
		put_symbols(d, &w, nitems, &d->lit, &d->dist);
	} else {
		put_bits(&w, 1 | (1 << 1), 3); /* BFINAL, BTYPE 01 */
		put_symbols(d, &w, nitems, &d->fixed_lit, &d->fixed_dist);
	}
	flush_bits(&w);
	adler = adler32(src, len);
	w.p[0] = (uint8_t)(adler >> 24);
	w.p[1] = (uint8_t)(adler >> 16);
	w.p[2] = (uint8_t)(adler >> 8);
	w.p[3] = (uint8_t)adler;
	w.p += 4;
	if ((size_t)(w.p - d->out) != total)
		return 0; /* cannot happen: the size was counted from the same codes */
	memcpy(dst, d->out, total);
	return total;
}

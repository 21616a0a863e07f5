/*
 * cyclodump's page loop in C: for a batch of pages already read into one buffer, test each
 * for all zero bytes, compress it with LZO1X-1 (liblzo2, the library makedumpfile links)
 * or zlib's format (libdeflate), or keep it raw, and pack the results into the output
 * buffer, in one call per batch: calling a binding once per 4 KiB page costs a good part
 * of LZO's own time (perf/RESULTS.md). The methods, marks and tally indices below are
 * declared in src/codec/native-pages.ts (cyclodump-shared.h is generated from them).
 *
 * compressPages(method, src, offsets, first, count, pageSize, excludeZero,
 *               dst, dstPos, sizes, flags, flagValue[, tally[, threads]]) -> new dstPos
 *   method METHOD_RAW, METHOD_LZO (LZO1X-1) or METHOD_ZLIB (a zlib stream per page)
 *   offsets[first + i] is page i's offset in src, OFFSET_MARK_UNREADABLE if it could not be read
 *   sizes[first + i] := PAGE_MARK_ZERO all zero (shared descriptor), PAGE_MARK_UNREADABLE,
 *   else stored bytes; flags[first + i] := flagValue when stored compressed, else 0.
 * dst must have room for count * pageSize bytes from dstPos. tally, an Int32Array of
 * TALLY_LENGTH, gets the batch's all-zero and unreadable pages added. An optional last
 * argument, threads, lets up to that many threads share the batch (the same bytes).
 *
 * lzoDecompress(src, dst) -> bytes written to dst, or -1 when src is not an LZO1X stream
 * that fits dst.
 *
 * mapInput(fd) -> handle, or null when the file cannot be mapped (a pipe)
 * compressMapped(method, handle, stage, fileOffsets, first, count, pageSize, excludeZero,
 *                dst, dstPos, sizes, flags, flagValue[, tally[, threads]]) -> new dstPos
 *   the same loop with the pages taken straight from the input file through a window
 *   mapped over it, as makedumpfile reads /proc/vmcore: no copy into a read buffer
 *   (threads as compressPages', each with its own window).
 *   fileOffsets[first + i] (a Float64Array) is page i's offset in the file; -1 when it
 *   could not be read; -2 - k for a page the caller read into stage[k] (one that is not
 *   all in the file: a range that ends mid-page reads as zero beyond its end).
 *   A page the file no longer holds (it shrank, or /proc/vmcore could not read the old
 *   memory) raises SIGBUS on access; that page is recorded as unreadable (-1).
 *
 * compressFile(...): compressMapped's loop with the pages read with pread (see below).
 * compressFileAsync(...): the same for one batch on a thread of libuv's pool (see below).
 * mapOffsets(...): the file offsets of a batch's pages in the mapped input (see below).
 * encodeDescriptors(...): a batch's page_desc records (see below).
 * cutBatch(...): where pass 2's next batch of a cycle's bitmap starts and ends (see below).
 * classifyChunk(...), applyChunk(...): the struct-page scan's table and loop, in pagescan.c.
 * scanDeclarations, pageLoopDeclarations: the TypeScript declarations this build was made
 * from, as text (cyclodump-shared.h), for the TypeScript side to check before it uses it.
 */
#include <node_api.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libdeflate.h>
#include <lzo/lzo1x.h>
#ifdef HAVE_SNAPPY
#include <snappy-c.h>
#endif
#ifdef HAVE_ZSTD
#include <zstd.h>
#endif
#include "addon-threads.h"
#include "filelock.h"
#include "readahead.h"
#include "cyclodump-shared.h"
#include "napi-args.h"
#include "pagescan.h"
#include "pagecopy.h"

typedef struct {
	void *wrkmem;      /* LZO1X-1 work memory: one per thread (per Node environment) */
	struct libdeflate_compressor *deflater; /* made on first use */
#ifdef HAVE_ZSTD
	ZSTD_CCtx *zstd; /* made on first use */
#endif
	unsigned char *tmp;
	size_t tmp_len;
	unsigned char *page_buf; /* one page read with pread where the input cannot be mapped */
	size_t page_buf_len;
} instance_t;

static void free_instance(napi_env env, void *data, void *hint)
{
	instance_t *in = data;
	(void)env;
	(void)hint;
	free(in->wrkmem);
	libdeflate_free_compressor(in->deflater);
#ifdef HAVE_ZSTD
	ZSTD_freeCCtx(in->zstd);
#endif
	free(in->tmp);
	free(in->page_buf);
	free(in);
}

static int all_zero(const unsigned char *p, size_t len)
{
	const uint64_t *w = (const uint64_t *)p;
	size_t i, n = len / 8;
	for (i = 0; i < n; i++)
		if (w[i])
			return 0;
	return 1;
}

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, NULL, "pagecodec: bad arguments"); return NULL; } } while (0)

/*
 * The call's arguments into argv, which has room for `room` (those not given read as
 * undefined); 1 when at least `needed` were given, else 0 with an exception thrown.
 */
static int get_args(napi_env env, napi_callback_info info, napi_value *argv, size_t room, size_t needed)
{
	size_t argc = room;
	char msg[48];
	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
		napi_throw_error(env, NULL, "pagecodec: bad arguments");
		return 0;
	}
	if (argc < needed) {
		snprintf(msg, sizeof msg, "pagecodec: %zu arguments expected", needed);
		napi_throw_error(env, NULL, msg);
		return 0;
	}
	return 1;
}

void *typed_data(napi_env env, napi_value v, size_t *len, int *ok)
{
	bool is_typed = false, is_buf = false, is_ab = false;
	void *data = NULL;
	*ok = 0;
	if (napi_is_typedarray(env, v, &is_typed) != napi_ok)
		return NULL;
	if (is_typed) {
		napi_typedarray_type type;
		size_t n, byte_off;
		napi_value ab;
		if (napi_get_typedarray_info(env, v, &type, &n, &data, &ab, &byte_off) != napi_ok)
			return NULL;
		switch (type) {
		case napi_int32_array: case napi_uint32_array: case napi_float32_array: *len = n * 4; break;
		case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: *len = n * 8; break;
		case napi_int16_array: case napi_uint16_array: *len = n * 2; break;
		default: *len = n; break;
		}
		*ok = 1;
		return data;
	}
	if (napi_is_buffer(env, v, &is_buf) == napi_ok && is_buf) {
		if (napi_get_buffer_info(env, v, &data, len) != napi_ok)
			return NULL;
		*ok = 1;
		return data;
	}
	if (napi_is_arraybuffer(env, v, &is_ab) == napi_ok && is_ab) {
		if (napi_get_arraybuffer_info(env, v, &data, len) != napi_ok)
			return NULL;
		*ok = 1;
		return data;
	}
	return NULL;
}

/* The methods this build has: bit (1 << METHOD_x) for each (snappy and zstd when their libraries were found). */
static int32_t methods_built(void)
{
	int32_t m = (1 << METHOD_RAW) | (1 << METHOD_LZO) | (1 << METHOD_ZLIB);
#ifdef HAVE_SNAPPY
	m |= 1 << METHOD_SNAPPY;
#endif
#ifdef HAVE_ZSTD
	m |= 1 << METHOD_ZSTD;
#endif
	return m;
}

/* The largest compressed form of a page a method may write into tmp before it is kept or not. */
static size_t worst_case(int32_t method, int32_t page_size)
{
	switch (method) {
	case METHOD_LZO:
		return (size_t)page_size + page_size / 16 + 64 + 3;
#ifdef HAVE_SNAPPY
	case METHOD_SNAPPY:
		return snappy_max_compressed_length((size_t)page_size);
#endif
#ifdef HAVE_ZSTD
	case METHOD_ZSTD:
		return ZSTD_compressBound((size_t)page_size);
#endif
	default:
		return 0;
	}
}

/* Makes the per-thread state a method needs; 0 on success, else a message for the caller to throw. */
static const char *prepare_method(instance_t *in, int32_t method, int32_t page_size)
{
	size_t worst;
	if (method < 0 || method > 30 || !(methods_built() & (1 << method)))
		return "pagecodec: unknown method";
	/* level 1, makedumpfile's */
	if (method == METHOD_ZLIB && !in->deflater && !(in->deflater = libdeflate_alloc_compressor(1)))
		return "pagecodec: out of memory";
#ifdef HAVE_ZSTD
	if (method == METHOD_ZSTD && !in->zstd && !(in->zstd = ZSTD_createCCtx()))
		return "pagecodec: out of memory";
#endif
	worst = worst_case(method, page_size);
	if (in->tmp_len < worst) {
		free(in->tmp);
		in->tmp = malloc(worst);
		in->tmp_len = in->tmp ? worst : 0;
		if (!in->tmp)
			return "pagecodec: out of memory";
	}
	return NULL;
}

/* Zero-tests, compresses or copies the readable page p as page i of the batch; returns the new dst_pos. */
static int64_t store_page(instance_t *in, int32_t method, const unsigned char *p, int32_t page_size,
			  bool exclude_zero, unsigned char *dst, int64_t dst_pos, int32_t *sizes,
			  unsigned char *flags, int32_t i, int32_t flag_value)
{
	flags[i] = 0;
	if (exclude_zero && all_zero(p, (size_t)page_size)) {
		sizes[i] = PAGE_MARK_ZERO;
		return dst_pos;
	}
	if (method == METHOD_LZO) {
		lzo_uint out_len = 0;
		int r = lzo1x_1_compress(p, (lzo_uint)page_size, in->tmp, &out_len, in->wrkmem);
		/* kept only when strictly smaller than the page, as makedumpfile does */
		if (r == LZO_E_OK && out_len < (lzo_uint)page_size) {
			memcpy(dst + dst_pos, in->tmp, out_len);
			sizes[i] = (int32_t)out_len;
			flags[i] = (unsigned char)flag_value;
			return dst_pos + (int64_t)out_len;
		}
	}
#ifdef HAVE_SNAPPY
	else if (method == METHOD_SNAPPY) {
		size_t out_len = in->tmp_len;
		/* kept only when strictly smaller than the page, as makedumpfile does */
		if (snappy_compress((const char *)p, (size_t)page_size, (char *)in->tmp, &out_len) == SNAPPY_OK
		    && out_len < (size_t)page_size) {
			memcpy(dst + dst_pos, in->tmp, out_len);
			sizes[i] = (int32_t)out_len;
			flags[i] = (unsigned char)flag_value;
			return dst_pos + (int64_t)out_len;
		}
	}
#endif
#ifdef HAVE_ZSTD
	else if (method == METHOD_ZSTD) {
		/* one frame at level 1, makedumpfile's ZSTD_compressCCtx */
		size_t out_len = ZSTD_compressCCtx(in->zstd, in->tmp, in->tmp_len, p, (size_t)page_size, 1);
		if (!ZSTD_isError(out_len) && out_len < (size_t)page_size) {
			memcpy(dst + dst_pos, in->tmp, out_len);
			sizes[i] = (int32_t)out_len;
			flags[i] = (unsigned char)flag_value;
			return dst_pos + (int64_t)out_len;
		}
	}
#endif
	else if (method == METHOD_ZLIB) {
		/* kept only when strictly smaller than the page: room for page_size - 1 */
		size_t out_len = libdeflate_zlib_compress(in->deflater, p, (size_t)page_size, dst + dst_pos, (size_t)page_size - 1);
		if (out_len > 0) {
			sizes[i] = (int32_t)out_len;
			flags[i] = (unsigned char)flag_value;
			return dst_pos + (int64_t)out_len;
		}
	}
	/* a page read in place (run_file_part) may already be where it is stored */
	if (dst + dst_pos != p)
		memcpy(dst + dst_pos, p, (size_t)page_size);
	sizes[i] = page_size;
	return dst_pos + page_size;
}

/*
 * The optional last argument of both page loops, an Int32Array of 2: the batch's all-zero
 * and unreadable pages are added to [0] and [1], so that the caller need not look at
 * every page's size again. 1 on success (or when absent), 0 with an exception thrown.
 */
static int add_tally(napi_env env, napi_value v, const int32_t *sizes, int32_t first, int32_t count)
{
	size_t len;
	int ok;
	int32_t *tally, i;
	napi_valuetype t;
	if (napi_typeof(env, v, &t) != napi_ok || t == napi_undefined)
		return 1;
	tally = typed_data(env, v, &len, &ok);
	if (!ok || len < TALLY_LENGTH * sizeof(int32_t)) {
		napi_throw_error(env, NULL, "pagecodec: the tally is too short");
		return 0;
	}
	for (i = first; i < first + count; i++) {
		if (sizes[i] == PAGE_MARK_ZERO)
			tally[TALLY_ZERO]++;
		else if (sizes[i] == PAGE_MARK_UNREADABLE)
			tally[TALLY_UNREADABLE]++;
	}
	return 1;
}

/* The arguments both page loops share, from argument `a` on: first, count, pageSize, excludeZero, dst, dstPos, sizes, flags, flagValue. */
typedef struct {
	int32_t first, count, page_size, flag_value;
	bool exclude_zero;
	unsigned char *dst, *flags;
	size_t dst_len, sizes_len, flags_len;
	int64_t dst_pos;
	int32_t *sizes;
} batch_args_t;

static int get_batch_args(napi_env env, napi_value *argv, batch_args_t *b)
{
	int ok1, ok2, ok3;
	if (napi_get_value_int32(env, argv[0], &b->first) != napi_ok
	    || napi_get_value_int32(env, argv[1], &b->count) != napi_ok
	    || napi_get_value_int32(env, argv[2], &b->page_size) != napi_ok
	    || napi_get_value_bool(env, argv[3], &b->exclude_zero) != napi_ok)
		return 0;
	b->dst = typed_data(env, argv[4], &b->dst_len, &ok1);
	if (napi_get_value_int64(env, argv[5], &b->dst_pos) != napi_ok)
		return 0;
	b->sizes = typed_data(env, argv[6], &b->sizes_len, &ok2);
	b->flags = typed_data(env, argv[7], &b->flags_len, &ok3);
	if (napi_get_value_int32(env, argv[8], &b->flag_value) != napi_ok)
		return 0;
	return ok1 && ok2 && ok3;
}

/* the batch fits its arrays and dst has room for every page raw; `per_page` is the size of one entry of the offsets array */
static int batch_fits(const batch_args_t *b, size_t off_len, size_t per_page)
{
	return b->page_size > 0 && b->first >= 0 && b->count >= 0
	    && (size_t)(b->first + b->count) * per_page <= off_len
	    && (size_t)(b->first + b->count) * 4 <= b->sizes_len
	    && (size_t)(b->first + b->count) <= b->flags_len && b->dst_pos >= 0
	    && (size_t)b->dst_pos + (size_t)b->count * (size_t)b->page_size <= b->dst_len;
}

/* Checks the batch against its arrays and readies the method's state: 1, or 0 with an exception thrown. */
static int ready_batch(napi_env env, instance_t *in, int32_t method, const batch_args_t *b, size_t off_len, size_t per_page)
{
	const char *err;
	if (!batch_fits(b, off_len, per_page)) {
		napi_throw_range_error(env, NULL, "pagecodec: buffer too small for the batch");
		return 0;
	}
	if ((err = prepare_method(in, method, b->page_size))) {
		napi_throw_error(env, NULL, err);
		return 0;
	}
	return 1;
}

/* Every staged page of the batch (fileOffsets <= OFFSET_MARK_STAGED_BASE) lies in stage: 1, or 0 with an exception thrown. */
static int staged_pages_fit(napi_env env, const double *offsets, const batch_args_t *b, size_t stage_len)
{
	int32_t i;
	for (i = b->first; i < b->first + b->count; i++) {
		if (offsets[i] <= OFFSET_MARK_STAGED_BASE
		    && (size_t)(OFFSET_MARK_STAGED_BASE - offsets[i]) + (size_t)b->page_size > stage_len) {
			napi_throw_range_error(env, NULL, "pagecodec: page offset outside the staging buffer");
			return 0;
		}
	}
	return 1;
}

/*
 * Reading through a mapping. A window of the file is mapped at a time: /proc/vmcore builds
 * the page tables of a whole mapping when it is made, so mapping all of a terabyte at once
 * would cost gigabytes of them. makedumpfile maps /proc/vmcore in windows too. Each thread
 * of the page loop maps its own window: the helper threads hold a view of the caller's
 * handle (same file, their own window), told apart from other handles by its id.
 */
#define MAP_WINDOW ((uint64_t)4 << 20)

typedef struct {
	int fd;
	uint64_t id;            /* never reused: a view made for another handle is remapped */
	uint64_t page;          /* the system page size: mappings start at multiples of it */
	uint64_t file_end;      /* the file's size when opened, rounded up to a page: /proc/vmcore refuses to map past its end */
	unsigned char *win;     /* the mapped window, or NULL */
	uint64_t win_off, win_len;
} mapped_input_t;

/*
 * compressPages' pages, split between this thread and helper threads of this addon
 * (pthreads, not Node workers: nothing to load, no isolate, a hand-off of a few
 * microseconds). Each part stores its pages' sizes and flags by index, and its data in
 * its own buffer; the parts' data is then put together in page order, so the bytes are
 * those of one thread. One caller uses the helpers at a time; another runs alone.
 */
#define MAX_PAGE_THREADS 16
/* fewer pages than this per part are not worth a hand-off */
#define MIN_PART_PAGES 32

typedef struct {
	int32_t method, page_size, flag_value, from, to;
	bool exclude_zero;
	const unsigned char *src;
	const uint32_t *offsets;   /* pages in src (compressPages), or NULL */
	int fd;                    /* pages read from this file (compressFile) ... */
	const double *file_offsets; /* ... at these offsets, as compressMapped's */
	mapped_input_t *map;       /* pages taken through this thread's window of the mapped file (compressMapped), or NULL */
	int32_t *sizes;
	unsigned char *flags;
	unsigned char *out;
	int64_t out_pos; /* where the part's data starts in out; after the part, where it ends */
} page_part_t;

/* Longest pread of neighbouring pages in compressFile: each thread's read buffer. */
#define FILE_RUN_PAGES 64

/* page_buf with room for FILE_RUN_PAGES pages: 1, or 0 when it cannot be had */
static int ready_read_buffer(instance_t *in, int32_t page_size)
{
	size_t need = (size_t)FILE_RUN_PAGES * (size_t)page_size;
	if (in->page_buf_len >= need)
		return 1;
	free(in->page_buf);
	in->page_buf = malloc(need);
	in->page_buf_len = in->page_buf ? need : 0;
	return in->page_buf != NULL;
}

int start_quiet_thread(void *(*fn)(void *), void *arg, size_t stack_bytes, pthread_t *thread)
{
	sigset_t all, old;
	pthread_attr_t attr;
	pthread_t t;
	int r;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (stack_bytes)
		pthread_attr_setstacksize(&attr, stack_bytes);
	r = pthread_create(thread ? thread : &t, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r == 0;
}

size_t pread_full(int fd, unsigned char *buf, size_t len, off_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done, off + (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	return done;
}

static void mark_unreadable(const page_part_t *p, int32_t i)
{
	p->sizes[i] = PAGE_MARK_UNREADABLE;
	p->flags[i] = 0;
}

/*
 * compressFile's part: neighbouring pages of the file read with one pread (up to
 * FILE_RUN_PAGES), a run that comes back short read again page by page, so that a page
 * the file cannot give costs that page only; staged pages from src.
 */
static int64_t run_file_part(instance_t *in, const page_part_t *p)
{
	int64_t pos = p->out_pos;
	size_t ps = (size_t)p->page_size;
	int32_t i = p->from, n, k;
	while (i < p->to) {
		double o = p->file_offsets[i];
		size_t got;
		if (o <= OFFSET_MARK_STAGED_BASE) {
			pos = store_page(in, p->method, p->src + (size_t)(OFFSET_MARK_STAGED_BASE - o), p->page_size,
					 p->exclude_zero, p->out, pos, p->sizes, p->flags, i, p->flag_value);
			i++;
			continue;
		}
		if (o < 0) {
			mark_unreadable(p, i++);
			continue;
		}
		for (n = 1; i + n < p->to && n < FILE_RUN_PAGES && p->file_offsets[i + n] == o + (double)n * (double)ps; n++)
			;
		if (p->method == METHOD_RAW) {
			/* raw pages are read where they are stored (the part has room for a page
			 * per page): store_page leaves each in place or moves it down over the
			 * all-zero ones before it, whole pages apart, so no second copy of the run.
			 * A short read goes the way below, page by page. */
			unsigned char *run = p->out + pos;
			got = pread_full(p->fd, run, (size_t)n * ps, (off_t)o);
			if (got == (size_t)n * ps) {
				for (k = 0; k < n; k++)
					pos = store_page(in, p->method, run + (size_t)k * ps, p->page_size, p->exclude_zero, p->out, pos,
							 p->sizes, p->flags, i + k, p->flag_value);
				i += n;
				continue;
			}
		}
		got = pread_full(p->fd, in->page_buf, (size_t)n * ps, (off_t)o);
		for (k = 0; k < n; k++) {
			unsigned char *page = in->page_buf + (size_t)k * ps;
			if (got < (size_t)(k + 1) * ps
			    && pread_full(p->fd, page, ps, (off_t)o + (off_t)((size_t)k * ps)) != ps) {
				mark_unreadable(p, i + k);
				continue;
			}
			pos = store_page(in, p->method, page, p->page_size, p->exclude_zero, p->out, pos, p->sizes,
					 p->flags, i + k, p->flag_value);
		}
		i += n;
	}
	return pos;
}

static int64_t run_mapped_part(instance_t *in, const page_part_t *p);

static int64_t run_part(instance_t *in, const page_part_t *p)
{
	int64_t pos = p->out_pos;
	int32_t i;
	if (p->map)
		return run_mapped_part(in, p);
	if (p->file_offsets)
		return run_file_part(in, p);
	for (i = p->from; i < p->to; i++) {
		if (p->offsets[i] == OFFSET_MARK_UNREADABLE) {
			p->sizes[i] = PAGE_MARK_UNREADABLE;
			p->flags[i] = 0;
			continue;
		}
		pos = store_page(in, p->method, p->src + p->offsets[i], p->page_size, p->exclude_zero, p->out, pos,
				 p->sizes, p->flags, i, p->flag_value);
	}
	return pos;
}

typedef struct {
	pthread_t thread;
	instance_t in;
	unsigned char *scratch;
	size_t scratch_len;
	mapped_input_t view; /* its window of the caller's mapped file */
	page_part_t part;
} page_helper_t;

static struct {
	pthread_mutex_t busy; /* held by the one caller using the helpers */
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	page_helper_t helpers[MAX_PAGE_THREADS - 1];
	int started;  /* helper threads running */
	unsigned gen; /* bumped for each job */
	int active;   /* helpers with a part in this job */
	int pending;  /* of those, not done yet */
} page_pool = { .busy = PTHREAD_MUTEX_INITIALIZER, .mu = PTHREAD_MUTEX_INITIALIZER, .go = PTHREAD_COND_INITIALIZER,
		.done = PTHREAD_COND_INITIALIZER };

static void *page_helper_main(void *arg)
{
	page_helper_t *h = arg;
	int idx = (int)(h - page_pool.helpers);
	unsigned seen = 0;
	sigset_t bus;
	/* a page of the mapped file that is gone raises SIGBUS here: on_sigbus takes it (a
	 * blocked SIGBUS from a fault would kill the process) */
	sigemptyset(&bus);
	sigaddset(&bus, SIGBUS);
	pthread_sigmask(SIG_UNBLOCK, &bus, NULL);
	pthread_mutex_lock(&page_pool.mu);
	for (;;) {
		while (page_pool.gen == seen)
			pthread_cond_wait(&page_pool.go, &page_pool.mu);
		seen = page_pool.gen;
		if (idx >= page_pool.active)
			continue;
		pthread_mutex_unlock(&page_pool.mu);
		h->part.out_pos = run_part(&h->in, &h->part);
		pthread_mutex_lock(&page_pool.mu);
		if (--page_pool.pending == 0)
			pthread_cond_signal(&page_pool.done);
	}
	return NULL;
}

/* Helper `k` started, with its state for `method` and room for `pages` pages: 1, or 0 when it cannot be (the caller runs alone). */
static int ready_helper(int k, int32_t method, int32_t page_size, int32_t pages, int file)
{
	page_helper_t *h = &page_pool.helpers[k];
	size_t need = (size_t)pages * (size_t)page_size;
	if (!h->in.wrkmem && !(h->in.wrkmem = malloc(LZO1X_1_MEM_COMPRESS)))
		return 0;
	if (prepare_method(&h->in, method, page_size))
		return 0;
	if (file && !ready_read_buffer(&h->in, page_size))
		return 0;
	if (h->scratch_len < need) {
		free(h->scratch);
		h->scratch = malloc(need);
		h->scratch_len = h->scratch ? need : 0;
		if (!h->scratch)
			return 0;
	}
	if (k >= page_pool.started) {
		if (!start_quiet_thread(page_helper_main, h, 0, &h->thread))
			return 0;
		page_pool.started = k + 1;
	}
	return 1;
}

static mapped_input_t *view_of(mapped_input_t *view, const mapped_input_t *m);

/*
 * The pages of `main` in `parts` parts when the helpers are free and can be readied; the
 * first part is done here into main->out, the others into the helpers' buffers, then
 * copied after it. Returns the end of the data in main->out, or -1 when nothing was done
 * (the caller runs the whole batch alone).
 */
static int64_t run_parts(instance_t *in, const page_part_t *main, int parts)
{
	int32_t n = main->to - main->from, k;
	int64_t pos;
	page_part_t mine = *main;
	if (pthread_mutex_trylock(&page_pool.busy) != 0)
		return -1;
	for (k = 0; k < parts - 1; k++)
		if (!ready_helper(k, main->method, main->page_size, n / parts + 1, main->file_offsets != NULL))
			break;
	parts = k + 1;
	if (parts < 2) {
		pthread_mutex_unlock(&page_pool.busy);
		return -1;
	}
	mine.to = main->from + n / parts;
	for (k = 0; k < parts - 1; k++) {
		page_part_t *p = &page_pool.helpers[k].part;
		*p = *main;
		p->from = main->from + (int32_t)((int64_t)n * (k + 1) / parts);
		p->to = main->from + (int32_t)((int64_t)n * (k + 2) / parts);
		p->out = page_pool.helpers[k].scratch;
		p->out_pos = 0;
		if (main->map)
			p->map = view_of(&page_pool.helpers[k].view, main->map);
	}
	pthread_mutex_lock(&page_pool.mu);
	page_pool.active = parts - 1;
	page_pool.pending = parts - 1;
	page_pool.gen++;
	pthread_cond_broadcast(&page_pool.go);
	pthread_mutex_unlock(&page_pool.mu);
	pos = run_part(in, &mine);
	pthread_mutex_lock(&page_pool.mu);
	while (page_pool.pending > 0)
		pthread_cond_wait(&page_pool.done, &page_pool.mu);
	pthread_mutex_unlock(&page_pool.mu);
	for (k = 0; k < parts - 1; k++) {
		page_helper_t *h = &page_pool.helpers[k];
		memcpy(main->out + pos, h->scratch, (size_t)h->part.out_pos);
		pos += h->part.out_pos;
	}
	pthread_mutex_unlock(&page_pool.busy);
	return pos;
}

/* how many parts a batch of n pages is cut into for `threads` threads */
static int parts_for(int32_t n, int32_t threads)
{
	int32_t parts = n / MIN_PART_PAGES;
	if (parts > threads)
		parts = threads;
	if (parts > MAX_PAGE_THREADS)
		parts = MAX_PAGE_THREADS;
	return parts < 1 ? 1 : parts;
}

/* An optional int32 argument: *out left as it is when undefined; 0 (thrown) when not a number. */
static int opt_int32(napi_env env, napi_value v, int32_t *out)
{
	napi_valuetype t;

	if (napi_typeof(env, v, &t) != napi_ok || (t != napi_undefined && napi_get_value_int32(env, v, out) != napi_ok)) {
		napi_throw_error(env, NULL, "pagecodec: bad arguments");
		return 0;
	}
	return 1;
}

/*
 * The end the synchronous page loops share: the batch `whole` on up to `threads` threads,
 * its pages counted into `tally`; returns the new dstPos.
 */
static napi_value run_batch(napi_env env, instance_t *in, page_part_t *whole, const batch_args_t *b, int32_t threads,
			    napi_value tally)
{
	napi_value result;
	int32_t parts = parts_for(b->count, threads);
	int64_t end = parts > 1 ? run_parts(in, whole, parts) : -1;
	int64_t dst_pos = end >= 0 ? end : run_part(in, whole);

	if (!add_tally(env, tally, b->sizes, b->first, b->count))
		return NULL;
	CHECK(napi_create_int64(env, dst_pos, &result));
	return result;
}

static napi_value compress_pages(napi_env env, napi_callback_info info)
{
	napi_value argv[14];
	instance_t *in;
	int32_t method, i, threads = 1;
	batch_args_t b;
	size_t src_len, off_len;
	int ok1, ok2;
	unsigned char *src;
	uint32_t *offsets;
	page_part_t whole;

	if (!get_args(env, info, argv, 14, 12))
		return NULL;
	CHECK(napi_get_instance_data(env, (void **)&in));
	CHECK(napi_get_value_int32(env, argv[0], &method));
	src = typed_data(env, argv[1], &src_len, &ok1);
	offsets = typed_data(env, argv[2], &off_len, &ok2);
	if (!get_batch_args(env, argv + 3, &b) || !ok1 || !ok2) {
		napi_throw_error(env, NULL, "pagecodec: bad arguments");
		return NULL;
	}
	if (!opt_int32(env, argv[13], &threads))
		return NULL;
	if (!ready_batch(env, in, method, &b, off_len, 4))
		return NULL;
	for (i = b.first; i < b.first + b.count; i++) {
		if (offsets[i] != OFFSET_MARK_UNREADABLE && (size_t)offsets[i] + (size_t)b.page_size > src_len) {
			napi_throw_range_error(env, NULL, "pagecodec: page offset outside the source buffer");
			return NULL;
		}
	}
	whole = (page_part_t){ .method = method, .page_size = b.page_size, .flag_value = b.flag_value, .from = b.first,
			       .to = b.first + b.count, .exclude_zero = b.exclude_zero, .src = src, .offsets = offsets,
			       .fd = -1, .sizes = b.sizes, .flags = b.flags, .out = b.dst, .out_pos = b.dst_pos };
	return run_batch(env, in, &whole, &b, threads, argv[12]);
}

/*
 * compressFile(method, fd, stage, fileOffsets, first, count, pageSize, excludeZero,
 *              dst, dstPos, sizes, flags, flagValue, tally[, threads]) -> new dstPos
 * compressMapped's loop with the pages read from the file open as fd with pread, by each
 * thread for its part of the batch: on a regular file this costs less than faulting a
 * mapping's pages in, and the copy is shared between the threads too.
 */
static napi_value compress_file(napi_env env, napi_callback_info info)
{
	napi_value argv[15];
	instance_t *in;
	int32_t method, fd, threads = 1;
	batch_args_t b;
	size_t stage_len, off_len;
	int ok1, ok2;
	unsigned char *stage;
	double *offsets;
	page_part_t whole;

	if (!get_args(env, info, argv, 15, 14))
		return NULL;
	CHECK(napi_get_instance_data(env, (void **)&in));
	CHECK(napi_get_value_int32(env, argv[0], &method));
	CHECK(napi_get_value_int32(env, argv[1], &fd));
	stage = typed_data(env, argv[2], &stage_len, &ok1);
	offsets = typed_data(env, argv[3], &off_len, &ok2);
	if (!get_batch_args(env, argv + 4, &b) || !ok1 || !ok2) {
		napi_throw_error(env, NULL, "pagecodec: bad arguments");
		return NULL;
	}
	if (!opt_int32(env, argv[14], &threads))
		return NULL;
	if (!ready_batch(env, in, method, &b, off_len, 8))
		return NULL;
	if (!ready_read_buffer(in, b.page_size)) {
		napi_throw_error(env, NULL, "pagecodec: out of memory");
		return NULL;
	}
	if (!staged_pages_fit(env, offsets, &b, stage_len))
		return NULL;
	whole = (page_part_t){ .method = method, .page_size = b.page_size, .flag_value = b.flag_value, .from = b.first,
			       .to = b.first + b.count, .exclude_zero = b.exclude_zero, .src = stage, .fd = fd,
			       .file_offsets = offsets, .sizes = b.sizes, .flags = b.flags, .out = b.dst, .out_pos = b.dst_pos };
	return run_batch(env, in, &whole, &b, threads, argv[13]);
}

/*
 * compressFileAsync(method, fd, stage, fileOffsets, first, count, pageSize, excludeZero,
 *                   dst, dstPos, sizes, flags, flagValue, tally, callback)
 * compressFile's loop for one batch on a thread of libuv's pool, so that the coordinator
 * cuts, reads the offsets of and writes other batches meanwhile, and several batches are
 * compressed at once, one per pool thread. callback(error, newDstPos) on the main thread.
 * The arrays are held (references) until then and must not be touched by the caller.
 */
typedef struct {
	napi_async_work work;
	napi_ref refs[6]; /* stage, fileOffsets, dst, sizes, flags, tally */
	napi_ref callback;
	page_part_t part;
	int32_t *tally;
	const char *error;
} async_batch_t;

/* Instances for the pool threads' batches: one per batch running, kept for the next. */
static struct {
	pthread_mutex_t mu;
	instance_t *free[MAX_PAGE_THREADS * 4];
	int n;
} async_instances = { .mu = PTHREAD_MUTEX_INITIALIZER };

static instance_t *take_instance(void)
{
	instance_t *in = NULL;
	pthread_mutex_lock(&async_instances.mu);
	if (async_instances.n > 0)
		in = async_instances.free[--async_instances.n];
	pthread_mutex_unlock(&async_instances.mu);
	if (!in && (in = calloc(1, sizeof(*in))) && !(in->wrkmem = malloc(LZO1X_1_MEM_COMPRESS))) {
		free(in);
		in = NULL;
	}
	return in;
}

static void give_instance(instance_t *in)
{
	pthread_mutex_lock(&async_instances.mu);
	if (async_instances.n < (int)(sizeof async_instances.free / sizeof async_instances.free[0])) {
		async_instances.free[async_instances.n++] = in;
		in = NULL;
	}
	pthread_mutex_unlock(&async_instances.mu);
	if (in)
		free_instance(NULL, in, NULL);
}

static void async_batch_execute(napi_env env, void *data)
{
	async_batch_t *a = data;
	instance_t *in = take_instance();
	(void)env;
	if (!in) {
		a->error = "pagecodec: out of memory";
		return;
	}
	if ((a->error = prepare_method(in, a->part.method, a->part.page_size)) == NULL) {
		if (!ready_read_buffer(in, a->part.page_size))
			a->error = "pagecodec: out of memory";
		else
			a->part.out_pos = run_part(in, &a->part);
	}
	give_instance(in);
}

static void async_batch_complete(napi_env env, napi_status status, void *data)
{
	async_batch_t *a = data;
	napi_value cb, argv[2], undefined;
	int32_t i;
	size_t k;
	napi_get_undefined(env, &undefined);
	if (status == napi_ok && !a->error) {
		for (i = a->part.from; i < a->part.to; i++) {
			if (a->part.sizes[i] == PAGE_MARK_ZERO)
				a->tally[TALLY_ZERO]++;
			else if (a->part.sizes[i] == PAGE_MARK_UNREADABLE)
				a->tally[TALLY_UNREADABLE]++;
		}
		argv[0] = undefined;
		napi_create_int64(env, a->part.out_pos, &argv[1]);
	} else {
		napi_value msg;
		napi_create_string_utf8(env, a->error ? a->error : "pagecodec: the batch was cancelled", NAPI_AUTO_LENGTH, &msg);
		napi_create_error(env, NULL, msg, &argv[0]);
		argv[1] = undefined;
	}
	if (napi_get_reference_value(env, a->callback, &cb) == napi_ok)
		napi_call_function(env, undefined, cb, 2, argv, NULL);
	for (k = 0; k < 6; k++)
		napi_delete_reference(env, a->refs[k]);
	napi_delete_reference(env, a->callback);
	napi_delete_async_work(env, a->work);
	free(a);
}

static napi_value compress_file_async(napi_env env, napi_callback_info info)
{
	napi_value argv[15], name;
	int32_t method, fd;
	batch_args_t b;
	size_t stage_len, off_len, tally_len, k;
	int ok1, ok2, ok3;
	unsigned char *stage;
	double *offsets;
	int32_t *tally;
	napi_valuetype t;
	async_batch_t *a;
	const int held[6] = { 2, 3, 8, 10, 11, 13 };

	if (!get_args(env, info, argv, 15, 15))
		return NULL;
	CHECK(napi_get_value_int32(env, argv[0], &method));
	CHECK(napi_get_value_int32(env, argv[1], &fd));
	stage = typed_data(env, argv[2], &stage_len, &ok1);
	offsets = typed_data(env, argv[3], &off_len, &ok2);
	tally = typed_data(env, argv[13], &tally_len, &ok3);
	CHECK(napi_typeof(env, argv[14], &t));
	if (!get_batch_args(env, argv + 4, &b) || !ok1 || !ok2 || !ok3 || t != napi_function
	    || tally_len < TALLY_LENGTH * sizeof(int32_t)) {
		napi_throw_error(env, NULL, "pagecodec: bad arguments");
		return NULL;
	}
	if (!batch_fits(&b, off_len, 8)) {
		napi_throw_range_error(env, NULL, "pagecodec: buffer too small for the batch");
		return NULL;
	}
	if (method < 0 || method > 30 || !(methods_built() & (1 << method))) {
		napi_throw_error(env, NULL, "pagecodec: unknown method");
		return NULL;
	}
	if (!staged_pages_fit(env, offsets, &b, stage_len))
		return NULL;
	if (!(a = calloc(1, sizeof(*a)))) {
		napi_throw_error(env, NULL, "pagecodec: out of memory");
		return NULL;
	}
	a->part = (page_part_t){ .method = method, .page_size = b.page_size, .flag_value = b.flag_value, .from = b.first,
				 .to = b.first + b.count, .exclude_zero = b.exclude_zero, .src = stage, .fd = fd,
				 .file_offsets = offsets, .sizes = b.sizes, .flags = b.flags, .out = b.dst, .out_pos = b.dst_pos };
	a->tally = tally;
	for (k = 0; k < 6; k++)
		CHECK(napi_create_reference(env, argv[held[k]], 1, &a->refs[k]));
	CHECK(napi_create_reference(env, argv[14], 1, &a->callback));
	CHECK(napi_create_string_utf8(env, "cyclodump:compressFileAsync", NAPI_AUTO_LENGTH, &name));
	CHECK(napi_create_async_work(env, NULL, name, async_batch_execute, async_batch_complete, a, &a->work));
	CHECK(napi_queue_async_work(env, a->work));
	return NULL;
}


static void unmap_window(mapped_input_t *m)
{
	if (m->win)
		munmap(m->win, m->win_len);
	m->win = NULL;
	m->win_len = 0;
}

/* A helper's view of m: its own window over the same file, remapped when it was made for another handle. */
static mapped_input_t *view_of(mapped_input_t *view, const mapped_input_t *m)
{
	if (view->id != m->id) {
		unmap_window(view);
		*view = *m;
		view->win = NULL;
		view->win_off = view->win_len = 0;
	}
	return view;
}

static void free_mapped(napi_env env, void *data, void *hint)
{
	mapped_input_t *m = data;
	int k;
	(void)env;
	(void)hint;
	/* the helpers' windows of this file too, unless another caller has them at work (they
	 * are then remapped at their next use) */
	if (pthread_mutex_trylock(&page_pool.busy) == 0) {
		for (k = 0; k < page_pool.started; k++)
			if (page_pool.helpers[k].view.id == m->id) {
				unmap_window(&page_pool.helpers[k].view);
				page_pool.helpers[k].view.id = 0;
			}
		pthread_mutex_unlock(&page_pool.busy);
	}
	unmap_window(m);
	free(m);
}

/*
 * A page the file does not hold any more raises SIGBUS when touched. The page loop marks
 * the spot with sigsetjmp; the handler jumps back there, and that page is recorded as
 * unreadable instead of the process dying. A SIGBUS anywhere else goes to whatever
 * handled it before, or kills the process as it would have.
 */
static __thread sigjmp_buf *bus_jump;
static struct sigaction previous_bus;
static pthread_once_t bus_once = PTHREAD_ONCE_INIT;
static int bus_installed;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	sigjmp_buf *j = bus_jump;
	if (j) {
		bus_jump = NULL;
		siglongjmp(*j, 1);
	}
	if ((previous_bus.sa_flags & SA_SIGINFO) && previous_bus.sa_sigaction) {
		previous_bus.sa_sigaction(sig, si, uc);
	} else if (previous_bus.sa_handler != SIG_DFL && previous_bus.sa_handler != SIG_IGN) {
		previous_bus.sa_handler(sig);
	} else {
		/* returning re-runs the faulting access, which now gets the default action */
		signal(SIGBUS, SIG_DFL);
	}
}

static void install_sigbus(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	/* SA_NODEFER: the handler leaves by siglongjmp without restoring a mask */
	sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	bus_installed = sigaction(SIGBUS, &sa, &previous_bus) == 0;
}

/* The page at file offset off, mapped; NULL when it cannot be mapped (the caller reads it instead). */
static const unsigned char *map_page(mapped_input_t *m, uint64_t off, uint64_t len)
{
	uint64_t start, size;
	void *p;
	if (m->win && off >= m->win_off && off + len <= m->win_off + m->win_len)
		return m->win + (off - m->win_off);
	unmap_window(m);
	start = off & ~(MAP_WINDOW - 1);
	/* a page that starts near the window's end (file offsets need not be page aligned) still fits */
	size = MAP_WINDOW + ((len + m->page - 1) & ~(m->page - 1));
	if (start + size > m->file_end)
		size = start < m->file_end ? m->file_end - start : 0;
	if (size == 0 || off + len > start + size)
		return NULL;
	p = mmap(NULL, size, PROT_READ, MAP_SHARED, m->fd, (off_t)start);
	if (p == MAP_FAILED)
		return NULL;
	m->win = p;
	m->win_off = start;
	m->win_len = size;
	return m->win + (off - start);
}

static uint64_t next_map_id;

static napi_value map_input(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], result;
	int32_t fd;
	struct stat st;
	mapped_input_t *m;
	void *probe;
	long page = sysconf(_SC_PAGESIZE);

	CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 1)
		return NULL;
	CHECK(napi_get_value_int32(env, argv[0], &fd));
	pthread_once(&bus_once, install_sigbus);
	/* only regular files and /proc/vmcore (which reports a size) are mapped, and only when mmap works on them */
	if (!bus_installed || page <= 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
		CHECK(napi_get_null(env, &result));
		return result;
	}
	probe = mmap(NULL, (size_t)page, PROT_READ, MAP_SHARED, fd, 0);
	if (probe == MAP_FAILED) {
		CHECK(napi_get_null(env, &result));
		return result;
	}
	munmap(probe, (size_t)page);
	m = calloc(1, sizeof(*m));
	if (!m) {
		napi_throw_error(env, NULL, "pagecodec: out of memory");
		return NULL;
	}
	m->fd = fd;
	m->id = __atomic_add_fetch(&next_map_id, 1, __ATOMIC_RELAXED);
	m->page = (uint64_t)page;
	m->file_end = ((uint64_t)st.st_size + m->page - 1) & ~(m->page - 1);
	if (napi_create_external(env, m, free_mapped, NULL, &result) != napi_ok) {
		free(m);
		napi_throw_error(env, NULL, "pagecodec: cannot make the mapping handle");
		return NULL;
	}
	return result;
}

/*
 * compressMapped's part: each page through this thread's window of the file (read with
 * pread where it cannot be mapped), staged pages from src. A page the file no longer
 * holds raises SIGBUS, which jumps back here: that page is unreadable, the loop goes on.
 */
static int64_t run_mapped_part(instance_t *in, const page_part_t *p)
{
	sigjmp_buf jump;
	/* what the loop changes and the SIGBUS path reads after siglongjmp */
	volatile int32_t i = p->from;
	volatile int64_t pos = p->out_pos;
	size_t ps = (size_t)p->page_size;

	if (sigsetjmp(jump, 0)) {
		/* page i is gone from the file (libdeflate keeps no state between calls, so one
		 * stopped mid-page needs no reset) */
		mark_unreadable(p, i);
		i = i + 1;
	}
	bus_jump = &jump;
	for (; i < p->to; i = i + 1) {
		double o = p->file_offsets[i];
		const unsigned char *page;
		if (o <= OFFSET_MARK_STAGED_BASE) {
			page = p->src + (size_t)(OFFSET_MARK_STAGED_BASE - o);
		} else if (o < 0) {
			mark_unreadable(p, i);
			continue;
		} else if (!(page = map_page(p->map, (uint64_t)o, (uint64_t)ps))) {
			/* not mappable here (past the end of the window arithmetic, or mmap failed): read it */
			if (pread_full(p->map->fd, in->page_buf, ps, (off_t)o) != ps) {
				mark_unreadable(p, i);
				continue;
			}
			page = in->page_buf;
		}
		pos = store_page(in, p->method, page, p->page_size, p->exclude_zero, p->out, pos, p->sizes, p->flags, i,
				 p->flag_value);
	}
	bus_jump = NULL;
	return pos;
}

/*
 * compressMapped(method, handle, stage, fileOffsets, first, count, pageSize, excludeZero,
 *                dst, dstPos, sizes, flags, flagValue[, tally[, threads]]) -> new dstPos
 * With threads > 1 the batch is shared with the helper threads, each through its own
 * window of the file: the same bytes as one thread.
 */
static napi_value compress_mapped(napi_env env, napi_callback_info info)
{
	napi_value argv[15];
	instance_t *in;
	mapped_input_t *m;
	int32_t method, threads = 1;
	batch_args_t b;
	size_t stage_len, off_len;
	int ok1, ok2;
	unsigned char *stage;
	double *offsets;
	page_part_t whole;

	if (!get_args(env, info, argv, 15, 13))
		return NULL;
	CHECK(napi_get_instance_data(env, (void **)&in));
	CHECK(napi_get_value_int32(env, argv[0], &method));
	CHECK(napi_get_value_external(env, argv[1], (void **)&m));
	stage = typed_data(env, argv[2], &stage_len, &ok1);
	offsets = typed_data(env, argv[3], &off_len, &ok2);
	if (!get_batch_args(env, argv + 4, &b) || !ok1 || !ok2) {
		napi_throw_error(env, NULL, "pagecodec: bad arguments");
		return NULL;
	}
	if (!opt_int32(env, argv[14], &threads))
		return NULL;
	if (!ready_batch(env, in, method, &b, off_len, 8) || !staged_pages_fit(env, offsets, &b, stage_len))
		return NULL;
	if (!ready_read_buffer(in, b.page_size)) {
		napi_throw_error(env, NULL, "pagecodec: out of memory");
		return NULL;
	}
	whole = (page_part_t){ .method = method, .page_size = b.page_size, .flag_value = b.flag_value, .from = b.first,
			       .to = b.first + b.count, .exclude_zero = b.exclude_zero, .src = stage, .fd = m->fd,
			       .file_offsets = offsets, .map = m, .sizes = b.sizes, .flags = b.flags, .out = b.dst,
			       .out_pos = b.dst_pos };
	return run_batch(env, in, &whole, &b, threads, argv[13]);
}

/*
 * rawRuns(handle, fileOffsets, first, count, pageSize, excludeZero, sizes, flags, runs[, tally]) -> runs made, or -1
 * Pass 2 without a codec, where the writer moves the data itself (pagecopy.c): the zero
 * test of each page through the mapping, and the file ranges of the pages kept raw, in
 * order, as [offset, length] pairs in runs (a Float64Array of 2 * count), neighbouring
 * pages of the file joined into one range. sizes, flags and tally as compressMapped sets
 * them. -1 (nothing to use) at a page the caller staged: that batch is copied instead.
 */
static napi_value raw_runs(napi_env env, napi_callback_info info)
{
	napi_value argv[10], result;
	mapped_input_t *m;
	int32_t first, count, page_size;
	bool exclude_zero;
	size_t off_len, sizes_len, flags_len, runs_len;
	int ok1, ok2, ok3, ok4;
	double *offsets, *runs;
	int32_t *sizes;
	unsigned char *flags;
	sigjmp_buf jump;
	volatile int32_t i;
	volatile int64_t n_runs = 0;

	if (!get_args(env, info, argv, 10, 9))
		return NULL;
	CHECK(napi_get_value_external(env, argv[0], (void **)&m));
	offsets = typed_data(env, argv[1], &off_len, &ok1);
	CHECK(napi_get_value_int32(env, argv[2], &first));
	CHECK(napi_get_value_int32(env, argv[3], &count));
	CHECK(napi_get_value_int32(env, argv[4], &page_size));
	CHECK(napi_get_value_bool(env, argv[5], &exclude_zero));
	sizes = typed_data(env, argv[6], &sizes_len, &ok2);
	flags = typed_data(env, argv[7], &flags_len, &ok3);
	runs = typed_data(env, argv[8], &runs_len, &ok4);
	if (!ok1 || !ok2 || !ok3 || !ok4 || page_size <= 0 || first < 0 || count < 0
	    || (size_t)(first + count) * 8 > off_len || (size_t)(first + count) * 4 > sizes_len
	    || (size_t)(first + count) > flags_len || (size_t)count * 16 > runs_len) {
		napi_throw_range_error(env, NULL, "pagecodec: buffer too small for the batch");
		return NULL;
	}
	i = first;
	if (sigsetjmp(jump, 0)) {
		/* page i is gone from the file: unreadable, like a failed read */
		sizes[i] = PAGE_MARK_UNREADABLE;
		flags[i] = 0;
		i = i + 1;
	}
	bus_jump = &jump;
	for (; i < first + count; i = i + 1) {
		double o = offsets[i];
		const unsigned char *p;
		flags[i] = 0;
		if (o <= OFFSET_MARK_STAGED_BASE) {
			bus_jump = NULL;
			CHECK(napi_create_int32(env, -1, &result));
			return result;
		}
		if (o < 0) {
			sizes[i] = PAGE_MARK_UNREADABLE;
			continue;
		}
		p = map_page(m, (uint64_t)o, (uint64_t)page_size);
		if (!p) {
			bus_jump = NULL;
			CHECK(napi_create_int32(env, -1, &result));
			return result;
		}
		if (exclude_zero && all_zero(p, (size_t)page_size)) {
			sizes[i] = PAGE_MARK_ZERO;
			continue;
		}
		sizes[i] = page_size;
		if (n_runs > 0 && runs[2 * (n_runs - 1)] + runs[2 * (n_runs - 1) + 1] == o) {
			runs[2 * (n_runs - 1) + 1] += page_size;
		} else {
			runs[2 * n_runs] = o;
			runs[2 * n_runs + 1] = page_size;
			n_runs = n_runs + 1;
		}
	}
	bus_jump = NULL;
	if (!add_tally(env, argv[9], sizes, first, count))
		return NULL;
	CHECK(napi_create_int64(env, n_runs, &result));
	return result;
}

/*
 * mapOffsets(bm, nbits, pfnStart, limit, pageSize, starts, ends, offsets, fileOffsets, cursor) -> 0 | 1
 * Pass 2's walk over a batch's bitmap for the mapped input: the file offset of the page of
 * every set bit of bm, from bit cursor[0] on, into fileOffsets[cursor[1]], [cursor[1] + 1],
 * ..., while each page lies wholly in one of the file's ranges (starts, ends, offsets:
 * physical.ts's FileMap, sorted). Returns 0 at the end of the bitmap or after `limit`
 * pages; 1 at a page not wholly in the file, cursor[0] being its bit, for the caller to
 * read it (its tail reads as zero). cursor[1] counts the pages so far. All Float64Arrays.
 */
/* whether [pa, end) lies wholly in range ci of the file's ranges */
static int page_in_range(const double *starts, const double *ends, int64_t n_ranges, int64_t ci, double pa, double end)
{
	return ci < n_ranges && starts[ci] <= pa && end <= ends[ci];
}

static napi_value map_offsets(napi_env env, napi_callback_info info)
{
	napi_value argv[10], result;
	unsigned char *bm;
	double *starts, *ends, *foffs, *out, *cursor;
	size_t bm_len, starts_len, ends_len, foffs_len, out_len, cursor_len;
	int ok[6];
	int64_t nbits, pfn_start, limit, page_size, i, seen, n_ranges, ci = 0, stopped = 0;

	if (!get_args(env, info, argv, 10, 10))
		return NULL;
	bm = typed_data(env, argv[0], &bm_len, &ok[0]);
	CHECK(napi_get_value_int64(env, argv[1], &nbits));
	CHECK(napi_get_value_int64(env, argv[2], &pfn_start));
	CHECK(napi_get_value_int64(env, argv[3], &limit));
	CHECK(napi_get_value_int64(env, argv[4], &page_size));
	starts = typed_data(env, argv[5], &starts_len, &ok[1]);
	ends = typed_data(env, argv[6], &ends_len, &ok[2]);
	foffs = typed_data(env, argv[7], &foffs_len, &ok[3]);
	out = typed_data(env, argv[8], &out_len, &ok[4]);
	cursor = typed_data(env, argv[9], &cursor_len, &ok[5]);
	if (!ok[0] || !ok[1] || !ok[2] || !ok[3] || !ok[4] || !ok[5] || cursor_len < 16 || page_size <= 0
	    || starts_len != ends_len || starts_len != foffs_len || nbits < 0 || (size_t)((nbits + 7) / 8) > bm_len
	    || limit < 0 || (size_t)limit > out_len / 8) {
		napi_throw_range_error(env, NULL, "pagecodec: bad arguments to mapOffsets");
		return NULL;
	}
	n_ranges = (int64_t)(starts_len / 8);
	i = (int64_t)cursor[0];
	seen = (int64_t)cursor[1];
	while (i < nbits && seen < limit) {
		double pa, end;
		if ((i & 7) == 0 && bm[i >> 3] == 0) {
			i += 8;
			continue;
		}
		if (!(bm[i >> 3] & (1u << (i & 7)))) {
			i++;
			continue;
		}
		pa = (double)(pfn_start + i) * (double)page_size;
		end = pa + (double)page_size;
		if (!page_in_range(starts, ends, n_ranges, ci, pa, end)) {
			/* the range holding pa, or the first after it */
			int64_t lo = 0, hi = n_ranges;
			while (lo < hi) {
				int64_t mid = (lo + hi) / 2;
				if (ends[mid] <= pa)
					lo = mid + 1;
				else
					hi = mid;
			}
			ci = lo;
			if (!page_in_range(starts, ends, n_ranges, ci, pa, end)) {
				stopped = 1;
				break;
			}
		}
		out[seen++] = foffs[ci] + (pa - starts[ci]);
		i++;
	}
	cursor[0] = (double)i;
	cursor[1] = (double)seen;
	CHECK(napi_create_int32(env, (int32_t)stopped, &result));
	return result;
}

/*
 * cutBatch(bm, byte, nbytes, maxPages, firstByte, headMask, tailMask, out) -> 0 | 1
 * The next pass-2 batch of a cycle's bitmap, from byte `byte` on: bytes with no set bit
 * are skipped, then whole bytes are taken while the batch holds at most maxPages set bits
 * (its first byte always). Byte firstByte counts through headMask and byte nbytes - 1
 * through tailMask (a --split file's range need not start or end on a byte). Returns 0
 * when no set bit is left; else 1, with out (an Int32Array) = [first byte, byte after
 * the last, set bits].
 */
static napi_value cut_batch(napi_env env, napi_callback_info info)
{
	napi_value argv[8], result;
	unsigned char *bm;
	int32_t *out;
	size_t bm_len, out_len;
	int ok1, ok2, found = 0;
	int32_t byte, nbytes, max_pages, first_byte, head_mask, tail_mask, count = 0, first;

	if (!get_args(env, info, argv, 8, 8))
		return NULL;
	bm = typed_data(env, argv[0], &bm_len, &ok1);
	CHECK(napi_get_value_int32(env, argv[1], &byte));
	CHECK(napi_get_value_int32(env, argv[2], &nbytes));
	CHECK(napi_get_value_int32(env, argv[3], &max_pages));
	CHECK(napi_get_value_int32(env, argv[4], &first_byte));
	CHECK(napi_get_value_int32(env, argv[5], &head_mask));
	CHECK(napi_get_value_int32(env, argv[6], &tail_mask));
	out = typed_data(env, argv[7], &out_len, &ok2);
	if (!ok1 || !ok2 || out_len < 12 || byte < 0 || nbytes < 0 || (size_t)nbytes > bm_len || max_pages <= 0) {
		napi_throw_range_error(env, NULL, "pagecodec: bad arguments to cutBatch");
		return NULL;
	}
#define MASKED(i) (bm[i] & ((i) == first_byte ? head_mask : 0xff) & ((i) == nbytes - 1 ? tail_mask : 0xff))
	while (byte < nbytes && MASKED(byte) == 0)
		byte++;
	if (byte < nbytes) {
		first = byte;
		while (byte < nbytes) {
			int32_t n = __builtin_popcount((unsigned)MASKED(byte));
			if (count + n > max_pages && count > 0)
				break;
			count += n;
			byte++;
		}
		out[0] = first;
		out[1] = byte;
		out[2] = count;
		found = 1;
	}
#undef MASKED
	CHECK(napi_create_int32(env, found, &result));
	return result;
}

/* the dump file is little-endian whatever the host */
static void put_le(unsigned char *d, uint64_t v, int bytes)
{
	int b;
	for (b = 0; b < bytes; b++)
		d[b] = (unsigned char)(v >> (8 * b));
}

/*
 * encodeDescriptors(sizes, flags, count, dataPos, zeroOffset, pageSize, layout, out) -> new dataPos
 * The page_desc records of a batch's results, one after another into out: sizes[k] > 0
 * stored bytes at the next data position (from dataPos on), 0 an all-zero page (the shared
 * page at zeroOffset), < 0 a page that could not be read (all fields 0: "data lost").
 * layout (Int32Array) is the record's size and the offsets of offset (i64), size (u32),
 * flags (u32) and page_flags (u64), from diskdump.ts's PageDesc declaration.
 */
static napi_value encode_descriptors(napi_env env, napi_callback_info info)
{
	napi_value argv[8], result;
	int32_t *sizes, *layout;
	unsigned char *flags, *out;
	size_t sizes_len, flags_len, layout_len, out_len;
	int ok[4];
	int32_t count, page_size, k;
	int64_t data_pos, zero_off;

	if (!get_args(env, info, argv, 8, 8))
		return NULL;
	sizes = typed_data(env, argv[0], &sizes_len, &ok[0]);
	flags = typed_data(env, argv[1], &flags_len, &ok[1]);
	CHECK(napi_get_value_int32(env, argv[2], &count));
	CHECK(napi_get_value_int64(env, argv[3], &data_pos));
	CHECK(napi_get_value_int64(env, argv[4], &zero_off));
	CHECK(napi_get_value_int32(env, argv[5], &page_size));
	layout = typed_data(env, argv[6], &layout_len, &ok[2]);
	out = typed_data(env, argv[7], &out_len, &ok[3]);
	if (!ok[0] || !ok[1] || !ok[2] || !ok[3] || count < 0 || layout_len < 20 || layout[0] <= 0
	    || (size_t)count * 4 > sizes_len || (size_t)count > flags_len || (size_t)count * (size_t)layout[0] > out_len
	    || layout[1] < 0 || layout[1] + 8 > layout[0] || layout[2] < 0 || layout[2] + 4 > layout[0]
	    || layout[3] < 0 || layout[3] + 4 > layout[0] || layout[4] < 0 || layout[4] + 8 > layout[0]) {
		napi_throw_range_error(env, NULL, "pagecodec: bad arguments to encodeDescriptors");
		return NULL;
	}
	for (k = 0; k < count; k++) {
		unsigned char *d = out + (size_t)k * (size_t)layout[0];
		int64_t off = 0;
		uint32_t size = 0, fl = 0;
		uint64_t page_flags = 0;
		if (sizes[k] == PAGE_MARK_ZERO) {
			off = zero_off;
			size = (uint32_t)page_size;
		} else if (sizes[k] > 0) {
			off = data_pos;
			size = (uint32_t)sizes[k];
			fl = flags[k];
			data_pos += sizes[k];
		}
		put_le(d + layout[1], (uint64_t)off, 8);
		put_le(d + layout[2], size, 4);
		put_le(d + layout[3], fl, 4);
		put_le(d + layout[4], page_flags, 8);
	}
	CHECK(napi_create_int64(env, data_pos, &result));
	return result;
}

static napi_value lzo_decompress(napi_env env, napi_callback_info info)
{
	napi_value argv[2], result;
	const unsigned char *src;
	unsigned char *dst;
	size_t src_len, dst_len;
	lzo_uint out_len;
	int ok1, ok2, r;

	if (!get_args(env, info, argv, 2, 2))
		return NULL;
	src = typed_data(env, argv[0], &src_len, &ok1);
	dst = typed_data(env, argv[1], &dst_len, &ok2);
	if (!ok1 || !ok2) {
		napi_throw_error(env, NULL, "pagecodec: bad arguments to lzoDecompress");
		return NULL;
	}
	out_len = dst_len;
	r = lzo1x_decompress_safe(src, src_len, dst, &out_len, NULL);
	CHECK(napi_create_int64(env, r == LZO_E_OK ? (int64_t)out_len : -1, &result));
	return result;
}

static int export_function(napi_env env, napi_value exports, const char *name, napi_callback cb)
{
	napi_value fn;
	return napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn) == napi_ok
	    && napi_set_named_property(env, exports, name, fn) == napi_ok;
}

static int export_int(napi_env env, napi_value exports, const char *name, int32_t value)
{
	napi_value v;
	return napi_create_int32(env, value, &v) == napi_ok && napi_set_named_property(env, exports, name, v) == napi_ok;
}

static int export_string(napi_env env, napi_value exports, const char *name, const char *text)
{
	napi_value v;
	return napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &v) == napi_ok
	    && napi_set_named_property(env, exports, name, v) == napi_ok;
}

/*
 * glibc raises its mmap threshold each time a large block is freed, up to 32 MiB; from then
 * on the 4 MiB page batches come from the arenas, and what they leave behind is kept: over
 * a long dump RSS crept up (perf/RESULTS.md, "What made RSS flat"). A fixed threshold
 * (glibc's starting value) sends every large buffer back to the system when it is freed.
 */
static pthread_once_t malloc_once = PTHREAD_ONCE_INIT;
static void fix_mmap_threshold(void)
{
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
}

NAPI_MODULE_INIT()
{
	instance_t *in = calloc(1, sizeof(*in));
	pthread_once(&malloc_once, fix_mmap_threshold);
	if (!in || lzo_init() != LZO_E_OK) {
		napi_throw_error(env, NULL, "pagecodec: init failed");
		return NULL;
	}
	in->wrkmem = malloc(LZO1X_1_MEM_COMPRESS);
	if (!in->wrkmem) {
		napi_throw_error(env, NULL, "pagecodec: out of memory");
		return NULL;
	}
	if (napi_set_instance_data(env, in, free_instance, NULL) != napi_ok)
		return NULL;
	if (!export_function(env, exports, "compressPages", compress_pages)
	    || !export_function(env, exports, "mapInput", map_input)
	    || !export_function(env, exports, "compressMapped", compress_mapped)
	    || !export_function(env, exports, "compressFile", compress_file)
	    || !export_function(env, exports, "compressFileAsync", compress_file_async)
	    || !export_function(env, exports, "rawRuns", raw_runs)
	    || !export_function(env, exports, "copyRuns", copy_runs)
	    || !export_function(env, exports, "mapOffsets", map_offsets)
	    || !export_function(env, exports, "encodeDescriptors", encode_descriptors)
	    || !export_function(env, exports, "cutBatch", cut_batch)
	    || !export_function(env, exports, "lzoDecompress", lzo_decompress)
	    || !export_function(env, exports, "lockExclusive", lock_exclusive)
	    || !export_function(env, exports, "startWriteback", start_writeback)
	    || !export_function(env, exports, "startWritebackAsync", start_writeback_async)
	    || !export_function(env, exports, "waitWriteback", wait_writeback)
	    || !export_function(env, exports, "readAhead", read_ahead)
	    || !export_function(env, exports, "readAheadWait", read_ahead_wait)
	    || !export_function(env, exports, "classifyChunk", classify_chunk)
	    || !export_function(env, exports, "applyChunk", apply_chunk)
	    || !export_function(env, exports, "popcountBytes", popcount_bytes)
	    || !export_int(env, exports, "methods", methods_built())
	    || !export_string(env, exports, "scanDeclarations", SCAN_DECLARATIONS)
	    || !export_string(env, exports, "pageLoopDeclarations", PAGE_LOOP_DECLARATIONS))
		return NULL;
	return exports;
}

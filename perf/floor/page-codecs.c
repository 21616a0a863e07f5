/*
 * Per-page compressors for -c and -l, alone, over every non-zero 4 KiB page of a file:
 * CPU time (this thread's, so that other processes on a busy machine count less) and
 * bytes out, in alternating rounds. Built and run by perf/floor/page-codecs.sh.
 *   page-codecs FILE ROUNDS    (-DWITH_PAGE_DEFLATE with the old page-deflate.c: see page-codecs.sh)
 */
#include <libdeflate.h>
#include <lzo/lzo1x.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>
#ifdef WITH_PAGE_DEFLATE
#include "page-deflate.h"
#endif

#define PAGE 4096

static double cpu_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static unsigned char out[2 * PAGE];

typedef size_t (*compress_fn)(const unsigned char *p);

static struct libdeflate_compressor *ld;
static z_stream zs;
static void *lzo_wrk;
#ifdef WITH_PAGE_DEFLATE
static page_deflater *pd;
static size_t with_page_deflate(const unsigned char *p) { size_t n = page_deflate(pd, p, PAGE, out, PAGE - 1); return n ? n : PAGE; }
#endif

static size_t with_libdeflate(const unsigned char *p)
{
	size_t n = libdeflate_zlib_compress(ld, p, PAGE, out, PAGE - 1);
	return n ? n : PAGE;
}

static size_t with_zlib(const unsigned char *p)
{
	deflateReset(&zs);
	zs.next_in = (unsigned char *)p;
	zs.avail_in = PAGE;
	zs.next_out = out;
	zs.avail_out = PAGE - 1;
	return deflate(&zs, Z_FINISH) == Z_STREAM_END ? PAGE - 1 - zs.avail_out : PAGE;
}

static size_t with_lzo(const unsigned char *p)
{
	lzo_uint n = 0;
	lzo1x_1_compress(p, PAGE, out, &n, lzo_wrk);
	return n < PAGE ? n : PAGE;
}

int main(int argc, char **argv)
{
	struct { const char *name; compress_fn fn; double cpu; double bytes; } m[] = {
#ifdef WITH_PAGE_DEFLATE
		{ "page-deflate.c", with_page_deflate, 0, 0 },
#endif
		{ "libdeflate level 1", with_libdeflate, 0, 0 },
		{ "zlib level 1", with_zlib, 0, 0 },
		{ "lzo1x_1 (liblzo2)", with_lzo, 0, 0 },
	};
	const int nm = sizeof(m) / sizeof(m[0]);
	FILE *f;
	unsigned char *buf;
	size_t len = 0, cap = 1 << 30, pages = 0, i;
	int rounds, r, k;
	if (argc < 3)
		return 2;
	rounds = atoi(argv[2]);
	f = fopen(argv[1], "rb");
	buf = malloc(cap);
	if (!f || !buf)
		return 1;
	len = fread(buf, 1, cap, f);
	fclose(f);
	/* the non-zero pages only: zero pages never reach a compressor */
	for (i = 0; i + PAGE <= len; i += PAGE) {
		size_t j;
		for (j = 0; j < PAGE && !buf[i + j]; j++)
			;
		if (j < PAGE)
			memmove(buf + PAGE * pages++, buf + i, PAGE);
	}
	ld = libdeflate_alloc_compressor(1);
	deflateInit(&zs, 1);
	lzo_init();
	lzo_wrk = malloc(LZO1X_1_MEM_COMPRESS);
#ifdef WITH_PAGE_DEFLATE
	pd = page_deflater_new();
#endif
	for (r = 0; r < rounds; r++) {
		for (k = 0; k < nm; k++) {
			double t0 = cpu_now(), bytes = 0;
			for (i = 0; i < pages; i++)
				bytes += m[k].fn(buf + PAGE * i);
			m[k].cpu += cpu_now() - t0;
			m[k].bytes = bytes;
		}
	}
	printf("%zu non-zero pages of %s, %d alternating rounds, CPU time per round:\n", pages, argv[1], rounds);
	for (k = 0; k < nm; k++)
		printf("  %-20s %8.3f s  %6.1f MB/s  %12.0f bytes out (%.1f%%)\n", m[k].name, m[k].cpu / rounds,
		       pages * (double)PAGE / (m[k].cpu / rounds) / 1e6, m[k].bytes, 100 * m[k].bytes / (pages * (double)PAGE));
	return 0;
}

/*
 * memhog: guest-side workload generator for crash-dump fixtures and the e2e guests
 * (after shared/fixtures/make-real-vmcore.sh; test/fixtures-tools/make-real-vmcore-arm64.sh
 * builds its arm64 guests from this file too).
 *   -a MB:PAT        anonymous private mapping (THP as the system default)
 *   -T MB:PAT        anonymous mapping with MADV_HUGEPAGE (THP)
 *   -f MB:PAT        fragmenting anonymous mapping: MADV_NOHUGEPAGE, filled,
 *                    then every other 64 KiB chunk released (MADV_DONTNEED)
 *   -H MB:PAT        MAP_HUGETLB mapping (needs vm.nr_hugepages)
 *   -w PATH:MB:PAT   write a file of MB with PAT and fsync it (page cache)
 *   -F PATH          read PATH fully, then drop every other 64 KiB of its
 *                    page cache with posix_fadvise(DONTNEED)
 *   -s SEED          PRNG seed;  -r FILE  create FILE when filled
 *   -x               exit after filling instead of sleeping forever
 *   -S DEV:MB FILE.. ground truth: copy each FILE (e.g. /proc/kpageflags)
 *                    to the block device DEV with O_DIRECT writes from one
 *                    64 KiB buffer (no page cache), starting at MB MiB + 1 MiB,
 *                    each file at a 1 MiB boundary; then write a 4 KiB text
 *                    header at MB MiB: "vmcore-truth 1", one line
 *                    "NAME OFFSET BYTES" per file (OFFSET relative to the
 *                    header), "end". Must be the last option; exits after.
 * Patterns: text (log-like ASCII lines), mixed (1 KiB random + 3 KiB
 * repeated word per page), random, zero (pages written with zero bytes),
 * sparse (zero page except a 16-byte header), dup (same non-zero 4 KiB
 * block in every page).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PG 4096UL
#ifndef MAP_HUGETLB
#define MAP_HUGETLB 0x40000
#endif

static uint64_t rng = 1;
static uint64_t xr(void)
{
	rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static const char *words[] = {
	"kernel", "page", "cache", "memory", "process", "thread", "dump",
	"filter", "zone", "buddy", "slab", "inode", "dentry", "socket", "write",
	"read", "mapping", "anon", "huge", "table", "request", "response",
	"error", "warning", "info", "debug", "user", "system", "device", "block",
};

static void fill_page(unsigned char *p, unsigned long idx, const char *pat)
{
	if (!strcmp(pat, "zero")) {
		memset(p, 0, PG);
	} else if (!strcmp(pat, "random")) {
		uint64_t *q = (uint64_t *)p;
		for (unsigned i = 0; i < PG / 8; i++) q[i] = xr();
	} else if (!strcmp(pat, "mixed")) {
		uint64_t *q = (uint64_t *)p;
		uint64_t w = 0x5a5a000000000000ULL | (idx * 0x9e3779b1ULL);
		for (unsigned i = 0; i < 128; i++) q[i] = xr();
		for (unsigned i = 128; i < PG / 8; i++) q[i] = w;
	} else if (!strcmp(pat, "sparse")) {
		memset(p, 0, PG);
		((uint64_t *)p)[0] = 0xfeedf00d00000000ULL | idx;
		((uint64_t *)p)[1] = xr();
	} else if (!strcmp(pat, "dup")) {
		for (unsigned i = 0; i < PG; i++) p[i] = (unsigned char)(i * 7 + 3);
	} else { /* text */
		unsigned off = 0, ln = 0;
		char line[160];
		while (off < PG) {
			uint64_t r = xr();
			int n = snprintf(line, sizeof line,
				"%08lx.%02u %s %s %s status=%u\n", idx, ln++,
				words[r % 30], words[(r >> 8) % 30], words[(r >> 16) % 30],
				(unsigned)((r >> 24) % 8));
			if (off + n > PG) n = PG - off;
			memcpy(p + off, line, n);
			off += n;
		}
	}
}

static unsigned long mb_of(const char *s, const char **pat)
{
	char *e;
	unsigned long mb = strtoul(s, &e, 10);
	*pat = (*e == ':') ? e + 1 : "text";
	return mb;
}

static unsigned char *map_fill(unsigned long mb, const char *pat, int kind)
{
	size_t len = mb << 20;
	int flags = MAP_PRIVATE | MAP_ANONYMOUS;
	size_t maplen = len;
	if (kind == 'H') flags |= MAP_HUGETLB;
	if (kind == 'T') maplen = len + (2UL << 20);
	unsigned char *p = mmap(NULL, maplen, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "memhog: mmap %lu MB (%c): %s\n", mb, kind, strerror(errno));
		return NULL;
	}
	if (kind == 'T') {
		p = (unsigned char *)(((uintptr_t)p + (2UL << 20) - 1) & ~((2UL << 20) - 1));
		madvise(p, len, MADV_HUGEPAGE);
	}
	if (kind == 'f') madvise(p, len, MADV_NOHUGEPAGE);
	for (size_t o = 0; o < len; o += PG) fill_page(p + o, o / PG, pat);
	if (kind == 'f')
		for (size_t o = 65536; o < len; o += 131072) madvise(p + o, 65536, MADV_DONTNEED);
	return p;
}

static int write_file(char *arg)
{
	char *c1 = strchr(arg, ':');
	if (!c1) return -1;
	*c1 = 0;
	const char *pat;
	unsigned long mb = mb_of(c1 + 1, &pat);
	int fd = open(arg, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	if (fd < 0) { perror(arg); return -1; }
	unsigned char *buf = malloc(1 << 20);
	for (unsigned long m = 0; m < mb; m++) {
		for (unsigned long o = 0; o < (1 << 20); o += PG) fill_page(buf + o, (m << 8) + o / PG, pat);
		if (write(fd, buf, 1 << 20) != (1 << 20)) { perror("write"); break; }
	}
	fsync(fd);
	close(fd);
	free(buf);
	return 0;
}

static int frag_file(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0) { perror(path); return -1; }
	static char buf[1 << 16];
	off_t size = 0;
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0) size += n;
	for (off_t o = 65536; o < size; o += 131072) posix_fadvise(fd, o, 65536, POSIX_FADV_DONTNEED);
	close(fd);
	return 0;
}

#define TBUF (64UL << 10)
static unsigned char tbuf[TBUF] __attribute__((aligned(4096)));
static char thdr[4096] __attribute__((aligned(4096)));

static int save_raw(const char *spec, char **files, int nfiles)
{
	char dev[256];
	const char *c = strrchr(spec, ':');
	if (!c || (size_t)(c - spec) >= sizeof dev) { fprintf(stderr, "memhog: -S DEV:MB\n"); return 2; }
	memcpy(dev, spec, c - spec); dev[c - spec] = 0;
	off_t base = (off_t)strtoul(c + 1, NULL, 10) << 20;
	int fd = open(dev, O_WRONLY | O_DIRECT);
	if (fd < 0) { perror(dev); return 1; }
	off_t devsize = lseek(fd, 0, SEEK_END);
	off_t pos = base + (1 << 20);
	int hl = snprintf(thdr, sizeof thdr, "vmcore-truth 1\n");
	int rc = 0;
	for (int i = 0; i < nfiles; i++) {
		int in = open(files[i], O_RDONLY);
		if (in < 0) { perror(files[i]); rc = 1; continue; }
		off_t start = pos;
		unsigned long long len = 0;
		for (;;) {
			size_t fill = 0;
			ssize_t n = 1;
			while (fill < TBUF && (n = read(in, tbuf + fill, TBUF - fill)) > 0) fill += n;
			if (n < 0) { perror(files[i]); rc = 1; break; }
			if (!fill) break;
			size_t w = (fill + 511) & ~511UL;
			memset(tbuf + fill, 0, w - fill);
			if (pos + (off_t)w > devsize) { fprintf(stderr, "memhog: %s: no room on %s\n", files[i], dev); rc = 1; break; }
			if (pwrite(fd, tbuf, w, pos) != (ssize_t)w) { perror("pwrite"); rc = 1; break; }
			pos += w; len += fill;
			if (fill < TBUF) break;
		}
		close(in);
		const char *name = strrchr(files[i], '/');
		hl += snprintf(thdr + hl, sizeof thdr - hl, "%s %llu %llu\n", name ? name + 1 : files[i],
			       (unsigned long long)(start - base), len);
		pos = (pos + (1 << 20) - 1) & ~(off_t)((1 << 20) - 1);
	}
	hl += snprintf(thdr + hl, sizeof thdr - hl, "end\n");
	if (pwrite(fd, thdr, sizeof thdr, base) != (ssize_t)sizeof thdr) { perror("pwrite header"); rc = 1; }
	fsync(fd);
	close(fd);
	return rc;
}

int main(int argc, char **argv)
{
	int opt, do_exit = 0;
	const char *ready = NULL;
	unsigned long total = 0;
	while ((opt = getopt(argc, argv, "a:T:f:H:w:F:s:r:xS:")) != -1) {
		const char *pat;
		unsigned long mb;
		switch (opt) {
		case 'a': case 'T': case 'f': case 'H':
			mb = mb_of(optarg, &pat);
			if (map_fill(mb, pat, opt)) total += (opt == 'f') ? mb / 2 : mb;
			break;
		case 'w': write_file(optarg); break;
		case 'F': frag_file(optarg); break;
		case 's': rng = strtoull(optarg, NULL, 0) | 1; break;
		case 'r': ready = optarg; break;
		case 'x': do_exit = 1; break;
		case 'S': return save_raw(optarg, argv + optind, argc - optind);
		default:
			fprintf(stderr, "usage: see source\n");
			return 2;
		}
	}
	if (total) printf("memhog[%d]: %lu MB resident\n", getpid(), total);
	fflush(stdout);
	if (ready) close(open(ready, O_CREAT | O_WRONLY, 0644));
	if (do_exit) return 0;
	for (;;) pause();
}

/*
 * How fast this machine can do pass 2 of a dump without a codec, in plain C: what
 * cyclodump's `-d 1` without a codec is measured against in perf/RESULTS.md.
 *
 * One thread maps the input 4 MiB at a time (as cyclodump and makedumpfile do), skips
 * all-zero pages and hands the others, in batches of 1024, to a second thread that writes
 * them to the output one after another. No headers, bitmaps or descriptors: this is the
 * floor under the page work alone. Input offsets are taken page by page from the start
 * of the file (an ELF vmcore's PT_LOAD data is page aligned; the headers are a page).
 *
 *   cc -O2 -pthread -o /tmp/write-floor perf/floor/write-floor.c
 *   /tmp/write-floor copy|direct|nowrite INPUT OUTPUT
 *
 * copy: kept pages are copied into the batch, which the writer writes (cyclodump's way);
 * direct: the writer writes straight from its own mapping of the input, no copy;
 * nowrite: copy, but nothing is written (the zero test and copy alone).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096
#define WINDOW ((off_t)4 << 20)
#define BATCH 1024
#define QUEUE 8

enum mode { COPY, DIRECT, NOWRITE };

struct batch {
	int n;
	off_t in_off[BATCH];
	char *buf;
	off_t out_pos;
};

static struct batch queue[QUEUE];
static unsigned head, tail;
static int finished;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static enum mode mode;
static int in_fd, out_fd;

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int all_zero(const unsigned char *p)
{
	const unsigned long *w = (const void *)p;
	for (size_t i = 0; i < PAGE / sizeof(*w); i++)
		if (w[i])
			return 0;
	return 1;
}

static void write_all(const struct iovec *iov, int n, off_t pos)
{
	if (pwritev(out_fd, iov, n, pos) < 0) {
		perror("pwritev");
		exit(1);
	}
}

/* writes the batch's pages from the writer's own 4 MiB window of the input, runs merged */
static void write_direct(struct batch *b, char **win, off_t *win_off)
{
	struct iovec iov[BATCH];
	int k = 0;
	off_t pos = b->out_pos;
	for (int i = 0; i < b->n; i++) {
		off_t o = b->in_off[i], start = o & ~(WINDOW - 1);
		char *p;
		if (start != *win_off) {
			if (k) {
				write_all(iov, k, pos);
				for (int j = 0; j < k; j++)
					pos += iov[j].iov_len;
				k = 0;
			}
			if (*win)
				munmap(*win, WINDOW);
			*win = mmap(NULL, WINDOW, PROT_READ, MAP_SHARED, in_fd, start);
			if (*win == MAP_FAILED) {
				perror("mmap");
				exit(1);
			}
			*win_off = start;
		}
		p = *win + (o - start);
		if (k && (char *)iov[k - 1].iov_base + iov[k - 1].iov_len == p) {
			iov[k - 1].iov_len += PAGE;
		} else {
			iov[k].iov_base = p;
			iov[k].iov_len = PAGE;
			k++;
		}
	}
	if (k)
		write_all(iov, k, pos);
}

static void *writer(void *arg)
{
	char *win = NULL;
	off_t win_off = -1;
	(void)arg;
	for (;;) {
		struct batch *b;
		pthread_mutex_lock(&lock);
		while (head == tail && !finished)
			pthread_cond_wait(&changed, &lock);
		if (head == tail) {
			pthread_mutex_unlock(&lock);
			break;
		}
		b = &queue[tail % QUEUE];
		pthread_mutex_unlock(&lock);
		if (mode == COPY) {
			struct iovec v = { b->buf, (size_t)b->n * PAGE };
			write_all(&v, 1, b->out_pos);
		} else if (mode == DIRECT) {
			write_direct(b, &win, &win_off);
		}
		pthread_mutex_lock(&lock);
		tail++;
		pthread_cond_signal(&changed);
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

static void hand_over(struct batch *b, int n)
{
	b->n = n;
	pthread_mutex_lock(&lock);
	head++;
	pthread_cond_signal(&changed);
	pthread_mutex_unlock(&lock);
}

int main(int argc, char **argv)
{
	struct stat st;
	pthread_t thread;
	char *bufs[QUEUE];
	off_t pos = 0, end;
	long kept = 0;
	int n = 0;
	double t0;

	if (argc != 4 || (strcmp(argv[1], "copy") && strcmp(argv[1], "direct") && strcmp(argv[1], "nowrite"))) {
		fprintf(stderr, "usage: %s copy|direct|nowrite INPUT OUTPUT\n", argv[0]);
		return 2;
	}
	mode = !strcmp(argv[1], "copy") ? COPY : !strcmp(argv[1], "direct") ? DIRECT : NOWRITE;
	in_fd = open(argv[2], O_RDONLY);
	out_fd = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (in_fd < 0 || out_fd < 0 || fstat(in_fd, &st) != 0) {
		perror("open");
		return 1;
	}
	end = st.st_size & ~(WINDOW - 1);
	for (int i = 0; i < QUEUE; i++)
		bufs[i] = malloc((size_t)BATCH * PAGE);
	t0 = now();
	pthread_create(&thread, NULL, writer, NULL);
	for (off_t w = 0; w < end; w += WINDOW) {
		unsigned char *m = mmap(NULL, WINDOW, PROT_READ, MAP_SHARED, in_fd, w);
		if (m == MAP_FAILED) {
			perror("mmap");
			return 1;
		}
		for (off_t o = 0; o < WINDOW; o += PAGE) {
			struct batch *b;
			if (all_zero(m + o))
				continue;
			pthread_mutex_lock(&lock);
			while (head - tail >= QUEUE)
				pthread_cond_wait(&changed, &lock);
			pthread_mutex_unlock(&lock);
			b = &queue[head % QUEUE];
			if (n == 0) {
				b->buf = bufs[head % QUEUE];
				b->out_pos = pos;
			}
			if (mode != DIRECT)
				memcpy(b->buf + (size_t)n * PAGE, m + o, PAGE);
			b->in_off[n++] = w + o;
			pos += PAGE;
			kept++;
			if (n == BATCH) {
				hand_over(b, n);
				n = 0;
			}
		}
		munmap(m, WINDOW);
	}
	if (n)
		hand_over(&queue[head % QUEUE], n);
	pthread_mutex_lock(&lock);
	finished = 1;
	pthread_cond_signal(&changed);
	pthread_mutex_unlock(&lock);
	pthread_join(thread, NULL);
	printf("%s: %ld pages kept, %.3f s\n", argv[1], kept, now() - t0);
	return 0;
}

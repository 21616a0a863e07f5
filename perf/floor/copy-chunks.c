/*
 * What the kernel's two copies of a dump without a codec cost on this machine, in plain C:
 * 189 MB of the input (from 1 GiB on) read with pread into one buffer and written with
 * pwrite to a new file, CHUNK bytes at a time; with WRITEBACK 1 the output's writeback is
 * started after each chunk (sync_file_range, as cyclodump's sink does every 4 MiB). Prints
 * the time in each call and in the final fdatasync. perf/RESULTS.md, "Session of
 * 2026-12-07", quotes it.
 *
 *   cc -O2 -o /tmp/copy-chunks perf/floor/copy-chunks.c
 *   taskset -c 0 /tmp/copy-chunks VMCORE /tmp/out CHUNK WRITEBACK
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const size_t total = (size_t)189 << 20;
	const off_t base = (off_t)1 << 30;
	size_t chunk, done = 0;
	double t_read = 0, t_write = 0, t_range = 0, t_sync, t;
	int in, out, writeback;
	unsigned char *buf;

	if (argc != 5) {
		fprintf(stderr, "usage: %s INPUT OUTPUT CHUNK WRITEBACK(0|1)\n", argv[0]);
		return 2;
	}
	chunk = strtoul(argv[3], NULL, 0);
	writeback = atoi(argv[4]);
	in = open(argv[1], O_RDONLY);
	out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	buf = aligned_alloc(4096, chunk);
	if (in < 0 || out < 0 || !buf || chunk == 0 || chunk % 4096) {
		perror("copy-chunks");
		return 1;
	}
	memset(buf, 1, chunk);
	while (done < total) {
		t = now();
		if (pread(in, buf, chunk, base + (off_t)done) != (ssize_t)chunk) {
			perror("pread");
			return 1;
		}
		t_read += now() - t;
		t = now();
		if (pwrite(out, buf, chunk, (off_t)done) != (ssize_t)chunk) {
			perror("pwrite");
			return 1;
		}
		t_write += now() - t;
		done += chunk;
		if (writeback) {
			t = now();
			sync_file_range(out, 0, 0, SYNC_FILE_RANGE_WRITE);
			t_range += now() - t;
		}
	}
	t = now();
	fdatasync(out);
	t_sync = now() - t;
	printf("chunk %zu writeback %d: pread %.1f ms, pwrite %.1f ms, sync_file_range %.1f ms, fdatasync %.1f ms\n",
	       chunk, writeback, t_read * 1e3, t_write * 1e3, t_range * 1e3, t_sync * 1e3);
	close(out);
	unlink(argv[2]);
	return 0;
}

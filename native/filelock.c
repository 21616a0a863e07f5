/*
 * Calls on the output file that Node has no binding for: an exclusive, non-blocking
 * flock(2) (two runs writing one dump file would interleave their pages: issue 20, row
 * 12), and sync_file_range(2) to start writeback while the dump is still being written,
 * on the calling thread or on a thread of its own.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/file.h>
#include "addon-threads.h"
#include "filelock.h"

/*
 * The one shape of both exports: fd from the first argument, op(fd) retried on EINTR,
 * 0 or the errno returned.
 */
static napi_value fd_call(napi_env env, napi_callback_info info, const char *name, int (*op)(int))
{
	size_t argc = 1;
	napi_value argv[1], result;
	int32_t fd;
	int r;

	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1
	    || napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
		char msg[64];
		snprintf(msg, sizeof msg, "pagecodec: bad arguments to %s", name);
		napi_throw_error(env, NULL, msg);
		return NULL;
	}
	do
		r = op(fd);
	while (r != 0 && errno == EINTR);
	if (napi_create_int32(env, r == 0 ? 0 : errno, &result) != napi_ok)
		return NULL;
	return result;
}

static int flock_exclusive(int fd)
{
	return flock(fd, LOCK_EX | LOCK_NB);
}

static int writeback_all(int fd)
{
	return sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
}

/* lockExclusive(fd): 0 when the lock is held, else the errno (EWOULDBLOCK: another holds it). */
napi_value lock_exclusive(napi_env env, napi_callback_info info)
{
	return fd_call(env, info, "lockExclusive", flock_exclusive);
}

/*
 * startWriteback(fd): starts writing the file's dirty pages to the device and returns at
 * once (SYNC_FILE_RANGE_WRITE), so that the fdatasync before the final header write finds
 * little left to wait for. Returns 0, or the errno (a pipe or a file system without it:
 * nothing to do).
 */
napi_value start_writeback(napi_env env, napi_callback_info info)
{
	return fd_call(env, info, "startWriteback", writeback_all);
}

/*
 * The writeback thread: sync_file_range(SYNC_FILE_RANGE_WRITE) submits the file's dirty
 * pages for I/O, which costs the caller the block layer's CPU time (about 10 ms of a 3 GiB
 * dump's run: perf/RESULTS.md, "Writeback off the main thread"). With a second CPU the
 * main thread hands it here and goes on. Requests for one descriptor coalesce: each
 * starts writeback of the whole file, so one still pending covers a later one.
 */
#define WB_MAX_FDS 64

/* writeback_all, again after a signal; advisory: an error (a pipe, a file system without it) leaves nothing to do */
static void writeback_now(int fd)
{
	while (writeback_all(fd) != 0 && errno == EINTR)
		;
}

static struct {
	pthread_mutex_t mu;
	pthread_cond_t work, idle;
	int pending[WB_MAX_FDS];
	int npending;
	int busy;
	int started;
} wb = { .mu = PTHREAD_MUTEX_INITIALIZER, .work = PTHREAD_COND_INITIALIZER, .idle = PTHREAD_COND_INITIALIZER };

static void *writeback_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&wb.mu);
	for (;;) {
		int fd;
		while (wb.npending == 0)
			pthread_cond_wait(&wb.work, &wb.mu);
		fd = wb.pending[--wb.npending];
		wb.busy = 1;
		pthread_mutex_unlock(&wb.mu);
		writeback_now(fd);
		pthread_mutex_lock(&wb.mu);
		wb.busy = 0;
		if (wb.npending == 0)
			pthread_cond_broadcast(&wb.idle);
	}
	return NULL;
}

/* fd queued for the writeback thread: 1, or 0 when it cannot be (the caller does it itself) */
static int writeback_post(int fd)
{
	int i;
	pthread_mutex_lock(&wb.mu);
	/* a few calls deep: 256 KiB of stack, not glibc's 8 MiB of address space */
	if (!wb.started)
		wb.started = start_quiet_thread(writeback_main, NULL, 256 << 10, NULL);
	if (!wb.started) {
		pthread_mutex_unlock(&wb.mu);
		return 0;
	}
	for (i = 0; i < wb.npending && wb.pending[i] != fd; i++)
		;
	if (i == wb.npending) {
		if (wb.npending == WB_MAX_FDS) {
			pthread_mutex_unlock(&wb.mu);
			return 0;
		}
		wb.pending[wb.npending++] = fd;
		pthread_cond_signal(&wb.work);
	}
	pthread_mutex_unlock(&wb.mu);
	return 1;
}

/*
 * startWritebackAsync(fd): startWriteback's call made on the writeback thread; returns at
 * once (0). Before fd is closed, waitWriteback() lets a request still queued for it run.
 */
napi_value start_writeback_async(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], result;
	int32_t fd;

	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1
	    || napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
		napi_throw_error(env, NULL, "pagecodec: bad arguments to startWritebackAsync");
		return NULL;
	}
	if (!writeback_post(fd))
		writeback_now(fd);
	if (napi_create_int32(env, 0, &result) != napi_ok)
		return NULL;
	return result;
}

/* waitWriteback(): returns once the writeback thread has nothing queued or running. */
napi_value wait_writeback(napi_env env, napi_callback_info info)
{
	napi_value result;
	(void)info;
	pthread_mutex_lock(&wb.mu);
	while (wb.npending > 0 || wb.busy)
		pthread_cond_wait(&wb.idle, &wb.mu);
	pthread_mutex_unlock(&wb.mu);
	if (napi_get_undefined(env, &result) != napi_ok)
		return NULL;
	return result;
}

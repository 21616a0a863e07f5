/*
 * Calls on the output file that Node has no binding for: an exclusive, non-blocking
 * flock(2) (two runs writing one dump file would interleave their pages: issue 20, row
 * 12), and sync_file_range(2) to start writeback while the dump is still being written.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
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

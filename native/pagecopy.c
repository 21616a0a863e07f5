/*
 * copyRuns(outFd, inFd, runs, nRuns, outPos) -> bytes written
 *   Writes the input file's ranges runs[2k] (offset), runs[2k + 1] (length), k < nRuns, one
 *   after the other into the output file from outPos on: the kept pages of a dump without
 *   a codec are runs of the vmcore, so they need not pass through a buffer of ours. The
 *   kernel moves them (copy_file_range) where the two file systems allow it; where they do
 *   not (EXDEV, EINVAL, EOPNOTSUPP, ENOSYS: another file system, /proc/vmcore), each range
 *   is written with pwrite from a mapping of the input. The same bytes either way.
 *   On failure it throws an Error with `code` (the errno name, as Node's fs does), `errno`
 *   and `done`, the bytes written before it (a full disk stops a write part way).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "napi-args.h"
#include "pagecopy.h"

/* a mapping of at most this much of the input at a time, for the pwrite fallback */
#define COPY_WINDOW ((uint64_t)4 << 20)

/* pwrite of [off, off + len) of in_fd at pos, through mappings of the input: bytes written, -1 with errno */
static int64_t write_mapped(int in_fd, uint64_t off, int out_fd, uint64_t pos, uint64_t len)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), done = 0;
	while (done < len) {
		uint64_t at = off + done, start = at & ~(page - 1), n = len - done;
		unsigned char *map;
		ssize_t w;
		if (n > COPY_WINDOW)
			n = COPY_WINDOW;
		map = mmap(NULL, (size_t)(at - start + n), PROT_READ, MAP_SHARED, in_fd, (off_t)start);
		if (map == MAP_FAILED)
			return done > 0 ? (int64_t)done : -1;
		w = pwrite(out_fd, map + (at - start), (size_t)n, (off_t)(pos + done));
		munmap(map, (size_t)(at - start + n));
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return done > 0 ? (int64_t)done : -1;
		}
		if (w == 0) {
			errno = EIO;
			return done > 0 ? (int64_t)done : -1;
		}
		done += (uint64_t)w;
	}
	return (int64_t)done;
}

/* one range; *in_kernel drops to 0 for good once copy_file_range cannot serve these files */
static int64_t copy_range(int in_fd, uint64_t off, int out_fd, uint64_t pos, uint64_t len, int *in_kernel)
{
	uint64_t done = 0;
	while (done < len && *in_kernel) {
		off64_t io = (off64_t)(off + done), oo = (off64_t)(pos + done);
		ssize_t n = copy_file_range(in_fd, &io, out_fd, &oo, (size_t)(len - done), 0);
		if (n > 0) {
			done += (uint64_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP || errno == ENOSYS) {
			/* n == 0: the input ends early for the kernel (a special file); the mapping says */
			*in_kernel = 0;
			break;
		}
		return done > 0 ? (int64_t)done : -1;
	}
	if (done < len) {
		int64_t w = write_mapped(in_fd, off + done, out_fd, pos + done, len - done);
		if (w < 0)
			return done > 0 ? (int64_t)done : -1;
		done += (uint64_t)w;
	}
	return (int64_t)done;
}

static napi_value throw_errno(napi_env env, int err, int64_t done)
{
	napi_value e, msg, code, num, d;
	const char *name = err == ENOSPC ? "ENOSPC" : err == EDQUOT ? "EDQUOT" : err == EFBIG ? "EFBIG" : err == EIO ? "EIO" : "EOTHER";
	if (napi_create_string_utf8(env, strerror(err), NAPI_AUTO_LENGTH, &msg) != napi_ok
	    || napi_create_error(env, NULL, msg, &e) != napi_ok
	    || napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code) != napi_ok
	    || napi_create_int32(env, -err, &num) != napi_ok
	    || napi_create_int64(env, done, &d) != napi_ok)
		return NULL;
	napi_set_named_property(env, e, "code", code);
	napi_set_named_property(env, e, "errno", num);
	napi_set_named_property(env, e, "done", d);
	napi_throw(env, e);
	return NULL;
}

napi_value copy_runs(napi_env env, napi_callback_info info)
{
	size_t argc = 5, runs_len;
	napi_value argv[5], result;
	int32_t out_fd, in_fd, n_runs, k;
	int64_t out_pos, total = 0;
	double *runs;
	int ok, in_kernel = 1;
	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 5
	    || napi_get_value_int32(env, argv[0], &out_fd) != napi_ok
	    || napi_get_value_int32(env, argv[1], &in_fd) != napi_ok
	    || napi_get_value_int32(env, argv[3], &n_runs) != napi_ok
	    || napi_get_value_int64(env, argv[4], &out_pos) != napi_ok) {
		napi_throw_error(env, NULL, "pagecopy: bad arguments");
		return NULL;
	}
	runs = typed_data(env, argv[2], &runs_len, &ok);
	if (!ok || n_runs < 0 || (size_t)n_runs * 16 > runs_len || out_pos < 0) {
		napi_throw_range_error(env, NULL, "pagecopy: runs too short");
		return NULL;
	}
	for (k = 0; k < n_runs; k++) {
		uint64_t len = (uint64_t)runs[2 * k + 1];
		int64_t w = copy_range(in_fd, (uint64_t)runs[2 * k], out_fd, (uint64_t)(out_pos + total), len, &in_kernel);
		if (w < 0 || (uint64_t)w < len) {
			int err = errno ? errno : EIO;
			return throw_errno(env, err, total + (w > 0 ? w : 0));
		}
		total += w;
	}
	if (napi_create_int64(env, total, &result) != napi_ok)
		return NULL;
	return result;
}

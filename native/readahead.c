/*
 * Reads on a thread of the addon's own, for the struct-page scan (src/filter/page-scan.ts):
 * while the main thread classifies one chunk of mem_map, this thread reads the next one
 * into the scanner's other buffer. One job at a time, posted and waited for by one caller.
 *
 *   readAhead(fd, buf, plan, count) -> 1 when posted, 0 when the thread cannot be had
 *     plan: Float64Array of count triples [offset in buf, offset in the file, length]
 *   readAheadWait() -> 1 when every read of the job got all its bytes, else 0
 *
 * buf must stay alive and untouched until readAheadWait returns (the scanner holds it).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "addon-threads.h"
#include "napi-args.h"
#include "readahead.h"

#define MAX_PLAN 64

static struct {
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	int started;
	int posted;  /* a job waits or runs */
	int running;
	int complete; /* the last job's result */
	int fd;
	unsigned char *buf;
	size_t buf_len;
	int count;
	double plan[3 * MAX_PLAN];
} ra = { .mu = PTHREAD_MUTEX_INITIALIZER, .work = PTHREAD_COND_INITIALIZER, .done = PTHREAD_COND_INITIALIZER };

static void *readahead_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&ra.mu);
	for (;;) {
		int k, ok = 1;
		while (!ra.posted || ra.running)
			pthread_cond_wait(&ra.work, &ra.mu);
		ra.running = 1;
		pthread_mutex_unlock(&ra.mu);
		for (k = 0; k < ra.count && ok; k++) {
			size_t at = (size_t)ra.plan[3 * k], len = (size_t)ra.plan[3 * k + 2];
			ok = pread_full(ra.fd, ra.buf + at, len, (off_t)ra.plan[3 * k + 1]) == len;
		}
		pthread_mutex_lock(&ra.mu);
		ra.complete = ok;
		ra.running = 0;
		ra.posted = 0;
		pthread_cond_broadcast(&ra.done);
	}
	return NULL;
}

/* waits for the job posted, if any; ra.mu held */
static void wait_job(void)
{
	while (ra.posted)
		pthread_cond_wait(&ra.done, &ra.mu);
}

napi_value read_ahead(napi_env env, napi_callback_info info)
{
	napi_value argv[4], result;
	int32_t fd, count, k;
	unsigned char *buf;
	double *plan;
	size_t buf_len, plan_len;
	int ok1, ok2, posted = 0;

	size_t argc = 4;

	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) {
		napi_throw_error(env, NULL, "pagecodec: 4 arguments expected by readAhead");
		return NULL;
	}
	buf = typed_data(env, argv[1], &buf_len, &ok1);
	plan = typed_data(env, argv[2], &plan_len, &ok2);
	if (napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_int32(env, argv[3], &count) != napi_ok || !ok1
	    || !ok2 || fd < 0 || count < 0 || count > MAX_PLAN || (size_t)count * 3 * sizeof(double) > plan_len) {
		napi_throw_range_error(env, NULL, "pagecodec: bad arguments to readAhead");
		return NULL;
	}
	for (k = 0; k < count; k++) {
		double at = plan[3 * k], off = plan[3 * k + 1], len = plan[3 * k + 2];
		if (at < 0 || off < 0 || len < 0 || at + len > (double)buf_len) {
			napi_throw_range_error(env, NULL, "pagecodec: readAhead's plan falls outside its buffer");
			return NULL;
		}
	}
	pthread_mutex_lock(&ra.mu);
	wait_job();
	/* a few calls deep: 256 KiB of stack, not glibc's 8 MiB of address space */
	if (!ra.started)
		ra.started = start_quiet_thread(readahead_main, NULL, 256 << 10, NULL);
	if (ra.started) {
		ra.fd = fd;
		ra.buf = buf;
		ra.buf_len = buf_len;
		ra.count = count;
		memcpy(ra.plan, plan, (size_t)count * 3 * sizeof(double));
		ra.posted = 1;
		pthread_cond_signal(&ra.work);
		posted = 1;
	}
	pthread_mutex_unlock(&ra.mu);
	if (napi_create_int32(env, posted, &result) != napi_ok)
		return NULL;
	return result;
}

napi_value read_ahead_wait(napi_env env, napi_callback_info info)
{
	napi_value result;
	int complete;
	(void)info;
	pthread_mutex_lock(&ra.mu);
	wait_job();
	complete = ra.complete;
	pthread_mutex_unlock(&ra.mu);
	if (napi_create_int32(env, complete, &result) != napi_ok)
		return NULL;
	return result;
}

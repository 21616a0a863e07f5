/*
 * cyclodump's page loop in C: for a batch of pages already read into one buffer, test each
 * for all zero bytes, compress it with LZO1X-1 or zlib (our page encoder, page-deflate.c),
 * or keep it raw, and pack the results into the output buffer, in one call per batch.
 * Calling a binding once per 4 KiB page costs about a quarter of LZO's own time; here that
 * cost is paid once.
 *
 * compressPages(method, src, offsets, first, count, pageSize, excludeZero,
 *               dst, dstPos, sizes, flags, flagValue) -> new dstPos
 *   method 0: raw, 1: LZO1X-1, 2: zlib (a zlib stream per page)
 *   offsets[first + i] is page i's offset in src, 0xffffffff if it could not be read
 *   sizes[first + i] := 0 all zero (shared descriptor), -1 unreadable, else stored bytes;
 *   flags[first + i] := flagValue when stored compressed, else 0.
 * dst must have room for count * pageSize bytes from dstPos.
 */
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "minilzo.h"
#include "page-deflate.h"

typedef struct {
	void *wrkmem;      /* LZO1X-1 work memory: one per thread (per Node environment) */
	page_deflater *deflater; /* made on first use */
	unsigned char *tmp;
	size_t tmp_len;
} instance_t;

static void free_instance(napi_env env, void *data, void *hint)
{
	instance_t *in = data;
	(void)env;
	(void)hint;
	free(in->wrkmem);
	page_deflater_free(in->deflater);
	free(in->tmp);
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

static void *typed_data(napi_env env, napi_value v, size_t *len, int *ok)
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
		case napi_int32_array: case napi_uint32_array: *len = n * 4; break;
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

static napi_value compress_pages(napi_env env, napi_callback_info info)
{
	size_t argc = 12;
	napi_value argv[12], result;
	instance_t *in;
	int32_t method, first, count, page_size, flag_value;
	int64_t dst_pos;
	bool exclude_zero;
	size_t src_len, off_len, dst_len, sizes_len, flags_len;
	int ok1, ok2, ok3, ok4, ok5;
	unsigned char *src, *dst, *flags;
	uint32_t *offsets;
	int32_t *sizes;
	int32_t i;

	CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (argc < 12) {
		napi_throw_error(env, NULL, "pagecodec: 12 arguments expected");
		return NULL;
	}
	CHECK(napi_get_instance_data(env, (void **)&in));
	CHECK(napi_get_value_int32(env, argv[0], &method));
	src = typed_data(env, argv[1], &src_len, &ok1);
	offsets = typed_data(env, argv[2], &off_len, &ok2);
	CHECK(napi_get_value_int32(env, argv[3], &first));
	CHECK(napi_get_value_int32(env, argv[4], &count));
	CHECK(napi_get_value_int32(env, argv[5], &page_size));
	CHECK(napi_get_value_bool(env, argv[6], &exclude_zero));
	dst = typed_data(env, argv[7], &dst_len, &ok3);
	CHECK(napi_get_value_int64(env, argv[8], &dst_pos));
	sizes = typed_data(env, argv[9], &sizes_len, &ok4);
	flags = typed_data(env, argv[10], &flags_len, &ok5);
	CHECK(napi_get_value_int32(env, argv[11], &flag_value));
	if (!ok1 || !ok2 || !ok3 || !ok4 || !ok5 || page_size <= 0 || first < 0 || count < 0
	    || (size_t)(first + count) * 4 > off_len || (size_t)(first + count) * 4 > sizes_len
	    || (size_t)(first + count) > flags_len || dst_pos < 0
	    || (size_t)dst_pos + (size_t)count * (size_t)page_size > dst_len) {
		napi_throw_range_error(env, NULL, "pagecodec: buffer too small for the batch");
		return NULL;
	}
	if (method < 0 || method > 2) {
		napi_throw_range_error(env, NULL, "pagecodec: unknown method");
		return NULL;
	}
	if (method == 2 && (page_size > PAGE_DEFLATE_MAX_INPUT || (!in->deflater && !(in->deflater = page_deflater_new())))) {
		napi_throw_error(env, NULL, page_size > PAGE_DEFLATE_MAX_INPUT ? "pagecodec: page too large for zlib" : "pagecodec: out of memory");
		return NULL;
	}
	if (method == 1) {
		size_t worst = (size_t)page_size + page_size / 16 + 64 + 3;
		if (in->tmp_len < worst) {
			free(in->tmp);
			in->tmp = malloc(worst);
			in->tmp_len = in->tmp ? worst : 0;
			if (!in->tmp) {
				napi_throw_error(env, NULL, "pagecodec: out of memory");
				return NULL;
			}
		}
	}
	for (i = first; i < first + count; i++) {
		const unsigned char *p;
		if (offsets[i] == 0xffffffffu) {
			sizes[i] = -1;
			flags[i] = 0;
			continue;
		}
		if ((size_t)offsets[i] + (size_t)page_size > src_len) {
			napi_throw_range_error(env, NULL, "pagecodec: page offset outside the source buffer");
			return NULL;
		}
		p = src + offsets[i];
		flags[i] = 0;
		if (exclude_zero && all_zero(p, (size_t)page_size)) {
			sizes[i] = 0;
			continue;
		}
		if (method == 1) {
			lzo_uint out_len = 0;
			int r = lzo1x_1_compress(p, (lzo_uint)page_size, in->tmp, &out_len, in->wrkmem);
			/* kept only when strictly smaller than the page, as makedumpfile does */
			if (r == LZO_E_OK && out_len < (lzo_uint)page_size) {
				memcpy(dst + dst_pos, in->tmp, out_len);
				dst_pos += (int64_t)out_len;
				sizes[i] = (int32_t)out_len;
				flags[i] = (unsigned char)flag_value;
				continue;
			}
		} else if (method == 2) {
			/* kept only when strictly smaller than the page: room for page_size - 1 */
			size_t out_len = page_deflate(in->deflater, p, (size_t)page_size, dst + dst_pos, (size_t)page_size - 1);
			if (out_len > 0) {
				dst_pos += (int64_t)out_len;
				sizes[i] = (int32_t)out_len;
				flags[i] = (unsigned char)flag_value;
				continue;
			}
		}
		memcpy(dst + dst_pos, p, (size_t)page_size);
		dst_pos += page_size;
		sizes[i] = page_size;
	}
	CHECK(napi_create_int64(env, dst_pos, &result));
	return result;
}

NAPI_MODULE_INIT()
{
	napi_value fn;
	instance_t *in = calloc(1, sizeof(*in));
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
	if (napi_create_function(env, "compressPages", NAPI_AUTO_LENGTH, compress_pages, NULL, &fn) != napi_ok)
		return NULL;
	if (napi_set_named_property(env, exports, "compressPages", fn) != napi_ok)
		return NULL;
	return exports;
}

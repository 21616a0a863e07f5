/* The struct-page scan in C (pagescan.c), exported by pagecodec.c's module init. */
#ifndef CYCLODUMP_PAGESCAN_H
#define CYCLODUMP_PAGESCAN_H
#include <node_api.h>

napi_value classify_chunk(napi_env env, napi_callback_info info);
napi_value apply_chunk(napi_env env, napi_callback_info info);
napi_value popcount_bytes(napi_env env, napi_callback_info info);

#endif

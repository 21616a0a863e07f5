/* Argument helpers shared by the addon's sources (defined in pagecodec.c). */
#ifndef CYCLODUMP_NAPI_ARGS_H
#define CYCLODUMP_NAPI_ARGS_H
#include <node_api.h>
#include <stddef.h>

/*
 * The bytes behind a typed array, Buffer or ArrayBuffer, and their length in bytes;
 * *ok is 0 (and NULL returned) for anything else.
 */
void *typed_data(napi_env env, napi_value v, size_t *len, int *ok);

#endif

/* Reads ahead on the addon's own thread (readahead.c), exported by pagecodec.c. */
#ifndef CYCLODUMP_READAHEAD_H
#define CYCLODUMP_READAHEAD_H
#include <node_api.h>

napi_value read_ahead(napi_env env, napi_callback_info info);
napi_value read_ahead_wait(napi_env env, napi_callback_info info);

#endif

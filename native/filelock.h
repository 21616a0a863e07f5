/* The output file's lock and early writeback (filelock.c), exported by pagecodec.c. */
#ifndef CYCLODUMP_FILELOCK_H
#define CYCLODUMP_FILELOCK_H
#include <node_api.h>

napi_value lock_exclusive(napi_env env, napi_callback_info info);
napi_value start_writeback(napi_env env, napi_callback_info info);
napi_value start_writeback_async(napi_env env, napi_callback_info info);
napi_value wait_writeback(napi_env env, napi_callback_info info);

#endif

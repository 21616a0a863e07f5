/* Page data moved from the input file to the output inside the kernel (pagecopy.c). */
#ifndef CYCLODUMP_PAGECOPY_H
#define CYCLODUMP_PAGECOPY_H
#include <node_api.h>

napi_value copy_runs(napi_env env, napi_callback_info info);

#endif

/* Threads and whole reads shared by the addon's sources (defined in pagecodec.c). */
#ifndef CYCLODUMP_ADDON_THREADS_H
#define CYCLODUMP_ADDON_THREADS_H
#include <pthread.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Starts fn(arg) on a detached thread that takes no signals (they stay with Node's own
 * threads), with stack_bytes of stack (0: glibc's default); its id in *thread when given.
 * Returns 1, or 0 when it could not be started.
 */
int start_quiet_thread(void *(*fn)(void *), void *arg, size_t stack_bytes, pthread_t *thread);

/* All of len bytes at off, or fewer where the file ends or a read fails: the bytes read. */
size_t pread_full(int fd, unsigned char *buf, size_t len, off_t off);

#endif

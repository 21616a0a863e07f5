/*
 * A DEFLATE encoder (RFC 1951) in a zlib wrapper (RFC 1950) for one memory page at a time.
 * See page-deflate.c for why it exists and how it chooses what to write.
 */
#ifndef CYCLODUMP_PAGE_DEFLATE_H
#define CYCLODUMP_PAGE_DEFLATE_H

#include <stddef.h>
#include <stdint.h>

/* the largest page it takes: every distance within a page must fit DEFLATE's 32 KiB window */
#define PAGE_DEFLATE_MAX_INPUT 32768

typedef struct page_deflater page_deflater;

page_deflater *page_deflater_new(void);
void page_deflater_free(page_deflater *d);

/*
 * Compresses src[0, len) into one zlib stream in dst, which has room for cap bytes.
 * Returns the stream's length, or 0 when it would not fit in cap bytes (the caller then
 * stores the page raw) or len is out of range.
 */
size_t page_deflate(page_deflater *d, const uint8_t *src, size_t len, uint8_t *dst, size_t cap);

#endif

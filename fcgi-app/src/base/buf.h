/*
 * A bounded output buffer over caller-owned memory. Appends past the end set
 * overflow and are dropped; the caller checks overflow once at the end.
 */
#ifndef SESSIONLAB_BUF_H
#define SESSIONLAB_BUF_H

#include <stdbool.h>
#include <stddef.h>

#include "log.h"

struct buf {
    char *data;
    size_t len;
    size_t cap;
    bool overflow;
};

void buf_init(struct buf *b, char *mem, size_t cap);
void buf_reset(struct buf *b);
void buf_add(struct buf *b, const char *s, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
/* Appends v in decimal: the hot paths' printf-free "%lld". */
void buf_put_ll(struct buf *b, long long v);
void buf_printf(struct buf *b, const char *fmt, ...) LOG_PRINTF(2, 3);

#endif

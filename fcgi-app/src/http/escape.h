/*
 * Output escaping. Both functions accept any bytes: invalid UTF-8 and NUL
 * become U+FFFD, so the output is always valid UTF-8 and safe in its context.
 */
#ifndef SESSIONLAB_ESCAPE_H
#define SESSIONLAB_ESCAPE_H

#include <stddef.h>

#include "buf.h"

/* For HTML text and double- or single-quoted attribute values: & < > " '. */
void escape_html(struct buf *b, const char *s, size_t n);

/* For the inside of a JSON string: " \ and control characters (\n, \u001f
 * style), plus U+2028/U+2029 escaped so the output is safe in JS too. */
void escape_json(struct buf *b, const char *s, size_t n);

#endif

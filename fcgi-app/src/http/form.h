/* Percent-decoding and application/x-www-form-urlencoded bodies. */
#ifndef SESSIONLAB_FORM_H
#define SESSIONLAB_FORM_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Decodes src[0..len) into dst (at most dstcap bytes; dst is NUL-terminated
 * when room allows but the result may contain NUL bytes). '+' becomes ' '
 * when plus_is_space. Returns the decoded length, -1 for a malformed escape
 * ("%", "%4", "%zz"), -2 when the result does not fit in dstcap - 1 bytes.
 */
long pct_decode(const char *src, size_t len, char *dst, size_t dstcap, bool plus_is_space);

enum form_result { FORM_FOUND = 1, FORM_ABSENT = 0, FORM_MALFORMED = -1, FORM_TOO_LONG = -2 };

/*
 * Looks up the first field called name in a urlencoded body (not
 * NUL-terminated; len bytes) and decodes its value into dst as pct_decode
 * does, length in *outlen. A malformed escape anywhere in that field's value
 * gives FORM_MALFORMED; a value over dstcap - 1 bytes gives FORM_TOO_LONG.
 */
enum form_result form_get(const char *body, size_t len, const char *name, char *dst, size_t dstcap,
                          size_t *outlen);

#endif

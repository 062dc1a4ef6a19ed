/*
 * Two small text helpers the parsers share: the error sentence every
 * validating parser writes, and the value of one hex digit.
 */
#ifndef SESSIONLAB_TEXT_H
#define SESSIONLAB_TEXT_H

#include <stddef.h>

/*
 * Writes one formatted sentence to err (when err is not NULL and errlen > 0;
 * an empty string if formatting fails) and returns -1, so a parser can say
 * `return text_fail(err, errlen, "...", ...);`.
 */
int text_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The value (0..15) of the hex digit c, either case; -1 for anything else. */
int text_hexval(int c);

#endif

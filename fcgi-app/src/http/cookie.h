/* Cookie header parsing (RFC 6265 section 5.4 shape: "a=b; c=d"). */
#ifndef SESSIONLAB_COOKIE_H
#define SESSIONLAB_COOKIE_H

#include <stddef.h>

/*
 * Iterates over the cookies named name in a Cookie header. *cursor starts at
 * the header and is advanced past each match. Returns 1 with *val and *len set to
 * the value (surrounding DQUOTEs and whitespace stripped; points into the
 * header), 0 when there are no more. Never reads past the NUL; tolerates any
 * garbage (empty pairs, missing '=', stray separators).
 */
int cookie_next(const char **cursor, const char *name, const char **val, size_t *len);

#endif

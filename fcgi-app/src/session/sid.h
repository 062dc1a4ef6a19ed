/* Session ids: SID_BYTES from the kernel CSPRNG, as SID_LEN lowercase hex. */
#ifndef SESSIONLAB_SID_H
#define SESSIONLAB_SID_H

#include <stdbool.h>
#include <stddef.h>

#include "bounds.h"

/* Writes a fresh NUL-terminated id to out. 0, or -1 if getrandom failed. */
int sid_generate(char out[SID_LEN + 1]);

/* A new id for a rotation of old: old's first SID_TAG_LEN digits (the
 * Redis key's hash tag), the rest fresh from getrandom (112 bits). 0 or -1. */
int sid_generate_sibling(const char old[SID_LEN + 1], char out[SID_LEN + 1]);

/* True when s[0..len) is exactly SID_LEN lowercase hex digits. */
bool sid_valid(const char *s, size_t len);

#endif

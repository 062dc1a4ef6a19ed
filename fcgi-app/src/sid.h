/* Session ids: SID_BYTES from the kernel CSPRNG, as SID_LEN lowercase hex. */
#ifndef SESSIONLAB_SID_H
#define SESSIONLAB_SID_H

#include <stdbool.h>
#include <stddef.h>

#include "bounds.h"

/* Writes a fresh NUL-terminated id to out. 0, or -1 if getrandom failed. */
int sid_generate(char out[SID_LEN + 1]);

/* True when s[0..len) is exactly SID_LEN lowercase hex digits. */
bool sid_valid(const char *s, size_t len);

#endif

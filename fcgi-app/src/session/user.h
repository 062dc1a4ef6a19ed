/* Demo user names (POST /login field user). */
#ifndef SESSIONLAB_USER_H
#define SESSIONLAB_USER_H

#include <stdbool.h>
#include <stddef.h>

#include "bounds.h"

/* True when s[0..len) is 1..USER_MAX bytes of [A-Za-z0-9._-]. */
bool user_name_valid(const char *s, size_t len);

#endif

/*
 * Host names resolved within a deadline. hiredis resolves the name it is
 * given with a plain getaddrinfo(), which can block for as long as the
 * system's resolver likes (seconds per attempt); the Redis store resolves
 * first, here, and hands hiredis the numeric address.
 */
#ifndef SESSIONLAB_RESOLVE_H
#define SESSIONLAB_RESOLVE_H

#include <stddef.h>

/* Longest numeric address written to out: an IPv6 address. */
#define RESOLVE_ADDR_MAX 46

/*
 * Writes the first address of host (IPv4 or IPv6, numeric) to out (size
 * outlen >= RESOLVE_ADDR_MAX). A numeric host is copied as it is. 0, or -1
 * with one line in err when the name does not resolve or the lookup takes
 * longer than timeout_ms (the lookup then finishes in the background and
 * frees itself).
 */
int resolve_host(const char *host, int timeout_ms, char *out, size_t outlen, char *err,
                 size_t errlen);

#endif

/* Host names and addresses as the Redis URL, the sentinels and the log name
 * them: one check, one way to write host:port. */
#ifndef SESSIONLAB_HOST_H
#define SESSIONLAB_HOST_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0..n) is an IPv6 address (v6: written in brackets, or it
 * holds a ':') or else 1..n of [A-Za-z0-9._-]. */
bool host_valid(const char *s, size_t n, bool v6);

/* Writes "host:port", or "[host]:port" when host is IPv6, to out (cap
 * bytes); host cut at max bytes. */
void host_port_format(char *out, size_t cap, const char *host, int max, int port);

#endif

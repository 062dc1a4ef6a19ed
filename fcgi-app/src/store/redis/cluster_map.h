/*
 * What Redis Cluster nodes tell a client about the slot map: the CLUSTER
 * SLOTS reply and the MOVED / ASK redirections (Redis Cluster
 * specification, "Redirection and resharding"). Parsing only, so it is
 * tested and fuzzed on hand-made replies; cluster.c acts on it.
 */
#ifndef SESSIONLAB_CLUSTER_MAP_H
#define SESSIONLAB_CLUSTER_MAP_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "redis_url.h"

/* Called once per slot range of a CLUSTER SLOTS reply with its primary;
 * returns 0 to go on, -1 to stop (the parse then fails). */
typedef int (*cluster_range_fn)(void *ctx, unsigned first, unsigned last, const char *host,
                                int port);

/*
 * Walks a CLUSTER SLOTS reply: an array of {first, last, {host, port,
 * id...}, replicas...}. Nothing is trusted: slots must be 0..16383 with
 * first <= last, the port 1..65535 and the host a valid host name or
 * address. An empty or nil host means "the node you asked" (Redis 7's
 * unknown-endpoint form): asked_host is used; a host "?" (an endpoint no
 * node knows) skips its range, so its slots stay unknown. The number of
 * ranges, or -1 with one line in err.
 */
int cluster_map_parse_slots(const redisReply *r, const char *asked_host, cluster_range_fn each,
                            void *ctx, char *err, size_t errlen);

enum cluster_redirect { CLUSTER_NO_REDIRECT, CLUSTER_MOVED, CLUSTER_ASK };

/*
 * Reads an error reply "MOVED <slot> <host>:<port>" or "ASK <slot>
 * <host>:<port>" (the port after the last ':', so an IPv6 host works; an
 * empty host is asked_host). Anything else, or a malformed redirection,
 * is CLUSTER_NO_REDIRECT (the caller treats it as the error it is).
 */
enum cluster_redirect cluster_map_parse_redirect(const redisReply *r, const char *asked_host,
                                                 unsigned *slot, char *host, size_t hostlen,
                                                 int *port);

#endif

/*
 * Redis Sentinel discovery: which address is the master called
 * url->master_name right now. Used by the Redis store on every (re)connect
 * when SESSIONLAB_REDIS_URL is a redis-sentinel:// URL.
 */
#ifndef SESSIONLAB_SENTINEL_H
#define SESSIONLAB_SENTINEL_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "redis_url.h"

/*
 * Asks the sentinels of u (u->sentinel_n >= 1) in turn, starting with
 * index *next, for the master's address (SENTINEL get-master-addr-by-name),
 * each with a connect and reply timeout of timeout_ms. The first valid
 * answer wins: host (size hostlen) and *port are set, *next becomes the
 * index of the sentinel that answered (so it is asked first next time), and
 * 0 is returned. When none answers: -1 with one line in err naming the last
 * failure. Nothing in a reply is trusted: the host is checked like a URL
 * host and the port must be 1-65535.
 */
int sentinel_master_addr(const struct redis_url *u, int timeout_ms, int *next, char *host,
                         size_t hostlen, int *port, char *err, size_t errlen);

/*
 * Checks a get-master-addr-by-name reply r (a 2-element array of strings
 * host, port) and copies it out. 0, or -1 with the reason in err. Exposed
 * for the unit tests.
 */
int sentinel_parse_addr(const redisReply *r, char *host, size_t hostlen, int *port, char *err,
                        size_t errlen);

/*
 * Checks a ROLE reply: 0 when its first element is "master", else -1 with
 * the role (or what was wrong) in err.
 */
int sentinel_check_role(const redisReply *r, char *err, size_t errlen);

#endif

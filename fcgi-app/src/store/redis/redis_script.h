/*
 * The session script the Redis store runs (one EVALSHA per operation) and
 * the parsers of its replies. Kept apart from the connection handling so
 * the parsers can be tested and fuzzed on their own.
 */
#ifndef SESSIONLAB_REDIS_SCRIPT_H
#define SESSIONLAB_REDIS_SCRIPT_H

#include <hiredis/hiredis.h>

#include "session.h"

extern const char redis_script_body[];

/* Fills *out from a view reply {count, has_value, value, vtime, served,
 * user, cart} of session id. An invalid user name reads as logged out and
 * a malformed cart as empty (the session still renders). 0, or -1 when
 * the reply has any other shape. */
int redis_script_view(const redisReply *r, const char *id, struct session *out);

/* Reads a logout reply {existed 0/1, ended >= 0}. 0, or -1 when the reply
 * has any other shape. */
int redis_script_logout(const redisReply *r, long long *existed, long long *ended);

#endif

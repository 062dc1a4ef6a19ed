/*
 * The session script the Redis store runs (one EVALSHA per operation) and
 * the parser of its "view" reply. Kept apart from the connection handling
 * so the parser can be tested and fuzzed on its own.
 */
#ifndef SESSIONLAB_REDIS_SCRIPT_H
#define SESSIONLAB_REDIS_SCRIPT_H

#include <hiredis/hiredis.h>

#include "session.h"

extern const char redis_script_body[];

/* Fills *out from a view reply {count, has_value, value, vtime, served} of
 * session id. 0, or -1 when the reply has any other shape. */
int redis_script_view(const redisReply *r, const char *id, struct session *out);

#endif

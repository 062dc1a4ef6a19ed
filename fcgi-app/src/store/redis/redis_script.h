/*
 * The session script the Redis store runs (one EVALSHA per operation) and
 * the parsers of its replies. Kept apart from the connection handling so
 * the parsers can be tested and fuzzed on their own.
 */
#ifndef SESSIONLAB_REDIS_SCRIPT_H
#define SESSIONLAB_REDIS_SCRIPT_H

#include <hiredis/hiredis.h>
#include <stdbool.h>

#include "session.h"

extern const char redis_script_body[];

/* Fills *out from a view reply {count, has_value, value, vtime, served,
 * user, cart, index_due} of session id; *index_due (when not NULL) says the
 * user's index should be kept alive (cluster mode). An invalid user name
 * reads as logged out and a malformed cart as empty (the session still
 * renders). 0, or -1 when the reply has any other shape. */
int redis_script_view(const redisReply *r, const char *id, struct session *out, bool *index_due);

/* Reads a login reply {code 0..2, previous user or ''} (prev: USER_MAX + 1
 * bytes). 0, or -1 when the reply has any other shape. */
int redis_script_login(const redisReply *r, int *code, char *prev);

/* Reads a logout reply {existed 0/1, ended >= existed, user or ''} (user:
 * USER_MAX + 1 bytes). 0, or -1 when the reply has any other shape. */
int redis_script_logout(const redisReply *r, long long *existed, long long *ended, char *user);

/* Reads a set or cart reply: an integer 0..max, or (cluster mode) {0..max,
 * user whose index is due or ''} (due_user: USER_MAX + 1 bytes, '' when
 * none). 0 with *rc set, or -1 when the reply has any other shape. */
int redis_script_done(const redisReply *r, long long max, int *rc, char *due_user);

/* Copies up to max session ids from every step-th element of an array of
 * strings (index_add's popped ids, a ZRANGE of an index: step 1);
 * members that are not valid ids are skipped. The count, or -1 when r is
 * not an array of strings. */
int redis_script_ids(const redisReply *r, int step, char (*ids)[SID_LEN + 1], int max);

#endif

/*
 * The per-user index in a Redis Cluster. The index (prefix user:NAME) is
 * in another slot than the sessions it lists, so the session script cannot
 * keep it (redis_script.c, mode 'c'): the store does, with commands of
 * their own, each one command on one node.
 *   login: the session script rotates and logs in first; then the new id
 *     joins the index (index_add). If that fails the new session is ended
 *     and the login fails: no logged-in session is ever left unlisted.
 *     Then the old id leaves its previous user's index, and when the index
 *     holds more than USER_SESSIONS_MAX the ids of ended sessions are
 *     dropped and the oldest live sessions beyond the cap are ended, each
 *     id taken out only once its session is ended.
 *   log out everywhere: reads the index's ids (ZRANGE), ends each session
 *     still logged in as that user and then takes its id out, until the
 *     index is empty. A failure half-way leaves the rest listed for the
 *     next try. A login whose index_add comes after the last pass survives
 *     it, as a login after it would (its session was not yet listed).
 *   views, sets and cart changes of a logged-in session keep the index
 *     alive (index_keep) when the script says it is due, at most once per
 *     half TTL per session.
 * Ids of sessions that ended another way stay in the index until a login
 * past the cap or a log-out-everywhere reads them: ending an absent session
 * does nothing.
 */
#ifndef SESSIONLAB_STORE_REDIS_INDEX_H
#define SESSIONLAB_STORE_REDIS_INDEX_H

#include "store_redis_call.h"

/* After the login script logged new_id in as user: lists it (and, on
 * failure, ends it). prev and old_id: the session's previous user and id
 * when it was rotated from a logged-in session ("" / NULL otherwise).
 * 0, or -1 with the error set. */
int rs_index_login(struct store *st, const char *user, const char *new_id, const char *prev,
                   const char *old_id);

/* Log out of one session: id leaves user's index (best effort). */
void rs_index_forget(struct store *st, const char *user, const char *id);

/* Log out everywhere: ends every session in user's index. The number
 * ended, or -1 with the error set. */
long long rs_index_end_all(struct store *st, const char *user);

/* Keeps user's index alive (best effort). */
void rs_index_keep(struct store *st, const char *user);

#endif

/*
 * The per-user index in a Redis Cluster. The index (prefix user:NAME) is
 * in another slot than the sessions it lists, so the session script cannot
 * keep it (redis_script.c, mode 'c'): the store does, with commands of
 * their own, each one command on one node.
 *   login: the new id joins the index first (index_add, which pops the
 *     oldest ids beyond USER_SESSIONS_MAX), then the session script
 *     rotates and logs in; then the old id leaves its previous user's
 *     index and the popped sessions end (end_member). A failure before the
 *     script changes nothing but a harmless extra id in the index.
 *   log out everywhere: reads the index's ids (ZRANGE), ends each session
 *     still logged in as that user and then takes its id out, until the
 *     index is empty, so a login racing it is caught by the next pass and
 *     a failure half-way leaves the rest listed for the next try.
 *   views: a logged-in view keeps the index alive (index_keep) when the
 *     script says it is due, at most once per half TTL per session.
 * Ids of sessions that ended another way stay in the index until the cap
 * pops them or a log-out-everywhere reads them: ending an absent session
 * does nothing.
 */
#ifndef SESSIONLAB_STORE_REDIS_INDEX_H
#define SESSIONLAB_STORE_REDIS_INDEX_H

#include "store_redis_call.h"

/* Before the login script: adds new_id to user's index; *popped (size
 * USER_SESSIONS_MAX) gets the ids it pushed out, *npopped their count.
 * 0, or -1 with the error set. */
int rs_index_add(struct store *st, const char *user, const char *new_id,
                 char (*popped)[SID_LEN + 1], int *npopped);

/* After a successful login script: the old id leaves prev's index (when
 * rotated from a logged-in session) and the popped sessions end. Best
 * effort: what fails leaves an id that a later pass finds absent. */
void rs_index_after_login(struct store *st, const char *user, const char *prev, const char *old_id,
                          char (*popped)[SID_LEN + 1], int npopped);

/* Log out of one session: id leaves user's index (best effort). */
void rs_index_forget(struct store *st, const char *user, const char *id);

/* Log out everywhere: ends every session in user's index. The number
 * ended, or -1 with the error set. */
long long rs_index_end_all(struct store *st, const char *user);

/* Keeps user's index alive (best effort). */
void rs_index_keep(struct store *st, const char *user);

#endif

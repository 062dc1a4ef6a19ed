/*
 * The store interface: a struct of operations, one implementation per backend.
 *
 * A backend's open() is called once per worker thread and returns a handle
 * owned by that thread; handles are never shared between threads (the memory
 * backend shares its table underneath and locks it itself). Every operation
 * returns -1 on a store failure and then store_error() says why; the route
 * answers 503 and the log line uses that text. Ids given to operations are
 * always valid (sid_valid) — malformed ids never reach a store.
 */
#ifndef SESSIONLAB_STORE_H
#define SESSIONLAB_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "config.h"
#include "session.h"

struct store;

struct store_ops {
    const char *name; /* "memory" or "redis", as in JSON "store" */

    /* Process-wide setup before any open() (may be NULL). 0 or -1, with
     * a message in err (size errlen). */
    int (*global_init)(const struct config *cfg, char *err, size_t errlen);
    void (*global_fini)(void);

    /* One handle per worker. Never NULL except when out of memory; a
     * backend that cannot reach its server still returns a handle and
     * reports the failure from the first operation (lazy connect). */
    struct store *(*open)(const struct config *cfg);
    void (*close)(struct store *st);

    /* A page view of an existing session: count += 1, instance prepended to
     * served_by (at most SERVED_MAX kept), idle TTL refreshed, and the
     * session (user and cart included) copied to *out. 1 found, 0 no such session, -1 failure. */
    int (*touch)(struct store *st, const char *id, const char *instance, struct session *out);

    /* Creates session id as the first view (count 1, served_by {instance})
     * and fills *out. 1 created, 0 id already exists, -1 failure. */
    int (*create)(struct store *st, const char *id, const char *instance, struct session *out);

    /* Stores value (len bytes, len <= VALUE_MAX) with time now. When the
     * session does not exist: creates it with count 0 if create is true,
     * else returns 0. 1 stored, 0 no such session, -1 failure. */
    int (*set_value)(struct store *st, const char *id, const char *value, size_t len, long long now,
                     bool create);

    /* Deletes the session (and its entry in its user's index). 1 deleted,
     * 0 no such session, -1 failure. */
    int (*destroy)(struct store *st, const char *id);

    /* Logs in user (user_name_valid) with id rotation, in one atomic step:
     * when old_id (may be NULL) names a live session, its data (count,
     * value, cart, born) moves to new_id and old_id stops existing at once;
     * else new_id is created fresh (count 0, empty cart). Either way new_id
     * is logged in as user and added to user's index (removed from the
     * previous user's, if another). At USER_SESSIONS_MAX sessions of user,
     * the oldest one is ended. new_id is a fresh id (sid_generate_sibling).
     * 1 rotated, 2 created, 0 new_id already exists (nothing changed; try
     * another), -1 failure. */
    int (*login)(struct store *st, const char *old_id, const char *new_id, const char *user);

    /* Log out: deletes session id; when all is true and it was logged in,
     * also every other session in its user's index. *ended (may be NULL)
     * gets the number of sessions deleted. 1 id existed, 0 no such
     * session, -1 failure. */
    int (*logout)(struct store *st, const char *id, bool all, long long *ended);

    /* Changes the quantity of catalogue item (0..CART_ITEMS-1) by delta
     * (+1 add, -1 remove; never below 0, a line at 0 leaves the cart) and
     * refreshes the idle TTL. When the session does not exist: creates it
     * (count 0) if create is true, else returns 0. 1 done, 0 no such
     * session, 2 refused: the change would pass CART_LINES_MAX lines or
     * CART_QTY_MAX of the item (nothing changed), -1 failure. */
    int (*cart)(struct store *st, const char *id, int item, int delta, bool create);

    /* Readiness: 0 when the backend answers, -1 otherwise. */
    int (*ping)(struct store *st);

    /* Live sessions, or -1 when the backend cannot tell cheaply. */
    long long (*live)(struct store *st);

    /* Appends the backend's own metrics to b (may be NULL). */
    void (*metrics)(struct store *st, struct buf *b);

    /* Why the last operation returned -1; never NULL. */
    const char *(*error)(struct store *st);
};

extern const struct store_ops store_memory_ops;
extern const struct store_ops store_redis_ops;

/* The ops for a SESSIONLAB_STORE value, or NULL when unknown. */
const struct store_ops *store_ops_find(const char *name);

#endif

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
     * session copied to *out. 1 found, 0 no such session, -1 failure. */
    int (*touch)(struct store *st, const char *id, const char *instance,
                 struct session *out);

    /* Creates session id as the first view (count 1, served_by {instance})
     * and fills *out. 1 created, 0 id already exists, -1 failure. */
    int (*create)(struct store *st, const char *id, const char *instance,
                  struct session *out);

    /* Stores value (len bytes, len <= VALUE_MAX) with time now. When the
     * session does not exist: creates it with count 0 if create is true,
     * else returns 0. 1 stored, 0 no such session, -1 failure. */
    int (*set_value)(struct store *st, const char *id, const char *value,
                     size_t len, long long now, bool create);

    /* Deletes the session. 1 deleted, 0 no such session, -1 failure. */
    int (*destroy)(struct store *st, const char *id);

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

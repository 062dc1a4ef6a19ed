/*
 * The Redis store's handle and how its commands reach Redis: over one of
 * the process's shared pipes to a single node (redis://, unix:, Sentinel),
 * or routed by key slot to a Redis Cluster's primaries (cluster.h). Used by
 * store_redis.c (the operations) and store_redis_index.c (cluster mode's
 * per-user index); nothing else includes it.
 */
#ifndef SESSIONLAB_STORE_REDIS_CALL_H
#define SESSIONLAB_STORE_REDIS_CALL_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "redis_conn.h"
#include "redis_pipe.h"
#include "store.h"

#define RS_KEY_MAX (REDIS_PREFIX_MAX + SID_TAG_LEN + 2 + SID_LEN + 1)
#define RS_USER_KEY_MAX (REDIS_PREFIX_MAX + 5 + USER_MAX + 1)

/* The script's limits as text: bounds.h keeps them plain integer literals
 * (the live tests in test_redis_script.c would notice an expression). */
#define RS_STR(x) #x
#define RS_XSTR(x) RS_STR(x)

/* EVALSHA sha numkeys, then the operation, TTL, max age and mode before an
 * operation's own arguments: the cart op, the longest, needs 13. */
#define RS_CALL_FIXED 7
_Static_assert(RPIPE_ARGS_MAX >= RS_CALL_FIXED + 1 + 5, "the cart op needs 13 arguments");

struct store {
    struct rpipe *pipe; /* single node: the pipe this handle sends on */
    unsigned pick;      /* cluster: the connection index on every node */
    bool cluster;
    char errstr[REDIS_ERR_MAX];
    char prefix[REDIS_PREFIX_MAX];
    char ttl[24];     /* cfg->ttl as text, for EXPIRE */
    char max_age[24]; /* cfg->max_age as text; "0": none */
};

/* Sets up (and tears down) the process's connections for cfg->redis. */
int rs_conns_init(const struct config *cfg, char *err, size_t errlen);
void rs_conns_fini(void);
/* Points a new handle at its pipe or connection index. false when the
 * connections are not set up. */
bool rs_conns_attach(struct store *st);
void rs_conns_metrics(struct buf *b);
/* 0 when the store answers PING (a cluster: see cluster_ping), else -1. */
int rs_conns_ping(struct store *st);

/* Sets the handle's error text; returns -1. */
int rs_fail(struct store *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The key of session id (size RS_KEY_MAX) / of user's index (size
 * RS_USER_KEY_MAX). 0, or -1 with the error set. */
int rs_key(struct store *st, const char *id, char *key);
int rs_user_key(struct store *st, const char *user, char *key);

/* A command's reply; error replies are failures. NULL with the error set. */
redisReply *rs_command(struct store *st, int argc, const char **argv, const size_t *lens);

/* Runs operation name of the session script on nkeys (1 or 2) keys with n
 * more arguments (lens NULL: each a C string). A non-error reply (caller
 * frees), or NULL with the error set. */
redisReply *rs_script(struct store *st, const char *name, const char *const *keys, int nkeys,
                      const char *const *args, const size_t *lens, int n);

/* The script on the one session id (its key built here). */
redisReply *rs_script_id(struct store *st, const char *name, const char *id,
                         const char *const *args, const size_t *lens, int n);

#endif

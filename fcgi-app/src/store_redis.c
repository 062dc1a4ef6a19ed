/*
 * The Redis store: one hash per session under cfg->redis_prefix + id with
 * the fields count, value, vtime (unix seconds) and served (instance names
 * joined by '\n', newest first, at most SERVED_MAX). Every page view (touch
 * or create) and every set_value is one EVALSHA of the session script
 * (redis_script.c) over the worker's connection (redis_conn.c), so a view
 * costs one round trip.
 */
#include "store.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_conn.h"
#include "redis_script.h"

#define RS_KEY_MAX (REDIS_PREFIX_MAX + SID_LEN + 1)

struct store {
    struct redis_conn conn;
    char prefix[REDIS_PREFIX_MAX];
    char ttl[24];                  /* cfg->ttl as text, for EXPIRE */
    char max_age[24];              /* cfg->max_age as text; "0": none */
};

/* Writes prefix + id to key (size RS_KEY_MAX). 0, or -1 with the error set. */
static int rs_key(struct store *st, const char *id, char *key)
{
    int n = snprintf(key, RS_KEY_MAX, "%s%s", st->prefix, id);
    if (n < 0 || n >= RS_KEY_MAX)
        return redis_conn_fail(&st->conn, "key too long");
    return 0;
}

/*
 * A page view: runs the script's touch or create (create sets is_new) for
 * id. Returns 1 with *out filled, 0 when the script answered absent (nil,
 * touch) or existing (0, create), -1 on failure.
 */
static int rs_view(struct store *st, bool create, const char *id,
                   const char *instance, struct session *out)
{
    char key[RS_KEY_MAX];
    char inst[INSTANCE_MAX + 1];
    char max[8];
    const char *op = create ? "create" : "touch";
    if (rs_key(st, id, key) != 0)
        return -1;
    snprintf(inst, sizeof inst, "%s", instance);
    for (char *p = inst; *p != '\0'; p++) /* '\n' separates served names */
        if (*p == '\n')
            *p = '?';
    snprintf(max, sizeof max, "%d", SERVED_MAX);
    const char *args[] = { op, st->ttl, st->max_age, inst, max };
    const size_t lens[] = { strlen(op), strlen(st->ttl), strlen(st->max_age), strlen(inst),
                            strlen(max) };
    redisReply *r = redis_conn_script(&st->conn, key, 5, args, lens);
    if (r == NULL)
        return -1;
    int rc = 0;
    if (r->type != REDIS_REPLY_NIL && r->type != REDIS_REPLY_INTEGER)
        rc = redis_script_view(r, id, out) == 0 ? 1 : redis_conn_fail(&st->conn, "malformed script reply");
    else if (r->type == REDIS_REPLY_INTEGER && r->integer != 0)
        rc = redis_conn_fail(&st->conn, "unexpected script reply %lld", r->integer);
    freeReplyObject(r);
    if (rc == 1)
        out->is_new = create;
    return rc;
}

/* 1 or 0 from an integer reply (any positive value counts as 1); -1 else. */
static int rs_reply_bool(struct store *st, redisReply *r)
{
    int rc = -1;
    if (r->type == REDIS_REPLY_INTEGER)
        rc = r->integer > 0 ? 1 : 0;
    else
        redis_conn_fail(&st->conn, "unexpected reply type %d", r->type);
    freeReplyObject(r);
    return rc;
}

static int rs_touch(struct store *st, const char *id, const char *instance,
                    struct session *out)
{
    return rs_view(st, false, id, instance, out);
}

static int rs_create(struct store *st, const char *id, const char *instance,
                     struct session *out)
{
    return rs_view(st, true, id, instance, out);
}

static int rs_set_value(struct store *st, const char *id, const char *value,
                        size_t len, long long now, bool create)
{
    char key[RS_KEY_MAX];
    char vtime[24];
    if (len > VALUE_MAX)
        return redis_conn_fail(&st->conn, "value longer than %d bytes", VALUE_MAX);
    if (rs_key(st, id, key) != 0)
        return -1;
    snprintf(vtime, sizeof vtime, "%lld", now);
    const char *args[] = { "set", st->ttl, st->max_age, value, vtime, create ? "1" : "0" };
    const size_t lens[] = { 3, strlen(st->ttl), strlen(st->max_age), len, strlen(vtime), 1 };
    redisReply *r = redis_conn_script(&st->conn, key, 6, args, lens);
    return r == NULL ? -1 : rs_reply_bool(st, r);
}

static int rs_destroy(struct store *st, const char *id)
{
    char key[RS_KEY_MAX];
    if (rs_key(st, id, key) != 0)
        return -1;
    const char *argv[] = { "DEL", key };
    const size_t lens[] = { 3, strlen(key) };
    redisReply *r = redis_conn_command(&st->conn, 2, argv, lens);
    return r == NULL ? -1 : rs_reply_bool(st, r);
}

/* 0 when PING answers PONG, else -1 (an error reply counts as down). */
static int rs_ping(struct store *st)
{
    const char *argv[] = { "PING" };
    const size_t lens[] = { 4 };
    redisReply *r = redis_conn_command(&st->conn, 1, argv, lens);
    if (r == NULL)
        return -1;
    int rc = 0;
    if (r->type != REDIS_REPLY_STATUS || strcmp(r->str, "PONG") != 0)
        rc = redis_conn_fail(&st->conn, "PING: unexpected reply");
    freeReplyObject(r);
    return rc;
}

/* Counting keys under the prefix would need SCAN: not cheap, so unknown. */
static long long rs_live(struct store *st)
{
    (void)st;
    return -1;
}

static const char *rs_error(struct store *st)
{
    return st != NULL ? st->conn.errstr : "redis: no handle";
}

/*
 * Ignores SIGPIPE when it still has its default action: hiredis 0.14
 * writes with write(2), and a server that went away must not kill the
 * process. A handler installed by someone else is left alone.
 */
static int rs_global_init(const struct config *cfg, char *err, size_t errlen)
{
    struct sigaction sa;
    (void)cfg;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
        sa.sa_handler = SIG_IGN;
        if (sigaction(SIGPIPE, &sa, NULL) != 0) {
            snprintf(err, errlen, "cannot ignore SIGPIPE: %s", strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* A handle that is not connected yet; NULL only when out of memory. */
static struct store *rs_open(const struct config *cfg)
{
    struct store *st = calloc(1, sizeof *st);
    if (st == NULL)
        return NULL;
    redis_conn_init(&st->conn, &cfg->redis, cfg->redis_timeout_ms);
    snprintf(st->prefix, sizeof st->prefix, "%s", cfg->redis_prefix);
    snprintf(st->ttl, sizeof st->ttl, "%ld", cfg->ttl);
    snprintf(st->max_age, sizeof st->max_age, "%ld", cfg->max_age);
    return st;
}

static void rs_close(struct store *st)
{
    if (st == NULL)
        return;
    redis_conn_close(&st->conn);
    free(st);
}

const struct store_ops store_redis_ops = {
    .name = "redis",
    .global_init = rs_global_init,
    .global_fini = NULL,
    .open = rs_open,
    .close = rs_close,
    .touch = rs_touch,
    .create = rs_create,
    .set_value = rs_set_value,
    .destroy = rs_destroy,
    .ping = rs_ping,
    .live = rs_live,
    .error = rs_error,
};

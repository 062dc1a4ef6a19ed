/*
 * The Redis store: one hash per session under cfg->redis_prefix + id with
 * the fields count, value, vtime (unix seconds) and served (instance names
 * joined by '\n', newest first, at most SERVED_MAX). Every page view (touch
 * or create) and every set_value is one EVALSHA of the session script
 * (redis_script.c), so a view is one command. The process keeps
 * cfg->redis_connections connections (redis_conn.c), each a pipe shared by
 * the workers (redis_pipe.c): a worker's handle sends on one of them, in a
 * batch with whatever the other workers sent at the same moment.
 */
#include "store.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_conn.h"
#include "redis_pipe.h"
#include "redis_script.h"

#define RS_KEY_MAX (REDIS_PREFIX_MAX + SID_LEN + 1)

/* The process's connections, one pipe each (set up by rs_global_init). */
static struct {
    int n;
    struct redis_conn *conns;
    struct rpipe *pipes;
    unsigned next;              /* the pipe the next handle uses (atomic) */
} shared;

struct store {
    struct rpipe *pipe;
    char errstr[REDIS_ERR_MAX];
    char prefix[REDIS_PREFIX_MAX];
    char ttl[24];                  /* cfg->ttl as text, for EXPIRE */
    char max_age[24];              /* cfg->max_age as text; "0": none */
};

/* Sets the handle's error text; returns -1. */
static int rs_fail(struct store *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int rs_fail(struct store *st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (vsnprintf(st->errstr, sizeof st->errstr, fmt, ap) < 0)
        st->errstr[0] = '\0';
    va_end(ap);
    return -1;
}

/* Writes prefix + id to key (size RS_KEY_MAX). 0, or -1 with the error set. */
static int rs_key(struct store *st, const char *id, char *key)
{
    int n = snprintf(key, RS_KEY_MAX, "%s%s", st->prefix, id);
    if (n < 0 || n >= RS_KEY_MAX)
        return rs_fail(st, "redis: key too long");
    return 0;
}

/* Sends op on the handle's pipe: its reply (an error reply too), or NULL
 * with the error set. */
static redisReply *rs_call(struct store *st, struct rpipe_op *op)
{
    if (rpipe_call(st->pipe, op) == 0)
        return op->reply;
    rs_fail(st, "%s", op->err);
    return NULL;
}

/* A command's reply; error replies are failures. NULL with the error set. */
static redisReply *rs_command(struct store *st, int argc, const char **argv, const size_t *lens)
{
    struct rpipe_op op = {.argc = argc};
    memcpy(op.argv, argv, sizeof *argv * (size_t)argc);
    memcpy(op.lens, lens, sizeof *lens * (size_t)argc);
    redisReply *r = rs_call(st, &op);
    if (r && r->type == REDIS_REPLY_ERROR) {
        rs_fail(st, "redis: %s: %s", argv[0], r->str);
        freeReplyObject(r);
        r = NULL;
    }
    return r;
}

/*
 * Runs the session script on key with n (<= 8) arguments: EVALSHA, and
 * EVAL once when the server lost the script (NOSCRIPT: SCRIPT FLUSH, a
 * restart). A non-error reply (caller frees) or NULL with the error set.
 */
static redisReply *rs_script(struct store *st, const char *key, int n, const char **args,
                             const size_t *lens)
{
    struct rpipe_op op = {.argc = 4 + n, .script = true,
                          .argv = {"EVALSHA", NULL, "1", key},
                          .lens = {7, REDIS_SHA_LEN, 1, strlen(key)}};
    memcpy(op.argv + 4, args, sizeof *args * (size_t)n);
    memcpy(op.lens + 4, lens, sizeof *lens * (size_t)n);
    redisReply *r = rs_call(st, &op);
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(r);
        op.script = false;
        op.argv[0] = "EVAL";
        op.lens[0] = 4;
        op.argv[1] = redis_script_body;
        op.lens[1] = strlen(redis_script_body);
        r = rs_call(st, &op);
    }
    if (r && r->type == REDIS_REPLY_ERROR) {
        rs_fail(st, "redis: %s: %s", op.argv[0], r->str);
        freeReplyObject(r);
        r = NULL;
    }
    return r;
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
    redisReply *r = rs_script(st, key, 5, args, lens);
    if (r == NULL)
        return -1;
    int rc = 0;
    if (r->type != REDIS_REPLY_NIL && r->type != REDIS_REPLY_INTEGER)
        rc = redis_script_view(r, id, out) == 0 ? 1 : rs_fail(st, "redis: malformed script reply");
    else if (r->type == REDIS_REPLY_INTEGER && r->integer != 0)
        rc = rs_fail(st, "redis: unexpected script reply %lld", r->integer);
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
        rs_fail(st, "redis: unexpected reply type %d", r->type);
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
        return rs_fail(st, "redis: value longer than %d bytes", VALUE_MAX);
    if (rs_key(st, id, key) != 0)
        return -1;
    snprintf(vtime, sizeof vtime, "%lld", now);
    const char *args[] = { "set", st->ttl, st->max_age, value, vtime, create ? "1" : "0" };
    const size_t lens[] = { 3, strlen(st->ttl), strlen(st->max_age), len, strlen(vtime), 1 };
    redisReply *r = rs_script(st, key, 6, args, lens);
    return r == NULL ? -1 : rs_reply_bool(st, r);
}

static int rs_destroy(struct store *st, const char *id)
{
    char key[RS_KEY_MAX];
    if (rs_key(st, id, key) != 0)
        return -1;
    const char *argv[] = { "DEL", key };
    const size_t lens[] = { 3, strlen(key) };
    redisReply *r = rs_command(st, 2, argv, lens);
    return r == NULL ? -1 : rs_reply_bool(st, r);
}

/* 0 when PING answers PONG, else -1 (an error reply counts as down). */
static int rs_ping(struct store *st)
{
    const char *argv[] = { "PING" };
    const size_t lens[] = { 4 };
    redisReply *r = rs_command(st, 1, argv, lens);
    if (r == NULL)
        return -1;
    int rc = 0;
    if (r->type != REDIS_REPLY_STATUS || strcmp(r->str, "PONG") != 0)
        rc = rs_fail(st, "redis: PING: unexpected reply");
    freeReplyObject(r);
    return rc;
}

/* Counting keys under the prefix would need SCAN: not cheap, so unknown. */
static long long rs_live(struct store *st)
{
    (void)st;
    return -1;
}

static void rs_metrics(struct store *st, struct buf *b)
{
    (void)st;
    rpipe_render_metrics(b, shared.pipes, shared.n);
}

static const char *rs_error(struct store *st)
{
    return st != NULL ? st->errstr : "redis: no handle";
}

static void rs_global_fini(void)
{
    for (int i = 0; i < shared.n; i++)
        rpipe_fini(&shared.pipes[i]);
    free(shared.pipes);
    free(shared.conns);
    shared.n = 0;
    shared.pipes = NULL;
    shared.conns = NULL;
}

/*
 * Sets up the process's connections (not connected yet: each connects on
 * first use) and ignores SIGPIPE when it still has its default action:
 * hiredis 0.14 writes with write(2), and a server that went away must not
 * kill the process.
 */
static int rs_global_init(const struct config *cfg, char *err, size_t errlen)
{
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
        sa.sa_handler = SIG_IGN;
        if (sigaction(SIGPIPE, &sa, NULL) != 0) {
            snprintf(err, errlen, "cannot ignore SIGPIPE: %s", strerror(errno));
            return -1;
        }
    }
    int n = cfg->redis_connections > 0 ? cfg->redis_connections : 1;
    shared.conns = calloc((size_t)n, sizeof *shared.conns);
    shared.pipes = calloc((size_t)n, sizeof *shared.pipes);
    if (!shared.conns || !shared.pipes) {
        free(shared.conns);
        free(shared.pipes);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* A queued op waits for the batch in flight (at most about a timeout)
     * and then its own. */
    int wait_ms = 2 * cfg->redis_timeout_ms + 50;
    for (int i = 0; i < n; i++) {
        redis_conn_init(&shared.conns[i], &cfg->redis, cfg->redis_timeout_ms);
        rpipe_init(&shared.pipes[i], redis_conn_transport(&shared.conns[i]), wait_ms);
    }
    shared.n = n;
    return 0;
}

/* A worker's handle on one of the shared pipes; NULL only when out of memory. */
static struct store *rs_open(const struct config *cfg)
{
    struct store *st = calloc(1, sizeof *st);
    if (st == NULL || shared.n == 0) {
        free(st);
        return NULL;
    }
    st->pipe = &shared.pipes[__atomic_fetch_add(&shared.next, 1, __ATOMIC_RELAXED) % (unsigned)shared.n];
    snprintf(st->prefix, sizeof st->prefix, "%s", cfg->redis_prefix);
    snprintf(st->ttl, sizeof st->ttl, "%ld", cfg->ttl);
    snprintf(st->max_age, sizeof st->max_age, "%ld", cfg->max_age);
    return st;
}

static void rs_close(struct store *st)
{
    free(st);
}

const struct store_ops store_redis_ops = {
    .name = "redis",
    .global_init = rs_global_init,
    .global_fini = rs_global_fini,
    .open = rs_open,
    .close = rs_close,
    .touch = rs_touch,
    .create = rs_create,
    .set_value = rs_set_value,
    .destroy = rs_destroy,
    .ping = rs_ping,
    .live = rs_live,
    .metrics = rs_metrics,
    .error = rs_error,
};

/*
 * The Redis store: one hash per session under cfg->redis_prefix + "{" +
 * id[0..SID_TAG_LEN) + "}" + id (the hash tag keeps a session and its
 * rotated successor in one Cluster slot) with the fields count, value,
 * vtime (unix seconds), served (instance names joined by '\n', newest
 * first, at most SERVED_MAX), born, user and cart; and one ZSET per user,
 * prefix + "user:" + NAME, of its session ids. Every operation (view,
 * set_value, login, logout, destroy, cart) is one EVALSHA of the session
 * script (redis_script.c), so each is one command and atomic. The process
 * keeps cfg->redis_connections connections (redis_conn.c), each a pipe
 * shared by the workers (redis_pipe.c): a worker's handle sends on one of
 * them, in a batch with whatever the other workers sent at the same moment.
 */
#include "store.h"
#include "atomic.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cart.h"
#include "redis_conn.h"
#include "redis_pipe.h"
#include "redis_script.h"
#include "user.h"

#define RS_KEY_MAX (REDIS_PREFIX_MAX + SID_TAG_LEN + 2 + SID_LEN + 1)

/* The script's limits as text: bounds.h keeps them plain integer literals
 * (the live tests in test_redis_script.c would notice an expression). */
#define RS_STR(x) #x
#define RS_XSTR(x) RS_STR(x)

/* EVALSHA sha numkeys, then the operation, TTL and max age before an
 * operation's own arguments: the cart op, the longest, needs 12. */
#define RS_CALL_FIXED 6
_Static_assert(RPIPE_ARGS_MAX >= RS_CALL_FIXED + 1 + 5, "the cart op needs 12 arguments");

/* The process's connections, one pipe each (set up by rs_global_init). */
static struct {
    int n;
    struct redis_conn *conns;
    struct rpipe *pipes;
    unsigned next; /* the pipe the next handle uses (atomic) */
} shared;

struct store {
    struct rpipe *pipe;
    char errstr[REDIS_ERR_MAX];
    char prefix[REDIS_PREFIX_MAX];
    char ttl[24];     /* cfg->ttl as text, for EXPIRE */
    char max_age[24]; /* cfg->max_age as text; "0": none */
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

/* Writes the key of session id, prefix + "{" + id[0..SID_TAG_LEN) + "}" +
 * id, to key (size RS_KEY_MAX). 0, or -1 with the error set. */
static int rs_key(struct store *st, const char *id, char *key)
{
    int n = snprintf(key, RS_KEY_MAX, "%s{%.*s}%s", st->prefix, SID_TAG_LEN, id, id);
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

/* Appends one argument (len bytes) to op. */
static void rs_push(struct rpipe_op *op, const char *arg, size_t len)
{
    op->argv[op->argc] = arg;
    op->lens[op->argc++] = len;
}

/*
 * Runs operation name of the session script on nkeys (1 or 2) keys with n
 * more arguments (lens NULL: each is a C string): EVALSHA, and EVAL once
 * when the server lost the script (NOSCRIPT: SCRIPT FLUSH, a restart). The
 * one place a script call is put together. A non-error reply (caller
 * frees) or NULL with the error set.
 */
static redisReply *rs_script(struct store *st, const char *name, const char *const *keys, int nkeys,
                             const char *const *args, const size_t *lens, int n)
{
    struct rpipe_op op = {.script = true};
    if (RS_CALL_FIXED + nkeys + n > RPIPE_ARGS_MAX || nkeys < 1 || nkeys > 2) {
        rs_fail(st, "redis: %s: bad argument count", name);
        return NULL;
    }
    rs_push(&op, "EVALSHA", 7);
    rs_push(&op, NULL, REDIS_SHA_LEN); /* the pipe puts the SHA1 in */
    rs_push(&op, nkeys == 2 ? "2" : "1", 1);
    for (int i = 0; i < nkeys; i++)
        rs_push(&op, keys[i], strlen(keys[i]));
    rs_push(&op, name, strlen(name));
    rs_push(&op, st->ttl, strlen(st->ttl));
    rs_push(&op, st->max_age, strlen(st->max_age));
    for (int i = 0; i < n; i++)
        rs_push(&op, args[i], lens != NULL ? lens[i] : strlen(args[i]));
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
        rs_fail(st, "redis: %s %s: %s", op.argv[0], name, r->str);
        freeReplyObject(r);
        r = NULL;
    }
    return r;
}

/* The script on the one session id (its key built here). */
static redisReply *rs_script_id(struct store *st, const char *name, const char *id,
                                const char *const *args, const size_t *lens, int n)
{
    char key[RS_KEY_MAX];
    if (rs_key(st, id, key) != 0)
        return NULL;
    const char *keys[] = {key};
    return rs_script(st, name, keys, 1, args, lens, n);
}

/*
 * A page view: runs the script's touch or create for
 * id. Returns 1 with *out filled, 0 when the script answered absent (nil,
 * touch) or existing (0, create), -1 on failure.
 */
static int rs_view(struct store *st, bool create, const char *id, const char *instance,
                   struct session *out)
{
    char inst[INSTANCE_MAX + 1];
    snprintf(inst, sizeof inst, "%s", instance);
    for (char *p = inst; *p != '\0'; p++) /* '\n' separates served names */
        if (*p == '\n')
            *p = '?';
    const char *args[] = {inst, RS_XSTR(SERVED_MAX)};
    redisReply *r = rs_script_id(st, create ? "create" : "touch", id, args, NULL, 2);
    if (r == NULL)
        return -1;
    int rc = 0;
    if (r->type != REDIS_REPLY_NIL && r->type != REDIS_REPLY_INTEGER)
        rc = redis_script_view(r, id, out) == 0 ? 1 : rs_fail(st, "redis: malformed script reply");
    else if (r->type == REDIS_REPLY_INTEGER && r->integer != 0)
        rc = rs_fail(st, "redis: unexpected script reply %lld", r->integer);
    freeReplyObject(r);
    return rc;
}

/* An integer reply 0..max (frees r); -1 with the error set otherwise. */
static int rs_reply_range(struct store *st, redisReply *r, long long max)
{
    int rc = -1;
    if (r->type == REDIS_REPLY_INTEGER && r->integer >= 0 && r->integer <= max)
        rc = (int)r->integer;
    else
        rs_fail(st, "redis: unexpected script reply (type %d)", r->type);
    freeReplyObject(r);
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

static int rs_touch(struct store *st, const char *id, const char *instance, struct session *out)
{
    return rs_view(st, false, id, instance, out);
}

static int rs_create(struct store *st, const char *id, const char *instance, struct session *out)
{
    return rs_view(st, true, id, instance, out);
}

static int rs_set_value(struct store *st, const char *id, const char *value, size_t len,
                        long long now, bool create)
{
    char vtime[24];
    if (len > VALUE_MAX)
        return rs_fail(st, "redis: value longer than %d bytes", VALUE_MAX);
    snprintf(vtime, sizeof vtime, "%lld", now);
    const char *args[] = {value, vtime, create ? "1" : "0"};
    const size_t lens[] = {len, strlen(vtime), 1};
    redisReply *r = rs_script_id(st, "set", id, args, lens, 3);
    return r == NULL ? -1 : rs_reply_bool(st, r);
}

/* Rotation and login in one script run. With no old session the script
 * gets the new key twice (KEYS[1] == KEYS[2]: nothing to rename), so both
 * keys are always of one slot. */
static int rs_login(struct store *st, const char *old_id, const char *new_id, const char *user)
{
    char okey[RS_KEY_MAX], nkey[RS_KEY_MAX];
    if (!user_name_valid(user, strlen(user))) /* it names a Redis key */
        return rs_fail(st, "redis: login: invalid user name");
    if (rs_key(st, new_id, nkey) != 0 || rs_key(st, old_id ? old_id : new_id, okey) != 0)
        return -1;
    const char *keys[] = {okey, nkey};
    const char *args[] = {user, RS_XSTR(USER_SESSIONS_MAX)};
    redisReply *r = rs_script(st, "login", keys, 2, args, NULL, 2);
    return r == NULL ? -1 : rs_reply_range(st, r, 2);
}

static int rs_logout(struct store *st, const char *id, bool all, long long *ended)
{
    const char *args[] = {all ? "1" : "0"};
    redisReply *r = rs_script_id(st, "logout", id, args, NULL, 1);
    if (r == NULL)
        return -1;
    long long existed, n;
    int rc = redis_script_logout(r, &existed, &n) == 0
                 ? (int)existed
                 : rs_fail(st, "redis: malformed logout reply");
    freeReplyObject(r);
    if (rc >= 0 && ended != NULL)
        *ended = n;
    return rc;
}

/* destroy is logout of this session only, so its user index forgets it. */
static int rs_destroy(struct store *st, const char *id)
{
    return rs_logout(st, id, false, NULL);
}

static int rs_cart(struct store *st, const char *id, int item, int delta, bool create)
{
    if (item < 0 || item >= CART_ITEMS || (delta != 1 && delta != -1))
        return rs_fail(st, "redis: cart: bad change (item %d, delta %d)", item, delta);
    const char *args[] = {cart_catalogue[item], delta > 0 ? "1" : "-1", create ? "1" : "0",
                          RS_XSTR(CART_LINES_MAX), RS_XSTR(CART_QTY_MAX)};
    redisReply *r = rs_script_id(st, "cart", id, args, NULL, 5);
    return r == NULL ? -1 : rs_reply_range(st, r, 2);
}

/* 0 when PING answers PONG, else -1 (an error reply counts as down). */
static int rs_ping(struct store *st)
{
    const char *argv[] = {"PING"};
    const size_t lens[] = {4};
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
 * first use, once the server runs). hiredis 0.14 writes with write(2): a
 * Redis that went away raises SIGPIPE, which the server ignores for the
 * whole process (server.c signals_restore, the one place that sets it).
 */
static int rs_global_init(const struct config *cfg, char *err, size_t errlen)
{
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
    st->pipe = &shared.pipes[atomic_add(&shared.next, 1, RELAXED) % (unsigned)shared.n];
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
    .login = rs_login,
    .logout = rs_logout,
    .cart = rs_cart,
    .ping = rs_ping,
    .live = rs_live,
    .metrics = rs_metrics,
    .error = rs_error,
};

/*
 * How the Redis store's commands reach Redis (store_redis_call.h). A
 * single node: the process keeps cfg->redis_connections connections
 * (redis_conn.c), each a pipe shared by the workers (redis_pipe.c); a
 * worker's handle sends on one of them, in a batch with whatever the other
 * workers sent at the same moment. A Redis Cluster: cluster.c keeps as
 * many per node, and a command goes to the node of its key's slot.
 */
#include "store_redis_call.h"
#include "atomic.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "cluster_slot.h"
#include "redis_script.h"

/* The process's connections (set up by rs_conns_init). */
static struct {
    int n;
    bool cluster;
    struct redis_conn *conns; /* single node: n of them, one pipe each */
    struct rpipe *pipes;
    unsigned next; /* the pipe (or connection index) the next handle uses (atomic) */
} shared;

int rs_fail(struct store *st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (vsnprintf(st->errstr, sizeof st->errstr, fmt, ap) < 0)
        st->errstr[0] = '\0';
    va_end(ap);
    return -1;
}

int rs_key(struct store *st, const char *id, char *key)
{
    int n = snprintf(key, RS_KEY_MAX, "%s{%.*s}%s", st->prefix, SID_TAG_LEN, id, id);
    if (n < 0 || n >= RS_KEY_MAX)
        return rs_fail(st, "redis: key too long");
    return 0;
}

int rs_user_key(struct store *st, const char *user, char *key)
{
    int n = snprintf(key, RS_USER_KEY_MAX, "%suser:%s", st->prefix, user);
    if (n < 0 || n >= RS_USER_KEY_MAX)
        return rs_fail(st, "redis: key too long");
    return 0;
}

/* The slot of op's first key: a script's KEYS[1] (argv[3]), else argv[1]. */
static unsigned op_slot(const struct rpipe_op *op)
{
    bool script = op->script || (op->argc > 0 && strcmp(op->argv[0], "EVAL") == 0);
    int at = script ? 3 : 1;
    return at < op->argc ? cluster_key_slot(op->argv[at], op->lens[at]) : 0;
}

/* Sends op: its reply (an error reply too), or NULL with the error set. */
static redisReply *rs_call(struct store *st, struct rpipe_op *op)
{
    int rc = st->cluster ? cluster_call(op_slot(op), st->pick, op) : rpipe_call(st->pipe, op);
    if (rc == 0)
        return op->reply;
    rs_fail(st, "%s", op->err);
    return NULL;
}

redisReply *rs_command(struct store *st, int argc, const char **argv, const size_t *lens)
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

/* EVALSHA, and EVAL once when the node lost the script (NOSCRIPT: SCRIPT
 * FLUSH, a restart; in a cluster, per node). The one place a script call
 * is put together. */
redisReply *rs_script(struct store *st, const char *name, const char *const *keys, int nkeys,
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
    rs_push(&op, st->cluster ? "c" : "s", 1);
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

redisReply *rs_script_id(struct store *st, const char *name, const char *id,
                         const char *const *args, const size_t *lens, int n)
{
    char key[RS_KEY_MAX];
    if (rs_key(st, id, key) != 0)
        return NULL;
    const char *keys[] = {key};
    return rs_script(st, name, keys, 1, args, lens, n);
}

/*
 * Sets up the process's connections (not connected yet: each connects on
 * first use, once the server runs). hiredis 0.14 writes with write(2): a
 * Redis that went away raises SIGPIPE, which the server ignores for the
 * whole process (server.c signals_restore, the one place that sets it).
 */
int rs_conns_init(const struct config *cfg, char *err, size_t errlen)
{
    int n = cfg->redis_connections > 0 ? cfg->redis_connections : 1;
    shared.cluster = cfg->redis.cluster_n > 0;
    if (shared.cluster) {
        if (cluster_init(&cfg->redis, n, cfg->redis_timeout_ms, err, errlen) != 0)
            return -1;
        shared.n = n;
        return 0;
    }
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

void rs_conns_fini(void)
{
    if (shared.cluster)
        cluster_fini();
    for (int i = 0; i < shared.n && shared.pipes != NULL; i++)
        rpipe_fini(&shared.pipes[i]);
    free(shared.pipes);
    free(shared.conns);
    shared.n = 0;
    shared.pipes = NULL;
    shared.conns = NULL;
}

bool rs_conns_attach(struct store *st)
{
    if (shared.n == 0)
        return false;
    unsigned i = atomic_add(&shared.next, 1, RELAXED) % (unsigned)shared.n;
    st->cluster = shared.cluster;
    st->pick = i;
    st->pipe = shared.cluster ? NULL : &shared.pipes[i];
    return true;
}

void rs_conns_metrics(struct buf *b)
{
    if (shared.cluster)
        cluster_render_metrics(b);
    else
        rpipe_render_metrics(b, shared.pipes, shared.n);
}

int rs_conns_ping(struct store *st)
{
    if (st->cluster) {
        char why[REDIS_ERR_MAX];
        return cluster_ping(st->pick, why, sizeof why) == 0 ? 0 : rs_fail(st, "%s", why);
    }
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

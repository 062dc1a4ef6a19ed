/*
 * The Redis store (hiredis 0.14 API, blocking contexts with timeouts).
 *
 * One connection per worker handle, opened lazily by the first operation
 * and re-opened by the next operation after any I/O or protocol failure.
 * A session is one hash under cfg->redis_prefix + id with the fields
 * count, value, vtime (unix seconds) and served (instance names joined by
 * '\n', newest first, at most SERVED_MAX). Every page view (touch or
 * create) and every set_value is one EVALSHA of the script below, so a view
 * costs one round trip; the connect handshake (AUTH, SELECT, SCRIPT LOAD)
 * is pipelined into one more round trip per connection.
 *
 * With a redis-sentinel:// URL every connect first asks the sentinels for
 * the master's address (sentinel.c) and the handshake also sends ROLE: a
 * node that is not the master is refused. Any failure drops the connection,
 * so the next operation asks the sentinels again — that is how a failover is
 * followed. READONLY, LOADING and MASTERDOWN error replies (a demoted or
 * not yet usable node) drop the connection too.
 */
#include "store.h"
#include "redis_script.h"

#include "sentinel.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RS_ERR_MAX 512
#define RS_WHERE_MAX (REDIS_HOST_MAX + 16)
#define RS_KEY_MAX (REDIS_PREFIX_MAX + SID_LEN + 1)
#define RS_SHA_LEN 40

struct store {
    redisContext *ctx;             /* NULL: not connected */
    struct redis_url url;          /* copies: the handle needs no cfg later */
    char prefix[REDIS_PREFIX_MAX];
    int timeout_ms;
    char ttl[24];                  /* cfg->ttl as text, for EXPIRE */
    char where[RS_WHERE_MAX];      /* "host:port" or "unix:/path" */
    int sentinel_next;             /* sentinel to ask first (sentinel mode) */
    char master_host[REDIS_HOST_MAX]; /* sentinel mode: the master now */
    int master_port;
    char sha[RS_SHA_LEN + 1];      /* from SCRIPT LOAD at connect */
    char errstr[RS_ERR_MAX];
};

/* Sets the handle's error text to "redis <where>: <formatted>"; returns -1. */
static int rs_fail(struct store *st, const char *fmt, ...)
{
    char msg[RS_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    if (vsnprintf(msg, sizeof msg, fmt, ap) < 0)
        msg[0] = '\0';
    va_end(ap);
    if (snprintf(st->errstr, sizeof st->errstr, "redis %s: %s", st->where, msg) < 0)
        st->errstr[0] = '\0';
    return -1;
}

/* Closes the connection (if any); the next operation reconnects. */
static void rs_drop(struct store *st)
{
    if (st->ctx != NULL)
        redisFree(st->ctx);
    st->ctx = NULL;
}

/*
 * Records context c's error (a timeout is named as such), drops the
 * connection and returns -1. Call right after the failing hiredis call so
 * errno still belongs to it.
 */
static int rs_fail_io(struct store *st, const redisContext *c)
{
    int saved = errno;
    if (c == NULL)
        rs_fail(st, "out of memory");
    else if (c->err == REDIS_ERR_IO &&
             (saved == EAGAIN || saved == EWOULDBLOCK || saved == ETIMEDOUT))
        rs_fail(st, "timeout after %d ms", st->timeout_ms);
    else
        rs_fail(st, "%s", c->err ? c->errstr : "connection lost");
    rs_drop(st);
    return -1;
}

/*
 * Sends AUTH (when a password is set), SELECT (db != 0) and SCRIPT LOAD in
 * one pipeline, checks the replies in order and keeps the script's SHA1.
 * 0, or -1 with the error set and the connection dropped.
 */
static int rs_handshake(struct store *st)
{
    const struct redis_url *u = &st->url;
    const char *what[4];
    int n = 0;
    int role_at = -1;

    if (u->password[0] != '\0' && u->user[0] != '\0')
        redisAppendCommand(st->ctx, "AUTH %s %s", u->user, u->password);
    else if (u->password[0] != '\0')
        redisAppendCommand(st->ctx, "AUTH %s", u->password);
    if (u->password[0] != '\0')
        what[n++] = "AUTH";
    if (u->db != 0 && redisAppendCommand(st->ctx, "SELECT %d", u->db) == REDIS_OK)
        what[n++] = "SELECT";
    if (u->sentinel_n > 0 && redisAppendCommand(st->ctx, "ROLE") == REDIS_OK) {
        role_at = n;
        what[n++] = "ROLE";
    }
    redisAppendCommand(st->ctx, "SCRIPT LOAD %s", redis_script_body);
    what[n++] = "SCRIPT LOAD";
    for (int i = 0; i < n; i++) {
        void *p = NULL;
        if (redisGetReply(st->ctx, &p) != REDIS_OK || p == NULL)
            return rs_fail_io(st, st->ctx);
        redisReply *r = p;
        bool last = i == n - 1;
        bool ok = last ? r->type == REDIS_REPLY_STRING && r->len == RS_SHA_LEN
                       : r->type == REDIS_REPLY_STATUS;
        if (i == role_at) {
            char why[128];
            ok = sentinel_check_role(r, why, sizeof why) == 0;
            if (!ok)
                rs_fail(st, "%s", why);
        } else if (ok && last)
            memcpy(st->sha, r->str, RS_SHA_LEN); /* sha[40] stays '\0' */
        else if (!ok)
            rs_fail(st, "%s failed: %s", what[i],
                    r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        freeReplyObject(r);
        if (!ok) {
            rs_drop(st);
            return -1;
        }
    }
    return 0;
}

/*
 * Sentinel mode: asks the sentinels where the master is and names it in
 * st->where. 0, or -1 with the error set.
 */
static int rs_discover(struct store *st)
{
    char why[RS_ERR_MAX - 64];
    if (sentinel_master_addr(&st->url, st->timeout_ms, &st->sentinel_next,
                             st->master_host, sizeof st->master_host,
                             &st->master_port, why, sizeof why) != 0) {
        snprintf(st->where, sizeof st->where, "sentinel/%.64s", st->url.master_name);
        return rs_fail(st, "%s", why);
    }
    bool v6 = strchr(st->master_host, ':') != NULL;
    snprintf(st->where, sizeof st->where, "%s%.*s%s:%d", v6 ? "[" : "",
             REDIS_HOST_MAX, st->master_host, v6 ? "]" : "", st->master_port);
    return 0;
}

/* Connects when not connected. 0, or -1 with the error set. */
static int rs_connect(struct store *st)
{
    struct timeval tv = { st->timeout_ms / 1000, (st->timeout_ms % 1000) * 1000 };
    redisContext *c;

    if (st->url.sentinel_n > 0) {
        if (rs_discover(st) != 0)
            return -1;
        c = redisConnectWithTimeout(st->master_host, st->master_port, tv);
    } else if (st->url.kind == REDIS_URL_UNIX) {
        c = redisConnectUnixWithTimeout(st->url.path, tv);
    } else {
        c = redisConnectWithTimeout(st->url.host, st->url.port, tv);
    }
    st->ctx = c;
    if (c == NULL || c->err)
        return rs_fail_io(st, c);
    if (redisSetTimeout(c, tv) != REDIS_OK)
        return rs_fail_io(st, c);
    return rs_handshake(st);
}

/*
 * Makes sure a usable connection exists. An idle connection whose socket
 * is readable has been closed (or poisoned) by the server — e.g. Redis
 * restarted or its idle timeout hit — so it is replaced before sending
 * rather than failing one request. 0 or -1.
 */
static int rs_ready(struct store *st)
{
    if (st->ctx != NULL) {
        struct pollfd p = { .fd = st->ctx->fd, .events = POLLIN };
        if (poll(&p, 1, 0) != 0)
            rs_drop(st);
    }
    if (st->ctx == NULL)
        return rs_connect(st);
    return 0;
}

/*
 * True for error replies that mean "this node cannot serve us now" rather
 * than "this command failed": the connection is dropped so the next
 * operation reconnects (and, with Sentinel, asks where the master went).
 */
static bool rs_node_unusable(const redisReply *r)
{
    return strncmp(r->str, "READONLY", 8) == 0 || strncmp(r->str, "LOADING", 7) == 0 ||
           strncmp(r->str, "MASTERDOWN", 10) == 0;
}

/*
 * Sends one command and returns its reply (caller frees), or NULL with the
 * error set. An error reply becomes a failure but keeps the connection (the
 * protocol is still in step) unless the node is unusable (rs_node_unusable);
 * only NOSCRIPT is returned, for rs_script.
 */
static redisReply *rs_command(struct store *st, int argc, const char **argv,
                              const size_t *lens)
{
    if (rs_ready(st) != 0)
        return NULL;
    redisReply *r = redisCommandArgv(st->ctx, argc, argv, lens);
    if (r == NULL) {
        rs_fail_io(st, st->ctx);
    } else if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) != 0) {
        rs_fail(st, "%s: %s", argv[0], r->str);
        if (rs_node_unusable(r))
            rs_drop(st);
        freeReplyObject(r);
        r = NULL;
    }
    return r;
}

/*
 * Runs the session script with n (<= 8) script arguments args/lens on key.
 * Uses EVALSHA; when the server lost the script (NOSCRIPT, e.g. after
 * SCRIPT FLUSH or a restart) sends EVAL with the body once, which caches it
 * again. Returns a non-error reply (caller frees) or NULL with the error set.
 */
static redisReply *rs_script(struct store *st, const char *key, int n,
                             const char **args, const size_t *lens)
{
    const char *argv[12] = { "EVALSHA", st->sha, "1", key };
    size_t argl[12] = { 7, RS_SHA_LEN, 1, strlen(key) };

    for (int i = 0; i < n && i < 8; i++) {
        argv[4 + i] = args[i];
        argl[4 + i] = lens[i];
    }
    /* st->sha is filled by SCRIPT LOAD when rs_command connects. */
    redisReply *r = rs_command(st, 4 + n, argv, argl);
    if (r != NULL && r->type == REDIS_REPLY_ERROR) {
        freeReplyObject(r);
        argv[0] = "EVAL";
        argl[0] = 4;
        argv[1] = redis_script_body;
        argl[1] = strlen(redis_script_body);
        r = rs_command(st, 4 + n, argv, argl);
        if (r != NULL && r->type == REDIS_REPLY_ERROR) {
            rs_fail(st, "EVAL: %s", r->str);
            if (rs_node_unusable(r))
                rs_drop(st);
            freeReplyObject(r);
            r = NULL;
        }
    }
    return r;
}

/* Writes prefix + id to key (size RS_KEY_MAX). 0, or -1 with the error set. */
static int rs_key(struct store *st, const char *id, char *key)
{
    int n = snprintf(key, RS_KEY_MAX, "%s%s", st->prefix, id);
    if (n < 0 || n >= RS_KEY_MAX)
        return rs_fail(st, "key too long");
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
    const char *args[] = { op, st->ttl, inst, max };
    const size_t lens[] = { strlen(op), strlen(st->ttl), strlen(inst), strlen(max) };
    redisReply *r = rs_script(st, key, 4, args, lens);
    if (r == NULL)
        return -1;
    int rc = 0;
    if (r->type != REDIS_REPLY_NIL && r->type != REDIS_REPLY_INTEGER)
        rc = redis_script_view(r, id, out) == 0 ? 1 : rs_fail(st, "malformed script reply");
    else if (r->type == REDIS_REPLY_INTEGER && r->integer != 0)
        rc = rs_fail(st, "unexpected script reply %lld", r->integer);
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
        rs_fail(st, "unexpected reply type %d", r->type);
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
        return rs_fail(st, "value longer than %d bytes", VALUE_MAX);
    if (rs_key(st, id, key) != 0)
        return -1;
    snprintf(vtime, sizeof vtime, "%lld", now);
    const char *args[] = { "set", st->ttl, value, vtime, create ? "1" : "0" };
    const size_t lens[] = { 3, strlen(st->ttl), len, strlen(vtime), 1 };
    redisReply *r = rs_script(st, key, 5, args, lens);
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
        rc = rs_fail(st, "PING: unexpected reply");
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
    return st != NULL ? st->errstr : "redis: no handle";
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
    st->url = cfg->redis;
    snprintf(st->prefix, sizeof st->prefix, "%s", cfg->redis_prefix);
    st->timeout_ms = cfg->redis_timeout_ms > 0 ? cfg->redis_timeout_ms : 1;
    snprintf(st->ttl, sizeof st->ttl, "%ld", cfg->ttl);
    bool v6 = strchr(st->url.host, ':') != NULL;
    st->sentinel_next = 0;
    if (st->url.sentinel_n > 0)
        snprintf(st->where, sizeof st->where, "sentinel/%.64s", st->url.master_name);
    else if (st->url.kind == REDIS_URL_UNIX)
        snprintf(st->where, sizeof st->where, "unix:%.*s", REDIS_HOST_MAX, st->url.path);
    else
        snprintf(st->where, sizeof st->where, "%s%.*s%s:%d", v6 ? "[" : "",
                 REDIS_HOST_MAX, st->url.host, v6 ? "]" : "", st->url.port);
    return st;
}

static void rs_close(struct store *st)
{
    if (st == NULL)
        return;
    rs_drop(st);
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

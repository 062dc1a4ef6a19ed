/*
 * One Redis connection of a worker (hiredis 0.14 API, blocking context with
 * timeouts): lazy connect, a pipelined handshake (AUTH, SELECT, ROLE in
 * Sentinel mode, SCRIPT LOAD), the session script run by EVALSHA, and the
 * drop-and-reconnect-on-next-use policy after any failure.
 *
 * With a redis-sentinel:// URL every connect first asks the sentinels for
 * the master's address (sentinel.c) and the handshake also sends ROLE: a
 * node that is not the master is refused. Any failure drops the connection,
 * so the next operation asks the sentinels again — that is how a failover is
 * followed. READONLY, LOADING and MASTERDOWN error replies (a demoted or
 * not yet usable node) drop the connection too.
 */
#include "redis_conn.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "redis_script.h"
#include "sentinel.h"

void redis_conn_init(struct redis_conn *conn, const struct redis_url *url, int timeout_ms)
{
    memset(conn, 0, sizeof *conn);
    conn->url = *url;
    conn->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
    bool v6 = strchr(url->host, ':') != NULL;
    if (url->sentinel_n > 0)
        snprintf(conn->where, sizeof conn->where, "sentinel/%.64s", url->master_name);
    else if (url->kind == REDIS_URL_UNIX)
        snprintf(conn->where, sizeof conn->where, "unix:%.*s", REDIS_HOST_MAX, url->path);
    else
        snprintf(conn->where, sizeof conn->where, "%s%.*s%s:%d", v6 ? "[" : "",
                 REDIS_HOST_MAX, url->host, v6 ? "]" : "", url->port);
}

/* Sets the handle's error text to "redis <where>: <formatted>"; returns -1. */
int redis_conn_fail(struct redis_conn *conn, const char *fmt, ...)
{
    char msg[REDIS_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    if (vsnprintf(msg, sizeof msg, fmt, ap) < 0)
        msg[0] = '\0';
    va_end(ap);
    if (snprintf(conn->errstr, sizeof conn->errstr, "redis %s: %s", conn->where, msg) < 0)
        conn->errstr[0] = '\0';
    return -1;
}

/* Closes the connection (if any); the next operation reconnects. */
static void redis_conn_drop(struct redis_conn *conn)
{
    if (conn->ctx != NULL)
        redisFree(conn->ctx);
    conn->ctx = NULL;
}

/*
 * Records context c's error (a timeout is named as such), drops the
 * connection and returns -1. Call right after the failing hiredis call so
 * errno still belongs to it.
 */
static int conn_fail_io(struct redis_conn *conn, const redisContext *c)
{
    int saved = errno;
    if (c == NULL)
        redis_conn_fail(conn, "out of memory");
    else if (c->err == REDIS_ERR_IO &&
             (saved == EAGAIN || saved == EWOULDBLOCK || saved == ETIMEDOUT))
        redis_conn_fail(conn, "timeout after %d ms", conn->timeout_ms);
    else
        redis_conn_fail(conn, "%s", c->err ? c->errstr : "connection lost");
    redis_conn_drop(conn);
    return -1;
}

/*
 * Sends AUTH (when a password is set), SELECT (db != 0) and SCRIPT LOAD in
 * one pipeline, checks the replies in order and keeps the script's SHA1.
 * 0, or -1 with the error set and the connection dropped.
 */
static int conn_handshake(struct redis_conn *conn)
{
    const struct redis_url *u = &conn->url;
    const char *what[4];
    int n = 0;
    int role_at = -1;

    if (u->password[0] != '\0' && u->user[0] != '\0')
        redisAppendCommand(conn->ctx, "AUTH %s %s", u->user, u->password);
    else if (u->password[0] != '\0')
        redisAppendCommand(conn->ctx, "AUTH %s", u->password);
    if (u->password[0] != '\0')
        what[n++] = "AUTH";
    if (u->db != 0 && redisAppendCommand(conn->ctx, "SELECT %d", u->db) == REDIS_OK)
        what[n++] = "SELECT";
    if (u->sentinel_n > 0 && redisAppendCommand(conn->ctx, "ROLE") == REDIS_OK) {
        role_at = n;
        what[n++] = "ROLE";
    }
    redisAppendCommand(conn->ctx, "SCRIPT LOAD %s", redis_script_body);
    what[n++] = "SCRIPT LOAD";
    for (int i = 0; i < n; i++) {
        void *p = NULL;
        if (redisGetReply(conn->ctx, &p) != REDIS_OK || p == NULL)
            return conn_fail_io(conn, conn->ctx);
        redisReply *r = p;
        bool last = i == n - 1;
        bool ok = last ? r->type == REDIS_REPLY_STRING && r->len == REDIS_SHA_LEN
                       : r->type == REDIS_REPLY_STATUS;
        if (i == role_at) {
            char why[128];
            ok = sentinel_check_role(r, why, sizeof why) == 0;
            if (!ok)
                redis_conn_fail(conn, "%s", why);
        } else if (ok && last)
            memcpy(conn->sha, r->str, REDIS_SHA_LEN); /* sha[40] stays '\0' */
        else if (!ok)
            redis_conn_fail(conn, "%s failed: %s", what[i],
                    r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        freeReplyObject(r);
        if (!ok) {
            redis_conn_drop(conn);
            return -1;
        }
    }
    return 0;
}

/*
 * Sentinel mode: asks the sentinels where the master is and names it in
 * conn->where. 0, or -1 with the error set.
 */
static int conn_discover(struct redis_conn *conn)
{
    char why[REDIS_ERR_MAX - 64];
    if (sentinel_master_addr(&conn->url, conn->timeout_ms, &conn->sentinel_next,
                             conn->master_host, sizeof conn->master_host,
                             &conn->master_port, why, sizeof why) != 0) {
        snprintf(conn->where, sizeof conn->where, "sentinel/%.64s", conn->url.master_name);
        return redis_conn_fail(conn, "%s", why);
    }
    bool v6 = strchr(conn->master_host, ':') != NULL;
    snprintf(conn->where, sizeof conn->where, "%s%.*s%s:%d", v6 ? "[" : "",
             REDIS_HOST_MAX, conn->master_host, v6 ? "]" : "", conn->master_port);
    return 0;
}

/* Connects when not connected. 0, or -1 with the error set. */
static int conn_connect(struct redis_conn *conn)
{
    struct timeval tv = { conn->timeout_ms / 1000, (conn->timeout_ms % 1000) * 1000 };
    redisContext *c;

    if (conn->url.sentinel_n > 0) {
        if (conn_discover(conn) != 0)
            return -1;
        c = redisConnectWithTimeout(conn->master_host, conn->master_port, tv);
    } else if (conn->url.kind == REDIS_URL_UNIX) {
        c = redisConnectUnixWithTimeout(conn->url.path, tv);
    } else {
        c = redisConnectWithTimeout(conn->url.host, conn->url.port, tv);
    }
    conn->ctx = c;
    if (c == NULL || c->err)
        return conn_fail_io(conn, c);
    if (redisSetTimeout(c, tv) != REDIS_OK)
        return conn_fail_io(conn, c);
    return conn_handshake(conn);
}

/*
 * Makes sure a usable connection exists. An idle connection whose socket
 * is readable has been closed (or poisoned) by the server — e.g. Redis
 * restarted or its idle timeout hit — so it is replaced before sending
 * rather than failing one request. 0 or -1.
 */
static int conn_ready(struct redis_conn *conn)
{
    if (conn->ctx != NULL) {
        struct pollfd p = { .fd = conn->ctx->fd, .events = POLLIN };
        if (poll(&p, 1, 0) != 0)
            redis_conn_drop(conn);
    }
    if (conn->ctx == NULL)
        return conn_connect(conn);
    return 0;
}

/*
 * True for error replies that mean "this node cannot serve us now" rather
 * than "this command failed": the connection is dropped so the next
 * operation reconnects (and, with Sentinel, asks where the master went).
 */
static bool conn_node_unusable(const redisReply *r)
{
    return strncmp(r->str, "READONLY", 8) == 0 || strncmp(r->str, "LOADING", 7) == 0 ||
           strncmp(r->str, "MASTERDOWN", 10) == 0;
}

/*
 * Sends one command and returns its reply (caller frees), or NULL with the
 * error set. An error reply becomes a failure but keeps the connection (the
 * protocol is still in step) unless the node is unusable (conn_node_unusable);
 * only NOSCRIPT is returned, for redis_conn_script.
 */
redisReply *redis_conn_command(struct redis_conn *conn, int argc, const char **argv,
                              const size_t *lens)
{
    if (conn_ready(conn) != 0)
        return NULL;
    redisReply *r = redisCommandArgv(conn->ctx, argc, argv, lens);
    if (r == NULL) {
        conn_fail_io(conn, conn->ctx);
    } else if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) != 0) {
        redis_conn_fail(conn, "%s: %s", argv[0], r->str);
        if (conn_node_unusable(r))
            redis_conn_drop(conn);
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
redisReply *redis_conn_script(struct redis_conn *conn, const char *key, int n,
                             const char **args, const size_t *lens)
{
    const char *argv[12] = { "EVALSHA", conn->sha, "1", key };
    size_t argl[12] = { 7, REDIS_SHA_LEN, 1, strlen(key) };

    for (int i = 0; i < n && i < 8; i++) {
        argv[4 + i] = args[i];
        argl[4 + i] = lens[i];
    }
    /* conn->sha is filled by SCRIPT LOAD when redis_conn_command connects. */
    redisReply *r = redis_conn_command(conn, 4 + n, argv, argl);
    if (r != NULL && r->type == REDIS_REPLY_ERROR) {
        freeReplyObject(r);
        argv[0] = "EVAL";
        argl[0] = 4;
        argv[1] = redis_script_body;
        argl[1] = strlen(redis_script_body);
        r = redis_conn_command(conn, 4 + n, argv, argl);
        if (r != NULL && r->type == REDIS_REPLY_ERROR) {
            redis_conn_fail(conn, "EVAL: %s", r->str);
            if (conn_node_unusable(r))
                redis_conn_drop(conn);
            freeReplyObject(r);
            r = NULL;
        }
    }
    return r;
}

void redis_conn_close(struct redis_conn *conn)
{
    redis_conn_drop(conn);
}

/*
 * One Redis connection, the transport of a shared pipe (redis_pipe.h;
 * hiredis 0.14 API, blocking context with timeouts): lazy connect to an
 * address resolved within the timeout (resolve.h), a pipelined handshake
 * (AUTH, SELECT, ROLE in Sentinel mode, INFO server for the version, SCRIPT
 * LOAD), batches of commands written at once and their replies read in
 * order, and the drop-and-reconnect-on-next-use policy after any failure.
 * Only the pipe's leader uses a connection, one batch at a time.
 *
 * With a redis-sentinel:// URL a connect takes the master's address the
 * sentinels last gave (one answer per process, shared by its connections)
 * or asks them (sentinel.c), and the handshake also sends ROLE: a node that
 * is not the master is refused. Any failure drops the connection and
 * forgets the shared answer, so the next connect asks the sentinels again:
 * that is how a failover is followed. READONLY, LOADING and MASTERDOWN
 * error replies (a demoted or not yet usable node) drop the connection too
 * (redis_pipe.c).
 */
#include "redis_conn.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "host.h"
#include "redis_reader.h"
#include "redis_script.h"
#include "resolve.h"
#include "sentinel.h"

/* The Redis version the session script needs: TIME inside a script that
 * writes, which only effects replication (the default from 5.0) allows. */
#define REDIS_MAJOR_MIN 5

/* Sentinel mode: the master's address as the sentinels last said, shared
 * by every connection of the process. */
static struct {
    pthread_mutex_t lock;
    bool valid;
    char host[REDIS_HOST_MAX];
    int port;
    int next; /* the sentinel to ask first */
} master = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void master_forget(void)
{
    pthread_mutex_lock(&master.lock);
    master.valid = false;
    pthread_mutex_unlock(&master.lock);
}

void redis_conn_init(struct redis_conn *conn, const struct redis_url *url, int timeout_ms)
{
    memset(conn, 0, sizeof *conn);
    conn->url = *url;
    conn->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
    if (url->sentinel_n > 0)
        snprintf(conn->where, sizeof conn->where, "sentinel/%.64s", url->master_name);
    else if (url->kind == REDIS_URL_UNIX)
        snprintf(conn->where, sizeof conn->where, "unix:%.*s", REDIS_HOST_MAX, url->path);
    else
        host_port_format(conn->where, sizeof conn->where, url->host, REDIS_HOST_MAX, url->port);
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

void redis_conn_drop(struct redis_conn *conn)
{
    if (conn->ctx != NULL)
        redisFree(conn->ctx);
    conn->ctx = NULL;
    if (conn->url.sentinel_n > 0)
        master_forget();
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
 * Checks an INFO server reply: 0 when redis_version is REDIS_MAJOR_MIN or
 * newer; an error reply (INFO not allowed to this ACL user) cannot tell and
 * passes. -1 with the error set otherwise.
 */
static int check_version(struct redis_conn *conn, const redisReply *r)
{
    if (r->type == REDIS_REPLY_ERROR)
        return 0;
    const char *v = r->type == REDIS_REPLY_STRING ? strstr(r->str, "redis_version:") : NULL;
    if (!v)
        return redis_conn_fail(conn, "INFO server: no redis_version");
    int major = atoi(v + 14);
    if (major >= REDIS_MAJOR_MIN)
        return 0;
    return redis_conn_fail(conn,
                           "Redis %.*s is too old: sessionlab needs Redis %d or newer "
                           "(its script calls TIME before writing, which needs effects "
                           "replication)",
                           (int)strcspn(v + 14, "\r\n"), v + 14, REDIS_MAJOR_MIN);
}

/* Checks the reply to handshake step what. 0, or -1 with the error set. */
static int check_step(struct redis_conn *conn, const char *what, const redisReply *r)
{
    char why[128];
    if (strcmp(what, "ROLE") == 0) {
        if (sentinel_check_role(r, why, sizeof why) == 0)
            return 0;
        return redis_conn_fail(conn, "%s", why);
    }
    if (strcmp(what, "INFO") == 0)
        return check_version(conn, r);
    bool load = strcmp(what, "SCRIPT LOAD") == 0;
    if (load ? r->type == REDIS_REPLY_STRING && r->len == REDIS_SHA_LEN
             : r->type == REDIS_REPLY_STATUS) {
        if (load)
            memcpy(conn->sha, r->str, REDIS_SHA_LEN); /* sha[40] stays '\0' */
        return 0;
    }
    return redis_conn_fail(conn, "%s failed: %s", what,
                           r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
}

/*
 * Sends AUTH (when a password is set), SELECT (db != 0), ROLE (Sentinel),
 * INFO server and SCRIPT LOAD in one pipeline, checks the replies in order
 * and keeps the script's SHA1. 0, or -1 with the error set and the
 * connection dropped.
 */
static int conn_handshake(struct redis_conn *conn)
{
    const struct redis_url *u = &conn->url;
    const char *what[5];
    int n = 0;

    if (u->password[0] != '\0' && u->user[0] != '\0')
        redisAppendCommand(conn->ctx, "AUTH %s %s", u->user, u->password);
    else if (u->password[0] != '\0')
        redisAppendCommand(conn->ctx, "AUTH %s", u->password);
    if (u->password[0] != '\0')
        what[n++] = "AUTH";
    if (u->db != 0 && redisAppendCommand(conn->ctx, "SELECT %d", u->db) == REDIS_OK)
        what[n++] = "SELECT";
    if (u->sentinel_n > 0 && redisAppendCommand(conn->ctx, "ROLE") == REDIS_OK)
        what[n++] = "ROLE";
    if (redisAppendCommand(conn->ctx, "INFO server") == REDIS_OK)
        what[n++] = "INFO";
    redisAppendCommand(conn->ctx, "SCRIPT LOAD %s", redis_script_body);
    what[n++] = "SCRIPT LOAD";
    for (int i = 0; i < n; i++) {
        void *p = NULL;
        if (redisGetReply(conn->ctx, &p) != REDIS_OK || p == NULL)
            return conn_fail_io(conn, conn->ctx);
        int rc = check_step(conn, what[i], p);
        freeReplyObject(p);
        if (rc != 0) {
            redis_conn_drop(conn);
            return -1;
        }
    }
    return 0;
}

/* Names host:port in conn->where ("[v6]:port" for IPv6). */
static void set_where(struct redis_conn *conn, const char *host, int port)
{
    host_port_format(conn->where, sizeof conn->where, host, REDIS_HOST_MAX, port);
}

/*
 * Sentinel mode: the master's address, from the process's shared answer or
 * else from the sentinels (which then becomes the shared answer). 0, or -1
 * with the error set.
 */
static int conn_discover(struct redis_conn *conn)
{
    char why[REDIS_ERR_MAX - 64];
    pthread_mutex_lock(&master.lock);
    int rc = 0;
    if (!master.valid)
        rc = sentinel_master_addr(&conn->url, conn->timeout_ms, &master.next, master.host,
                                  sizeof master.host, &master.port, why, sizeof why);
    master.valid = rc == 0;
    if (rc == 0) {
        memcpy(conn->master_host, master.host, sizeof conn->master_host);
        conn->master_port = master.port;
    }
    pthread_mutex_unlock(&master.lock);
    if (rc != 0) {
        snprintf(conn->where, sizeof conn->where, "sentinel/%.64s", conn->url.master_name);
        return redis_conn_fail(conn, "%s", why);
    }
    set_where(conn, conn->master_host, conn->master_port);
    return 0;
}

/* Connects to host:port (a name is resolved within the timeout first). */
static redisContext *connect_tcp(struct redis_conn *conn, const char *host, int port,
                                 struct timeval tv)
{
    char addr[RESOLVE_ADDR_MAX], why[REDIS_ERR_MAX - 64];
    if (resolve_host(host, conn->timeout_ms, addr, sizeof addr, why, sizeof why) != 0) {
        redis_conn_fail(conn, "%s", why);
        return NULL;
    }
    return redisConnectWithTimeout(addr, port, tv);
}

/* Connects when not connected. 0, or -1 with the error set. */
static int conn_connect(struct redis_conn *conn)
{
    struct timeval tv = {conn->timeout_ms / 1000, (conn->timeout_ms % 1000) * 1000};
    redisContext *c;

    if (conn->url.sentinel_n > 0) {
        if (conn_discover(conn) != 0)
            return -1;
        c = connect_tcp(conn, conn->master_host, conn->master_port, tv);
    } else if (conn->url.kind == REDIS_URL_UNIX) {
        c = redisConnectUnixWithTimeout(conn->url.path, tv);
    } else {
        c = connect_tcp(conn, conn->url.host, conn->url.port, tv);
    }
    if (c == NULL) { /* the name did not resolve (error set), or no memory */
        if (conn->errstr[0] == '\0')
            redis_conn_fail(conn, "out of memory");
        if (conn->url.sentinel_n > 0)
            master_forget();
        return -1;
    }
    conn->ctx = c;
    if (c->err)
        return conn_fail_io(conn, c);
    redis_reader_bound(c->reader);
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
        struct pollfd p = {.fd = conn->ctx->fd, .events = POLLIN};
        if (poll(&p, 1, 0) != 0)
            redis_conn_drop(conn);
    }
    if (conn->ctx == NULL)
        return conn_connect(conn);
    return 0;
}

int redis_conn_ensure(struct redis_conn *conn)
{
    conn->errstr[0] = '\0';
    return conn_ready(conn);
}

int redis_conn_send(struct redis_conn *conn, struct rpipe_op *const *ops, int n)
{
    for (int i = 0; i < n; i++) {
        const struct rpipe_op *op = ops[i];
        const char *argv[RPIPE_ARGS_MAX];
        size_t lens[RPIPE_ARGS_MAX];
        memcpy(argv, op->argv, sizeof argv);
        memcpy(lens, op->lens, sizeof lens);
        if (op->asking && redisAppendCommand(conn->ctx, "ASKING") != REDIS_OK)
            return conn_fail_io(conn, conn->ctx);
        if (op->script) { /* conn->sha is set by the handshake */
            argv[1] = conn->sha;
            lens[1] = REDIS_SHA_LEN;
        }
        if (redisAppendCommandArgv(conn->ctx, op->argc, argv, lens) != REDIS_OK)
            return conn_fail_io(conn, conn->ctx);
    }
    int done = 0;
    do {
        if (redisBufferWrite(conn->ctx, &done) != REDIS_OK)
            return conn_fail_io(conn, conn->ctx);
    } while (!done);
    return 0;
}

int redis_conn_recv(struct redis_conn *conn, redisReply **out)
{
    void *p = NULL;
    if (redisGetReply(conn->ctx, &p) != REDIS_OK || p == NULL)
        return conn_fail_io(conn, conn->ctx);
    *out = p;
    return 0;
}

static int tr_ensure(void *ctx, char *err, size_t errlen)
{
    struct redis_conn *conn = ctx;
    if (redis_conn_ensure(conn) == 0)
        return 0;
    snprintf(err, errlen, "%s", conn->errstr);
    return -1;
}

static int tr_send(void *ctx, struct rpipe_op *const *ops, int n, char *err, size_t errlen)
{
    struct redis_conn *conn = ctx;
    if (redis_conn_send(conn, ops, n) == 0)
        return 0;
    snprintf(err, errlen, "%s", conn->errstr);
    return -1;
}

static int tr_recv(void *ctx, redisReply **out, char *err, size_t errlen)
{
    struct redis_conn *conn = ctx;
    if (redis_conn_recv(conn, out) == 0)
        return 0;
    snprintf(err, errlen, "%s", conn->errstr);
    return -1;
}

static void tr_drop(void *ctx)
{
    redis_conn_drop(ctx);
}

struct rpipe_transport redis_conn_transport(struct redis_conn *conn)
{
    return (struct rpipe_transport){
        .ctx = conn, .ensure = tr_ensure, .send = tr_send, .recv = tr_recv, .drop = tr_drop};
}

void redis_conn_close(struct redis_conn *conn)
{
    redis_conn_drop(conn);
}

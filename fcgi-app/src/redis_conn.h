/*
 * A worker's Redis connection: connects lazily, reconnects on the next call
 * after any failure, follows Sentinel failovers, and runs the session script.
 * Errors live in the connection (errstr), hiredis style: a call returns -1 or
 * NULL and errstr says why.
 */
#ifndef SESSIONLAB_REDIS_CONN_H
#define SESSIONLAB_REDIS_CONN_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "redis_url.h"

#define REDIS_ERR_MAX 512
#define REDIS_SHA_LEN 40

struct redis_conn {
    redisContext *ctx;                /* NULL: not connected */
    struct redis_url url;
    int timeout_ms;                   /* connect and command timeout */
    char where[REDIS_HOST_MAX + 16];  /* "host:port", "unix:/path", "sentinel/name" */
    int sentinel_next;                /* sentinel to ask first (sentinel mode) */
    char master_host[REDIS_HOST_MAX]; /* sentinel mode: the master now */
    int master_port;
    char sha[REDIS_SHA_LEN + 1];      /* the script's SHA1, from SCRIPT LOAD */
    char errstr[REDIS_ERR_MAX];
};

/* Sets conn up for url without connecting. */
void redis_conn_init(struct redis_conn *conn, const struct redis_url *url, int timeout_ms);
void redis_conn_close(struct redis_conn *conn);

/* Sets errstr to "redis <where>: <formatted>"; returns -1. */
int redis_conn_fail(struct redis_conn *conn, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Sends one command (connecting first if needed) and returns its reply,
 * which the caller frees, or NULL with errstr set. Error replies are
 * failures, except NOSCRIPT, which is returned. */
redisReply *redis_conn_command(struct redis_conn *conn, int argc, const char **argv,
                               const size_t *lens);

/* Runs the session script on key with n (<= 8) arguments: EVALSHA, or EVAL
 * once when the server lost the script. A non-error reply (caller frees) or
 * NULL with errstr set. */
redisReply *redis_conn_script(struct redis_conn *conn, const char *key, int n,
                              const char **args, const size_t *lens);

#endif

/*
 * One Redis connection, the transport of a shared pipe (redis_pipe.h):
 * connects lazily, reconnects on the next use after any failure, follows
 * Sentinel failovers, writes batches of commands and reads their replies.
 * Errors live in the connection (errstr), hiredis style: a call returns -1
 * and errstr says why.
 */
#ifndef SESSIONLAB_REDIS_CONN_H
#define SESSIONLAB_REDIS_CONN_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "redis_pipe.h"
#include "redis_url.h"

#define REDIS_ERR_MAX 512
#define REDIS_SHA_LEN 40

struct redis_conn {
    redisContext *ctx; /* NULL: not connected */
    struct redis_url url;
    int timeout_ms;                   /* connect and command timeout */
    char where[REDIS_HOST_MAX + 16];  /* "host:port", "unix:/path", "sentinel/name" */
    char master_host[REDIS_HOST_MAX]; /* sentinel mode: the master now */
    int master_port;
    char sha[REDIS_SHA_LEN + 1]; /* the script's SHA1, from SCRIPT LOAD */
    char errstr[REDIS_ERR_MAX];
};

/* Sets conn up for url without connecting. */
void redis_conn_init(struct redis_conn *conn, const struct redis_url *url, int timeout_ms);
void redis_conn_close(struct redis_conn *conn);

/* Sets errstr to "redis <where>: <formatted>"; returns -1. */
int redis_conn_fail(struct redis_conn *conn, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The pipe transport over conn (redis_pipe.h). */
struct rpipe_transport redis_conn_transport(struct redis_conn *conn);

/* Closes the connection (if any); the next use reconnects. In Sentinel
 * mode the process's shared master address is forgotten too. */
void redis_conn_drop(struct redis_conn *conn);

/* Connects and runs the handshake when not connected (or when the server
 * closed the idle connection). 0, or -1 with errstr set. */
int redis_conn_ensure(struct redis_conn *conn);

/* Writes the n commands in one go (a script op's argv[1] becomes the
 * script's SHA1). 0, or -1 with errstr set and the connection dropped. */
int redis_conn_send(struct redis_conn *conn, struct rpipe_op *const *ops, int n);

/* Reads the next reply (caller frees) within the timeout. 0, or -1 with
 * errstr set and the connection dropped. */
int redis_conn_recv(struct redis_conn *conn, redisReply **out);

#endif

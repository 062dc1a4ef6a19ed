/*
 * A Redis connection shared by every worker of the process, pipelined
 * with leader/follower batching, behind a circuit breaker.
 *
 * A worker queues its command (an op) and, when no batch is in flight,
 * becomes the leader: it sends every queued op in one write, reads the
 * replies in order and hands each to its op's waiter; the others wait on
 * their own condition. A leader whose own op is done passes the lead to
 * the first op still queued. At concurrency 1 nothing waits for a timer:
 * the lone worker leads a batch of one.
 *
 * A transport failure (timeout, connection lost, protocol error) fails
 * every op of that batch and drops the connection; the breaker then opens:
 * for a back-off window (RPIPE_BACKOFF_MIN_MS doubling up to
 * RPIPE_BACKOFF_MAX_MS) every op fails at once, then one batch at a time
 * probes, and the first success closes the breaker again. A probe that
 * never got sent (it gave up in the queue) hands the probe to the next op.
 *
 * The transport is a table of functions, so the queue is tested with a
 * fake one (tests/unit/test_redis_pipe.c); redis_conn.c is the real one.
 */
#ifndef SESSIONLAB_REDIS_PIPE_H
#define SESSIONLAB_REDIS_PIPE_H

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

#define RPIPE_ERR_MAX 512
#define RPIPE_BATCH_MAX 64
#define RPIPE_BACKOFF_MIN_MS 100
/* The cap keeps the first success at most this long after Redis is back. */
#define RPIPE_BACKOFF_MAX_MS 400
#define RPIPE_ARGS_MAX 13

/* One command and, once done, its reply or why it failed. */
struct rpipe_op {
    int argc;
    const char *argv[RPIPE_ARGS_MAX];
    size_t lens[RPIPE_ARGS_MAX];
    bool script; /* argv[1] is replaced by the script's SHA1 */
    bool asking; /* sent right after ASKING on the same connection (cluster.c) */
    /* Filled by the pipe: */
    redisReply *reply;       /* any reply, error replies too (caller frees) */
    char err[RPIPE_ERR_MAX]; /* when rpipe_call returned -1 */
    int state;               /* RPIPE_QUEUED, _SENT, _DONE (redis_pipe.c) */
    bool lead;               /* this op's worker leads the next batch */
    pthread_cond_t cond;
    struct rpipe_op *next;
};

/* The transport a pipe drives; only the leader calls it, one at a time. */
struct rpipe_transport {
    void *ctx;
    /* Connects if not connected. 0, or -1 with err set. */
    int (*ensure)(void *ctx, char *err, size_t errlen);
    /* Sends the n ops in one write. 0, or -1 with err set (dropped). */
    int (*send)(void *ctx, struct rpipe_op *const *ops, int n, char *err, size_t errlen);
    /* Reads the next reply, within the timeout. 0, or -1 with err set (dropped). */
    int (*recv)(void *ctx, redisReply **out, char *err, size_t errlen);
    /* Closes the connection; the next ensure reconnects. */
    void (*drop)(void *ctx);
};

enum rpipe_breaker { RPIPE_CLOSED, RPIPE_OPEN, RPIPE_PROBING };

struct rpipe {
    pthread_mutex_t lock; /* guards everything below */
    struct rpipe_transport tr;
    struct rpipe_op *head, *tail; /* queued, not sent yet */
    bool leading;                 /* a worker leads (or is about to) */
    int queue_wait_ms;            /* a queued op gives up after this */
    enum rpipe_breaker breaker;
    long long open_until_ms;      /* CLOCK_MONOTONIC */
    struct rpipe_op *probe;       /* the op probing, while RPIPE_PROBING */
    int backoff_ms;               /* the last window; 0 when closed */
    char last_err[RPIPE_ERR_MAX]; /* why the breaker opened */
};

/* queue_wait_ms bounds how long an op waits to be sent (a few timeouts). */
void rpipe_init(struct rpipe *p, struct rpipe_transport tr, int queue_wait_ms);
void rpipe_fini(struct rpipe *p);

/*
 * Runs op (argc, argv, lens, script filled in) and waits for it. 0 with
 * op->reply set (an error reply too, for the caller to judge), or -1 with
 * op->err set: the transport failed, the op waited too long to be sent, or
 * the breaker is open (then at once).
 */
int rpipe_call(struct rpipe *p, struct rpipe_op *op);

/* A transport-level reply that makes the node unusable (READONLY, LOADING,
 * MASTERDOWN): the leader drops the connection after its batch. */
bool rpipe_reply_unusable(const redisReply *r);

enum rpipe_breaker rpipe_breaker_state(struct rpipe *p);

/* For /metrics: each pipe's breaker state, the process's batch sizes and
 * batch round-trip times as Prometheus histograms. */
void rpipe_render_metrics(struct buf *b, struct rpipe *pipes, int n);

/* The parts of rpipe_render_metrics, for a store with pipes to several
 * nodes: the breaker gauge's HELP and TYPE; the breakers of n pipes
 * (labelled node="node" when node is not NULL); the batch histograms. */
void rpipe_render_breaker_head(struct buf *b);
void rpipe_render_breakers(struct buf *b, struct rpipe *pipes, int n, const char *node);
void rpipe_render_batches(struct buf *b);

#endif

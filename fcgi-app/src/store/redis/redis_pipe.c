#include "redis_pipe.h"
#include "atomic.h"

#include "clock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum { RPIPE_QUEUED, RPIPE_SENT, RPIPE_DONE };

/* Batch sizes: upper bounds of the buckets (the last is +Inf). */
static const int size_le[] = {1, 3, 7, 15, 31, 63};
#define NSIZE (sizeof size_le / sizeof size_le[0])
static unsigned long long size_count[NSIZE + 1], size_sum;
/* Batch round trips, nanoseconds (upper bounds). */
static const long long rtt_le_ns[] = {50000,   100000,   250000,   500000,    1000000,
                                      2500000, 10000000, 50000000, 250000000, 1000000000};
#define NRTT (sizeof rtt_le_ns / sizeof rtt_le_ns[0])
static unsigned long long rtt_count[NRTT + 1], rtt_sum_ns;

void rpipe_init(struct rpipe *p, struct rpipe_transport tr, int queue_wait_ms)
{
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->lock, NULL);
    p->tr = tr;
    p->queue_wait_ms = queue_wait_ms > 0 ? queue_wait_ms : 1;
    p->breaker = RPIPE_CLOSED;
}

void rpipe_fini(struct rpipe *p)
{
    p->tr.drop(p->tr.ctx);
    pthread_mutex_destroy(&p->lock);
}

bool rpipe_reply_unusable(const redisReply *r)
{
    return r->type == REDIS_REPLY_ERROR &&
           (strncmp(r->str, "READONLY", 8) == 0 || strncmp(r->str, "LOADING", 7) == 0 ||
            strncmp(r->str, "MASTERDOWN", 10) == 0);
}

enum rpipe_breaker rpipe_breaker_state(struct rpipe *p)
{
    pthread_mutex_lock(&p->lock);
    enum rpipe_breaker b = p->breaker;
    pthread_mutex_unlock(&p->lock);
    return b;
}

static void add(unsigned long long *p, unsigned long long v)
{
    atomic_add(p, v, RELAXED);
}

static unsigned long long get(const unsigned long long *p)
{
    return atomic_get(p, RELAXED);
}

static void batch_booked(int n, long long rtt_ns)
{
    size_t i = 0;
    while (i < NSIZE && n > size_le[i])
        i++;
    add(&size_count[i], 1);
    add(&size_sum, (unsigned long long)n);
    size_t j = 0;
    while (j < NRTT && rtt_ns > rtt_le_ns[j])
        j++;
    add(&rtt_count[j], 1);
    add(&rtt_sum_ns, rtt_ns > 0 ? (unsigned long long)rtt_ns : 0);
}

void rpipe_render_breaker_head(struct buf *b)
{
    buf_puts(b, "# HELP sessionlab_redis_breaker Each connection's circuit breaker: "
                "0 closed, 1 open (failing fast), 2 probing.\n"
                "# TYPE sessionlab_redis_breaker gauge\n");
}

void rpipe_render_breakers(struct buf *b, struct rpipe *pipes, int n, const char *node)
{
    for (int i = 0; i < n; i++) {
        int state = (int)rpipe_breaker_state(&pipes[i]);
        if (node != NULL)
            buf_printf(b, "sessionlab_redis_breaker{node=\"%s\",connection=\"%d\"} %d\n", node, i,
                       state);
        else
            buf_printf(b, "sessionlab_redis_breaker{connection=\"%d\"} %d\n", i, state);
    }
}

void rpipe_render_metrics(struct buf *b, struct rpipe *pipes, int n)
{
    rpipe_render_breaker_head(b);
    rpipe_render_breakers(b, pipes, n, NULL);
    rpipe_render_batches(b);
}

void rpipe_render_batches(struct buf *b)
{
    buf_puts(b, "# HELP sessionlab_redis_batch_size Commands sent in one write.\n"
                "# TYPE sessionlab_redis_batch_size histogram\n");
    unsigned long long cum = 0;
    for (size_t i = 0; i < NSIZE; i++) {
        cum += get(&size_count[i]);
        buf_printf(b, "sessionlab_redis_batch_size_bucket{le=\"%d\"} %llu\n", size_le[i], cum);
    }
    cum += get(&size_count[NSIZE]);
    buf_printf(b,
               "sessionlab_redis_batch_size_bucket{le=\"+Inf\"} %llu\n"
               "sessionlab_redis_batch_size_sum %llu\nsessionlab_redis_batch_size_count %llu\n",
               cum, get(&size_sum), cum);
    buf_puts(
        b,
        "# HELP sessionlab_redis_round_trip_seconds From a batch's write (and connect, when needed) to its last reply.\n"
        "# TYPE sessionlab_redis_round_trip_seconds histogram\n");
    cum = 0;
    for (size_t j = 0; j < NRTT; j++) {
        cum += get(&rtt_count[j]);
        buf_printf(b, "sessionlab_redis_round_trip_seconds_bucket{le=\"%g\"} %llu\n",
                   (double)rtt_le_ns[j] / 1e9, cum);
    }
    cum += get(&rtt_count[NRTT]);
    buf_printf(b,
               "sessionlab_redis_round_trip_seconds_bucket{le=\"+Inf\"} %llu\n"
               "sessionlab_redis_round_trip_seconds_sum %.9f\n"
               "sessionlab_redis_round_trip_seconds_count %llu\n",
               cum, (double)get(&rtt_sum_ns) / 1e9, cum);
}

/* Under lock: false, with op->err set, while the breaker keeps ops away.
 * The first op after the back-off window becomes the probe. */
static bool breaker_admit_locked(struct rpipe *p, struct rpipe_op *op, long long now)
{
    if (p->breaker == RPIPE_CLOSED)
        return true;
    if (p->breaker == RPIPE_OPEN && now >= p->open_until_ms) {
        p->breaker = RPIPE_PROBING;
        p->probe = op;
        return true;
    }
    long long left = p->breaker == RPIPE_OPEN ? p->open_until_ms - now : 0;
    snprintf(op->err, sizeof op->err, "%.440s (not tried again for %lld ms)", p->last_err, left);
    return false;
}

static void breaker_result_locked(struct rpipe *p, bool ok, const char *err)
{
    p->probe = NULL;
    if (ok) {
        p->breaker = RPIPE_CLOSED;
        p->backoff_ms = 0;
        return;
    }
    int b = p->backoff_ms ? p->backoff_ms * 2 : RPIPE_BACKOFF_MIN_MS;
    p->backoff_ms = b > RPIPE_BACKOFF_MAX_MS ? RPIPE_BACKOFF_MAX_MS : b;
    p->open_until_ms = clock_mono_ms() + p->backoff_ms;
    p->breaker = RPIPE_OPEN;
    snprintf(p->last_err, sizeof p->last_err, "%s", err);
}

/* Under lock: pops up to RPIPE_BATCH_MAX queued ops into batch. */
static int take_locked(struct rpipe *p, struct rpipe_op **batch)
{
    int n = 0;
    while (p->head && n < RPIPE_BATCH_MAX) {
        struct rpipe_op *op = p->head;
        p->head = op->next;
        op->state = RPIPE_SENT;
        batch[n++] = op;
    }
    if (!p->head)
        p->tail = NULL;
    return n;
}

/*
 * Without the lock: one round trip for the batch. Returns how many replies
 * arrived (in order) and sets *ok; on a failure err says why and the
 * connection is dropped. A reply that makes the node unusable is handed
 * out but counts as a failure (the connection is dropped after it).
 */
static int run_batch(struct rpipe *p, struct rpipe_op **batch, int n, bool *ok, char *err,
                     size_t errlen)
{
    const struct rpipe_transport *t = &p->tr;
    *ok = false;
    if (t->ensure(t->ctx, err, errlen) < 0 || t->send(t->ctx, batch, n, err, errlen) < 0)
        return 0;
    bool unusable = false;
    for (int i = 0; i < n; i++) {
        redisReply *ok_reply = NULL; /* ASKING's +OK goes first */
        if (batch[i]->asking && t->recv(t->ctx, &ok_reply, err, errlen) < 0)
            return i;
        if (ok_reply != NULL)
            freeReplyObject(ok_reply);
        if (t->recv(t->ctx, &batch[i]->reply, err, errlen) < 0)
            return i;
        if (rpipe_reply_unusable(batch[i]->reply) && !unusable) {
            unusable = true;
            snprintf(err, errlen, "%s", batch[i]->reply->str);
        }
    }
    if (unusable)
        t->drop(t->ctx);
    *ok = !unusable;
    return n;
}

/* Under lock: ops [got, n) failed with err; all are done and woken. */
static void finish_locked(struct rpipe_op **batch, int n, int got, const char *err,
                          const struct rpipe_op *me)
{
    for (int i = 0; i < n; i++) {
        if (i >= got)
            snprintf(batch[i]->err, sizeof batch[i]->err, "%s", err);
        batch[i]->state = RPIPE_DONE;
        if (batch[i] != me)
            pthread_cond_signal(&batch[i]->cond);
    }
}

/* Under lock: sends batches until me is done, then passes the lead on. */
static void lead_locked(struct rpipe *p, struct rpipe_op *me)
{
    while (me->state != RPIPE_DONE) {
        struct rpipe_op *batch[RPIPE_BATCH_MAX];
        int n = take_locked(p, batch), got = 0;
        char err[RPIPE_ERR_MAX] = "";
        if (p->breaker == RPIPE_OPEN) { /* a batch just before this one failed */
            snprintf(err, sizeof err, "%s", p->last_err);
            finish_locked(batch, n, 0, err, me);
            continue;
        }
        pthread_mutex_unlock(&p->lock);
        bool ok;
        long long t0 = clock_mono_ns();
        got = run_batch(p, batch, n, &ok, err, sizeof err);
        batch_booked(n, clock_mono_ns() - t0);
        pthread_mutex_lock(&p->lock);
        finish_locked(batch, n, got, err, me);
        breaker_result_locked(p, ok, err);
    }
    me->lead = false;
    if (p->head) {
        p->head->lead = true;
        pthread_cond_signal(&p->head->cond);
    } else {
        p->leading = false;
    }
}

/* Under lock: unlinks a queued op (it waited too long). */
static void unlink_locked(struct rpipe *p, struct rpipe_op *op)
{
    struct rpipe_op **pp = &p->head, *prev = NULL;
    while (*pp && *pp != op) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp)
        return;
    *pp = op->next;
    if (p->tail == op)
        p->tail = prev;
}

/* Under lock: waits until op is done or leads. A queued op that is not
 * sent within queue_wait_ms leaves the queue and fails. */
static void follow_locked(struct rpipe *p, struct rpipe_op *op)
{
    struct timespec until;
    clock_mono_deadline(&until, p->queue_wait_ms);
    while (op->state != RPIPE_DONE && !op->lead) {
        if (op->state == RPIPE_SENT) {
            pthread_cond_wait(&op->cond, &p->lock); /* the leader finishes it */
            continue;
        }
        if (pthread_cond_timedwait(&op->cond, &p->lock, &until) == ETIMEDOUT &&
            op->state == RPIPE_QUEUED && !op->lead) {
            unlink_locked(p, op);
            op->state = RPIPE_DONE;
            if (p->breaker == RPIPE_PROBING && p->probe == op) {
                p->breaker = RPIPE_OPEN; /* never sent: the next op probes */
                p->open_until_ms = 0;
            }
            snprintf(op->err, sizeof op->err, "redis: waited %d ms for a turn on the connection",
                     p->queue_wait_ms);
        }
    }
}

int rpipe_call(struct rpipe *p, struct rpipe_op *op)
{
    op->reply = NULL;
    op->err[0] = '\0';
    op->lead = false;
    op->next = NULL;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&op->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_lock(&p->lock);
    bool admitted = breaker_admit_locked(p, op, clock_mono_ms());
    if (admitted) {
        op->state = RPIPE_QUEUED;
        if (p->tail)
            p->tail->next = op;
        else
            p->head = op;
        p->tail = op;
        if (!p->leading)
            p->leading = op->lead = true;
        if (!op->lead)
            follow_locked(p, op);
        if (op->lead)
            lead_locked(p, op);
    }
    pthread_mutex_unlock(&p->lock);
    pthread_cond_destroy(&op->cond);
    return admitted && op->err[0] == '\0' && op->reply ? 0 : -1;
}

/* The pipe's batching queue against a fake transport: order, batches,
 * error fan-out, the breaker, the queue deadline. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "redis_pipe.h"

#define SENT_MAX 256

/* Echoes each command's argv[0] back as a string reply. */
static struct fake {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool gate_closed; /* send blocks while set */
    int in_send;      /* a send is waiting at the gate */
    int batches, batch_size[SENT_MAX];
    char *sent[SENT_MAX]; /* argv[0] of every op sent, in order */
    int nsent, nrecv;
    int fail_recv_at;        /* recv number (1-based) that fails; 0: none */
    int fail_ensure;         /* ensure fails this many times */
    const char *error_reply; /* every reply is this error instead */
    int drops;
} fk;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int fk_ensure(void *ctx, char *err, size_t errlen)
{
    (void)ctx;
    pthread_mutex_lock(&fk.lock);
    bool fail = fk.fail_ensure > 0 && fk.fail_ensure--;
    pthread_mutex_unlock(&fk.lock);
    if (fail)
        snprintf(err, errlen, "redis fake: connection refused");
    return fail ? -1 : 0;
}

static int fk_send(void *ctx, struct rpipe_op *const *ops, int n, char *err, size_t errlen)
{
    (void)ctx, (void)err, (void)errlen;
    pthread_mutex_lock(&fk.lock);
    fk.in_send++;
    pthread_cond_broadcast(&fk.cond);
    while (fk.gate_closed)
        pthread_cond_wait(&fk.cond, &fk.lock);
    fk.in_send--;
    fk.batch_size[fk.batches++] = n;
    for (int i = 0; i < n; i++)
        fk.sent[fk.nsent++] = strndup(ops[i]->argv[0], ops[i]->lens[0]);
    pthread_mutex_unlock(&fk.lock);
    return 0;
}

static int fk_recv(void *ctx, redisReply **out, char *err, size_t errlen)
{
    (void)ctx;
    pthread_mutex_lock(&fk.lock);
    int k = fk.nrecv++;
    bool fail = fk.fail_recv_at == k + 1;
    redisReply *r = calloc(1, sizeof *r);
    r->type = fk.error_reply ? REDIS_REPLY_ERROR : REDIS_REPLY_STRING;
    r->str = strdup(fk.error_reply ? fk.error_reply : fk.sent[k]);
    r->len = strlen(r->str);
    pthread_mutex_unlock(&fk.lock);
    if (fail) {
        free(r->str);
        free(r);
        snprintf(err, errlen, "redis fake: timeout after 200 ms");
        return -1;
    }
    *out = r;
    return 0;
}

static void fk_drop(void *ctx)
{
    (void)ctx;
    __atomic_fetch_add(&fk.drops, 1, __ATOMIC_RELAXED);
}

static struct rpipe pipe_;

static void set_up(void)
{
    memset(&fk, 0, sizeof fk);
    pthread_mutex_init(&fk.lock, NULL);
    pthread_cond_init(&fk.cond, NULL);
    rpipe_init(&pipe_,
               (struct rpipe_transport){
                   .ensure = fk_ensure, .send = fk_send, .recv = fk_recv, .drop = fk_drop},
               300);
}

static void tear_down(void)
{
    for (int i = 0; i < fk.nsent; i++)
        free(fk.sent[i]);
}

struct call {
    pthread_t t;
    char name[16];
    struct rpipe_op op;
    int rc;
    long long took_ms;
};

static void *caller(void *arg)
{
    struct call *c = arg;
    c->op.argc = 1;
    c->op.argv[0] = c->name;
    c->op.lens[0] = strlen(c->name);
    long long t0 = now_ms();
    c->rc = rpipe_call(&pipe_, &c->op);
    c->took_ms = now_ms() - t0;
    return NULL;
}

static void start(struct call *c, const char *name)
{
    memset(c, 0, sizeof *c); /* an op's unset fields are zero, as callers make them */
    snprintf(c->name, sizeof c->name, "%s", name);
    pthread_create(&c->t, NULL, caller, c);
}

static void wait_in_send(void)
{
    pthread_mutex_lock(&fk.lock);
    while (fk.in_send == 0)
        pthread_cond_wait(&fk.cond, &fk.lock);
    pthread_mutex_unlock(&fk.lock);
}

static void gate(bool closed)
{
    pthread_mutex_lock(&fk.lock);
    fk.gate_closed = closed;
    pthread_cond_broadcast(&fk.cond);
    pthread_mutex_unlock(&fk.lock);
}

TestSuite(redis_pipe, .init = set_up, .fini = tear_down, .timeout = 20);

Test(redis_pipe, a_lone_call_is_a_batch_of_one)
{
    struct call c;
    start(&c, "PING");
    pthread_join(c.t, NULL);
    cr_assert_eq(c.rc, 0, "%s", c.op.err);
    cr_assert_str_eq(c.op.reply->str, "PING");
    cr_assert_eq(fk.batches, 1);
    cr_assert_eq(fk.batch_size[0], 1);
    freeReplyObject(c.op.reply);
}

Test(redis_pipe, calls_made_during_a_batch_go_together_in_order_and_get_their_own_replies)
{
    struct call first, rest[5];
    gate(true);
    start(&first, "first");
    wait_in_send();
    char name[8];
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof name, "op%d", i);
        start(&rest[i], name);
        usleep(20 * 1000); /* queued in this order */
    }
    gate(false);
    pthread_join(first.t, NULL);
    for (int i = 0; i < 5; i++)
        pthread_join(rest[i].t, NULL);
    cr_assert_eq(fk.batches, 2);
    cr_assert_eq(fk.batch_size[0], 1);
    cr_assert_eq(fk.batch_size[1], 5, "the five queued behind the first went in one batch");
    for (int i = 0; i < 5; i++) {
        snprintf(name, sizeof name, "op%d", i);
        cr_assert_str_eq(fk.sent[1 + i], name, "sent in the order queued");
        cr_assert_eq(rest[i].rc, 0);
        cr_assert_str_eq(rest[i].op.reply->str, name, "each waiter got its own reply");
        freeReplyObject(rest[i].op.reply);
    }
    freeReplyObject(first.op.reply);
}

Test(redis_pipe, a_failure_mid_batch_fails_the_rest_of_it_then_the_breaker_fails_fast)
{
    struct call first, rest[4];
    gate(true);
    start(&first, "first");
    wait_in_send();
    for (int i = 0; i < 4; i++) {
        start(&rest[i], "op");
        usleep(20 * 1000);
    }
    fk.fail_recv_at = 3; /* first, then rest[0] answered; rest[1] times out */
    gate(false);
    pthread_join(first.t, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(rest[i].t, NULL);
    cr_assert_eq(first.rc, 0);
    cr_assert_eq(rest[0].rc, 0, "answered before the failure");
    for (int i = 1; i < 4; i++) {
        cr_assert_eq(rest[i].rc, -1);
        cr_assert(strstr(rest[i].op.err, "timeout after 200 ms"), "%s", rest[i].op.err);
    }
    cr_assert_eq(rpipe_breaker_state(&pipe_), RPIPE_OPEN);
    struct call fast;
    start(&fast, "fast");
    pthread_join(fast.t, NULL);
    cr_assert_eq(fast.rc, -1);
    cr_assert_lt(fast.took_ms, 20, "failed at once: %lld ms", fast.took_ms);
    cr_assert(strstr(fast.op.err, "not tried again"), "%s", fast.op.err);
    cr_assert_eq(fk.nsent, 5, "nothing sent while open");
    usleep((RPIPE_BACKOFF_MIN_MS + 20) * 1000);
    struct call probe;
    start(&probe, "probe");
    pthread_join(probe.t, NULL);
    cr_assert_eq(probe.rc, 0, "the probe after the window: %s", probe.op.err);
    cr_assert_eq(rpipe_breaker_state(&pipe_), RPIPE_CLOSED, "the first success closes it");
    freeReplyObject(first.op.reply);
    freeReplyObject(rest[0].op.reply);
    freeReplyObject(probe.op.reply);
}

Test(redis_pipe, the_back_off_grows_and_is_capped)
{
    fk.fail_ensure = 100;
    struct call c;
    int windows[8];
    for (int i = 0; i < 8; i++) {
        start(&c, "x");
        pthread_join(c.t, NULL);
        cr_assert_eq(c.rc, -1);
        windows[i] = pipe_.backoff_ms;
        pipe_.open_until_ms = 0; /* skip the wait: the next call probes */
    }
    cr_assert_eq(windows[0], 100);
    cr_assert_eq(windows[1], 200);
    cr_assert_eq(windows[2], 400);
    cr_assert_eq(windows[3], 400);
    cr_assert_eq(windows[7], RPIPE_BACKOFF_MAX_MS);
}

Test(redis_pipe, a_queued_call_gives_up_after_its_deadline)
{
    struct call first, late;
    gate(true);
    start(&first, "first");
    wait_in_send();
    start(&late, "late");
    pthread_join(late.t, NULL);
    cr_assert_eq(late.rc, -1);
    cr_assert(strstr(late.op.err, "waited 300 ms"), "%s", late.op.err);
    cr_assert_geq(late.took_ms, 290);
    gate(false);
    pthread_join(first.t, NULL);
    cr_assert_eq(first.rc, 0);
    cr_assert_eq(fk.nsent, 1, "the late call was never sent");
    freeReplyObject(first.op.reply);
}

Test(redis_pipe, a_readonly_reply_drops_the_connection_and_opens_the_breaker)
{
    fk.error_reply = "READONLY You can't write against a read only replica.";
    struct call c;
    start(&c, "EVALSHA");
    pthread_join(c.t, NULL);
    cr_assert_eq(c.rc, 0, "the reply itself is handed out");
    cr_assert_eq(c.op.reply->type, REDIS_REPLY_ERROR);
    cr_assert_eq(fk.drops, 1);
    cr_assert_eq(rpipe_breaker_state(&pipe_), RPIPE_OPEN);
    freeReplyObject(c.op.reply);
}

/* What the memory store's test files share (test_store_memory.c,
 * test_memuser.c, test_memuser_race.c): the store under test, a fake clock,
 * ids by number, a start and stop around each test. Each file is its own
 * test program, so each has its own copy of these statics. */
#ifndef SESSIONLAB_TEST_STORE_MEMORY_FIXTURE_H
#define SESSIONLAB_TEST_STORE_MEMORY_FIXTURE_H

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "store.h"
#include "store_memory.h"

static atomic_llong fake_ms;
static const struct store_ops *ops = &store_memory_ops;
static struct store *st;
static struct session out; /* large: keep it off the stack */

static inline long long fake_now(void)
{
    return atomic_load(&fake_ms);
}

static inline void advance_s(long long s)
{
    atomic_fetch_add(&fake_ms, s * 1000);
}

static inline void make_id(char id[SID_LEN + 1], unsigned n)
{
    snprintf(id, SID_LEN + 1, "%08x%024x", n, 0xabcdefu);
}

/* Starts a store with a fake clock, sessions idling out after ttl and
 * ending max_age (0: never) seconds after their creation. */
static inline void start_aging(long ttl, long max_age, long max_sessions)
{
    struct config cfg;
    char err[128] = "";
    memset(&cfg, 0, sizeof cfg);
    cfg.ttl = ttl;
    cfg.max_age = max_age;
    cfg.max_sessions = max_sessions;
    snprintf(cfg.instance, sizeof cfg.instance, "pod-a");
    atomic_store(&fake_ms, 1000000);
    store_memory_set_clock(fake_now);
    cr_assert_eq(ops->global_init(&cfg, err, sizeof err), 0, "%s", err);
    st = ops->open(&cfg);
    cr_assert_not_null(st);
}

static inline void start(long ttl, long max_sessions)
{
    start_aging(ttl, 0, max_sessions);
}

static inline void stop(void)
{
    ops->close(st);
    ops->global_fini();
    store_memory_set_clock(NULL);
}

/* A thread of the concurrent tests: its ids start at base. */
struct worker {
    pthread_t tid;
    unsigned base;
    int failures;
};

#endif

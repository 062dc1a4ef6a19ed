/* Tests for the memory store (store_memory.c) through store_memory_ops. */
#include "store_memory_fixture.h"

TestSuite(store_memory, .fini = stop);

Test(store_memory, create_then_touch_counts)
{
    char id[SID_LEN + 1];
    start(60, 1000);
    make_id(id, 1);
    cr_assert_eq(ops->create(st, id, "pod-a", &out), 1);
    cr_assert_eq(out.count, 1);
    cr_assert_str_eq(out.id, id);
    cr_assert_not(out.has_value);
    cr_assert_eq(ops->touch(st, id, "pod-a", &out), 1);
    cr_assert_eq(out.count, 2);
    cr_assert_eq(ops->touch(st, id, "pod-a", &out), 1);
    cr_assert_eq(out.count, 3);
    cr_assert_eq(ops->live(st), 1);
}

Test(store_memory, served_by_filled_and_capped)
{
    char id[SID_LEN + 1];
    start(60, 1000);
    make_id(id, 2);
    cr_assert_eq(ops->create(st, id, "pod-a", &out), 1);
    cr_assert_eq(out.served_n, 1);
    cr_assert_str_eq(out.served_by[0], "pod-a");
    for (int i = 0; i < 20; i++)
        cr_assert_eq(ops->touch(st, id, "pod-a", &out), 1);
    cr_assert_eq(out.served_n, SERVED_MAX);
    for (int i = 0; i < SERVED_MAX; i++)
        cr_assert_str_eq(out.served_by[i], "pod-a");
}

Test(store_memory, unknown_and_existing)
{
    char id[SID_LEN + 1];
    start(60, 1000);
    make_id(id, 3);
    cr_assert_eq(ops->touch(st, id, "pod-a", &out), 0);
    cr_assert_eq(ops->destroy(st, id), 0);
    cr_assert_eq(ops->set_value(st, id, "x", 1, 5, false), 0);
    cr_assert_eq(ops->live(st), 0);
    cr_assert_eq(ops->create(st, id, "pod-a", &out), 1);
    cr_assert_eq(ops->create(st, id, "pod-a", &out), 0);
    cr_assert_eq(ops->touch(st, id, "pod-a", &out), 1);
    cr_assert_eq(out.count, 2, "a refused create must not count");
    cr_assert_eq(ops->ping(st), 0);
    cr_assert_not_null(ops->error(st));
}

Test(store_memory, set_value_existing)
{
    char id[SID_LEN + 1];
    start(60, 1000);
    make_id(id, 4);
    cr_assert_eq(ops->create(st, id, "pod-a", &out), 1);
    cr_assert_eq(ops->set_value(st, id, "hello", 5, 1700000000, false), 1);
    cr_assert_eq(ops->touch(st, id, "pod-a", &out), 1);
    cr_assert(out.has_value);
    cr_assert_eq(out.value_len, 5);
    cr_assert_str_eq(out.value, "hello");
    cr_assert_eq(out.value_time, 1700000000);
    cr_assert_eq(out.count, 2);
    cr_assert_eq(ops->set_value(st, id, "", 0, 1700000001, false), 1);
    cr_assert_eq(ops->touch(st, id, "pod-a", &out), 1);
    cr_assert(out.has_value);
    cr_assert_eq(out.value_len, 0);
    cr_assert_str_eq(out.value, "");
}

Test(store_memory, set_value_creates)
{
    char id[SID_LEN + 1];
    start(60, 1000);
    make_id(id, 5);
    cr_assert_eq(ops->set_value(st, id, "v", 1, 42, true), 1);
    cr_assert_eq(ops->live(st), 1);
    cr_assert_eq(ops->create(st, id, "pod-a", &out), 0);
    cr_assert_eq(ops->touch(st, id, "pod-a", &out), 1);
    cr_assert_eq(out.count, 1, "created with count 0, then one view");
    cr_assert_eq(out.served_n, 1);
    cr_assert_str_eq(out.value, "v");
    cr_assert_eq(out.value_time, 42);
}

Test(store_memory, value_with_nul_bytes_round_trips)
{
    char id[SID_LEN + 1];
    static char big[VALUE_MAX];
    const char bin[] = {'a', '\0', 'b', '\0', '\xff'};
    start(60, 1000);
    make_id(id, 6);
    cr_assert_eq(ops->create(st, id, "pod-a", &out), 1);
    cr_assert_eq(ops->set_value(st, id, bin, sizeof bin, 7, false), 1);
    cr_assert_eq(ops->touch(st, id, "pod-a", &out), 1);
    cr_assert_eq(out.value_len, sizeof bin);
    cr_assert_eq(memcmp(out.value, bin, sizeof bin), 0);
    cr_assert_eq(out.value[sizeof bin], '\0');
    memset(big, 'z', sizeof big);
    cr_assert_eq(ops->set_value(st, id, big, sizeof big, 8, false), 1);
    cr_assert_eq(ops->touch(st, id, "pod-a", &out), 1);
    cr_assert_eq(out.value_len, VALUE_MAX);
    cr_assert_eq(memcmp(out.value, big, sizeof big), 0);
    cr_assert_eq(out.value[VALUE_MAX], '\0');
}

Test(store_memory, destroy)
{
    char id[SID_LEN + 1];
    start(60, 1000);
    make_id(id, 7);
    cr_assert_eq(ops->create(st, id, "pod-a", &out), 1);
    cr_assert_eq(ops->set_value(st, id, "v", 1, 1, false), 1);
    cr_assert_eq(ops->destroy(st, id), 1);
    cr_assert_eq(ops->destroy(st, id), 0);
    cr_assert_eq(ops->touch(st, id, "pod-a", &out), 0);
    cr_assert_eq(ops->live(st), 0);
    cr_assert_eq(ops->create(st, id, "pod-a", &out), 1);
    cr_assert_eq(out.count, 1);
    cr_assert_not(out.has_value);
}

Test(store_memory, sliding_ttl_expiry)
{
    char id[SID_LEN + 1];
    start(60, 1000);
    make_id(id, 8);
    cr_assert_eq(ops->create(st, id, "pod-a", &out), 1);
    advance_s(59);
    cr_assert_eq(ops->touch(st, id, "pod-a", &out), 1);
    advance_s(59);
    cr_assert_eq(ops->touch(st, id, "pod-a", &out), 1, "touch slides");
    advance_s(60);
    cr_assert_eq(ops->touch(st, id, "pod-a", &out), 0);
    cr_assert_eq(ops->live(st), 0);
}

Test(store_memory, max_age_ends_a_busy_session)
{
    char id[SID_LEN + 1], id2[SID_LEN + 1];
    start_aging(60, 100, 1000);
    make_id(id, 20);
    make_id(id2, 21);
    cr_assert_eq(ops->create(st, id, "pod-a", &out), 1);
    for (int i = 0; i < 9; i++) {
        advance_s(11);
        cr_assert_eq(ops->touch(st, id, "pod-a", &out), 1, "alive at %d s", (i + 1) * 11);
    }
    cr_assert_eq(ops->set_value(st, id2, "v", 1, 1, true), 1, "set can create");
    advance_s(1); /* 100 s after the create */
    cr_assert_eq(ops->touch(st, id, "pod-a", &out), 0, "ended at max_age however busy");
    cr_assert_eq(ops->set_value(st, id, "v", 1, 1, false), 0);
    advance_s(50);
    cr_assert_eq(ops->touch(st, id2, "pod-a", &out), 1);
    advance_s(48); /* 99 s after id2's creating set: still alive */
    cr_assert_eq(ops->touch(st, id2, "pod-a", &out), 1);
    advance_s(1);
    cr_assert_eq(ops->touch(st, id2, "pod-a", &out), 0, "a set-created session ages too");
    cr_assert_eq(ops->live(st), 0);
}

Test(store_memory, max_age_longer_than_idle_changes_nothing_idle)
{
    char id[SID_LEN + 1];
    start_aging(10, 1000, 1000);
    make_id(id, 22);
    cr_assert_eq(ops->create(st, id, "pod-a", &out), 1);
    advance_s(10);
    cr_assert_eq(ops->touch(st, id, "pod-a", &out), 0, "idle timeout still applies");
}

Test(store_memory, expired_is_missing_for_every_op)
{
    char id[SID_LEN + 1];
    start(10, 1000);
    make_id(id, 9);
    cr_assert_eq(ops->create(st, id, "pod-a", &out), 1);
    advance_s(10);
    cr_assert_eq(ops->set_value(st, id, "v", 1, 1, false), 0);
    cr_assert_eq(ops->destroy(st, id), 0);
    cr_assert_eq(ops->create(st, id, "pod-a", &out), 1);
    cr_assert_eq(out.count, 1);
    advance_s(10);
    cr_assert_eq(ops->set_value(st, id, "v", 1, 1, true), 1);
    cr_assert_eq(ops->touch(st, id, "pod-a", &out), 1);
    cr_assert_eq(out.count, 1, "expired session must not leak its count");
}

Test(store_memory, expiry_reclaims)
{
    char id[SID_LEN + 1];
    start(30, 10000);
    for (unsigned i = 0; i < 5000; i++) {
        make_id(id, i);
        cr_assert_eq(ops->create(st, id, "pod-a", &out), 1);
    }
    make_id(id, 0);
    cr_assert_eq(ops->set_value(st, id, "keep", 4, 1, false), 1);
    cr_assert_eq(ops->live(st), 5000);
    advance_s(29);
    cr_assert_eq(ops->touch(st, id, "pod-a", &out), 1);
    advance_s(1);
    cr_assert_eq(ops->live(st), 1, "all but the touched one reclaimed");
    advance_s(29);
    cr_assert_eq(ops->live(st), 0);
}

Test(store_memory, cap_evicts_least_recently_used)
{
    char id[SID_LEN + 1], keep[SID_LEN + 1];
    start(600, 100);
    make_id(keep, 999999);
    cr_assert_eq(ops->create(st, keep, "pod-a", &out), 1);
    for (unsigned i = 0; i < 1000; i++) {
        make_id(id, i);
        cr_assert_eq(ops->create(st, id, "pod-a", &out), 1);
        cr_assert_eq(ops->touch(st, keep, "pod-a", &out), 1, "MRU evicted");
        cr_assert_leq(ops->live(st), 100);
    }
    cr_assert_eq(ops->live(st), 100);
    make_id(id, 999);
    cr_assert_eq(ops->touch(st, id, "pod-a", &out), 1, "newest evicted");
    int old = 0, survivors = 1;
    for (unsigned i = 0; i < 1000; i++) {
        make_id(id, i);
        int rc = ops->touch(st, id, "pod-a", &out);
        survivors += rc;
        old += i < 500 ? rc : 0;
    }
    cr_assert_eq(survivors, 100);
    cr_assert_eq(old, 0, "an old unused session survived");
}

Test(store_memory, tiny_cap)
{
    char id[SID_LEN + 1];
    start(60, 3);
    for (unsigned i = 0; i < 50; i++) {
        make_id(id, i);
        cr_assert_eq(ops->create(st, id, "pod-a", &out), 1);
        cr_assert_leq(ops->live(st), 3);
    }
    cr_assert_eq(ops->touch(st, id, "pod-a", &out), 1);
}

Test(store_memory, bad_config_refused)
{
    struct config cfg;
    char err[128] = "";
    memset(&cfg, 0, sizeof cfg);
    cfg.ttl = 60;
    cr_assert_eq(ops->global_init(&cfg, err, sizeof err), -1);
    cr_assert_neq(err[0], '\0');
    start(60, 10);
}

#define THREADS 8
#define TOUCHES 10000

static char shared_id[SID_LEN + 1];

static void *touch_worker(void *arg)
{
    struct worker *w = arg;
    static _Thread_local struct session s;
    struct config cfg;
    memset(&cfg, 0, sizeof cfg);
    struct store *h = ops->open(&cfg);
    for (int i = 0; i < TOUCHES; i++)
        w->failures += ops->touch(h, shared_id, "pod-a", &s) != 1;
    ops->close(h);
    return NULL;
}

Test(store_memory, concurrent_touches_count_exactly)
{
    struct worker w[THREADS] = {0};
    start(60, 1000);
    make_id(shared_id, 77);
    cr_assert_eq(ops->create(st, shared_id, "pod-a", &out), 1);
    for (int i = 0; i < THREADS; i++)
        pthread_create(&w[i].tid, NULL, touch_worker, &w[i]);
    for (int i = 0; i < THREADS; i++) {
        pthread_join(w[i].tid, NULL);
        cr_assert_eq(w[i].failures, 0);
    }
    cr_assert_eq(ops->touch(st, shared_id, "pod-a", &out), 1);
    cr_assert_eq(out.count, THREADS * TOUCHES + 2);
}

/* Creates distinct ids, touching, valuing and destroying some of them. */
static void *create_worker(void *arg)
{
    struct worker *w = arg;
    static _Thread_local struct session s;
    char id[SID_LEN + 1];
    struct config cfg;
    memset(&cfg, 0, sizeof cfg);
    struct store *h = ops->open(&cfg);
    for (unsigned i = 0; i < 5000; i++) {
        make_id(id, w->base + i);
        w->failures += ops->create(h, id, "pod-a", &s) != 1;
        w->failures += ops->touch(h, id, "pod-a", &s) < 0;
        if (i % 3 == 0)
            w->failures += ops->set_value(h, id, "v\0w", 3, i, true) != 1;
        if (i % 7 == 0)
            w->failures += ops->destroy(h, id) < 0;
        if (i % 500 == 0)
            w->failures += ops->live(h) > 1000;
        advance_s(i % 100 == 0);
    }
    ops->close(h);
    return NULL;
}

Test(store_memory, concurrent_creates_stay_under_cap)
{
    struct worker w[THREADS] = {0};
    start(60, 1000);
    for (int i = 0; i < THREADS; i++) {
        w[i].base = (unsigned)i * 1000000u;
        pthread_create(&w[i].tid, NULL, create_worker, &w[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(w[i].tid, NULL);
        cr_assert_eq(w[i].failures, 0);
    }
    long long live = ops->live(st);
    cr_assert_gt(live, 0);
    cr_assert_leq(live, 1000);
}

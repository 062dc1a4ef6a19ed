/* Tests for the memory store (store_memory.c) through store_memory_ops. */
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

static long long fake_now(void)
{
    return atomic_load(&fake_ms);
}

static void advance_s(long long s)
{
    atomic_fetch_add(&fake_ms, s * 1000);
}

static void make_id(char id[SID_LEN + 1], unsigned n)
{
    snprintf(id, SID_LEN + 1, "%08x%024x", n, 0xabcdefu);
}

/* Starts a store with a fake clock, sessions idling out after ttl and
 * ending max_age (0: never) seconds after their creation. */
static void start_aging(long ttl, long max_age, long max_sessions)
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

static void start(long ttl, long max_sessions)
{
    start_aging(ttl, 0, max_sessions);
}

static void stop(void)
{
    ops->close(st);
    ops->global_fini();
    store_memory_set_clock(NULL);
}

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

struct worker {
    pthread_t tid;
    unsigned base;
    int failures;
};

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

/* ---- issue 15: login (id rotation), logout, the per-user index, carts ---- */

#include "sid.h"

static int cart_add(struct store *h, const char *id, int item)
{
    return ops->cart(h, id, item, 1, false);
}

Test(store_memory, login_without_a_session_creates_one)
{
    char id[SID_LEN + 1];
    start(60, 1000);
    make_id(id, 100);
    cr_assert_eq(ops->login(st, NULL, id, "alice"), 2);
    cr_assert_eq(ops->touch(st, id, "pod-a", &out), 1);
    cr_assert_eq(out.count, 1, "created with count 0, then one view");
    cr_assert_str_eq(out.user, "alice");
    cr_assert_eq(out.cart[0] + out.cart[1] + out.cart[2], 0);
    cr_assert_eq(store_memory_user_sessions("alice"), 1);
    cr_assert_eq(ops->live(st), 1);
}

Test(store_memory, rotation_moves_everything_and_the_old_id_is_gone)
{
    char old[SID_LEN + 1], id[SID_LEN + 1];
    start(60, 1000);
    make_id(old, 101);
    cr_assert_eq(ops->create(st, old, "pod-a", &out), 1);
    cr_assert_str_eq(out.user, "");
    cr_assert_eq(ops->set_value(st, old, "kept", 4, 1700000000, false), 1);
    cr_assert_eq(cart_add(st, old, 2), 1);
    cr_assert_eq(cart_add(st, old, 2), 1);
    cr_assert_eq(ops->touch(st, old, "pod-a", &out), 1);
    cr_assert_eq(sid_generate_sibling(old, id), 0);
    cr_assert_eq(ops->login(st, old, id, "alice"), 1);
    cr_assert_eq(ops->touch(st, old, "pod-a", &out), 0, "the old id must stop working");
    cr_assert_eq(ops->destroy(st, old), 0);
    cr_assert_eq(ops->touch(st, id, "pod-a", &out), 1);
    cr_assert_str_eq(out.id, id);
    cr_assert_eq(out.count, 3);
    cr_assert_str_eq(out.value, "kept");
    cr_assert_eq(out.value_time, 1700000000);
    cr_assert_eq(out.cart[2], 2);
    cr_assert_str_eq(out.user, "alice");
    cr_assert_eq(ops->live(st), 1);
    cr_assert_eq(store_memory_user_sessions("alice"), 1);
}

Test(store_memory, rotation_keeps_the_absolute_end)
{
    char old[SID_LEN + 1], id[SID_LEN + 1];
    start_aging(60, 100, 1000);
    make_id(old, 102);
    make_id(id, 103);
    cr_assert_eq(ops->create(st, old, "pod-a", &out), 1);
    advance_s(50);
    cr_assert_eq(ops->login(st, old, id, "alice"), 1);
    advance_s(49);
    cr_assert_eq(ops->touch(st, id, "pod-a", &out), 1);
    advance_s(1);
    cr_assert_eq(ops->touch(st, id, "pod-a", &out), 0, "a rotation must not renew max_age");
    cr_assert_eq(store_memory_user_sessions("alice"), 0);
}

Test(store_memory, login_onto_an_existing_id_changes_nothing)
{
    char old[SID_LEN + 1], taken[SID_LEN + 1];
    start(60, 1000);
    make_id(old, 104);
    make_id(taken, 105);
    cr_assert_eq(ops->create(st, old, "pod-a", &out), 1);
    cr_assert_eq(ops->create(st, taken, "pod-a", &out), 1);
    cr_assert_eq(ops->login(st, old, taken, "alice"), 0);
    cr_assert_eq(ops->login(st, NULL, taken, "alice"), 0);
    cr_assert_eq(ops->login(st, old, old, "alice"), 0);
    cr_assert_eq(ops->touch(st, old, "pod-a", &out), 1);
    cr_assert_str_eq(out.user, "");
    cr_assert_eq(ops->touch(st, taken, "pod-a", &out), 1);
    cr_assert_str_eq(out.user, "");
    cr_assert_eq(store_memory_user_sessions("alice"), 0);
}

Test(store_memory, login_with_an_unknown_old_id_creates)
{
    char old[SID_LEN + 1], id[SID_LEN + 1];
    start(60, 1000);
    make_id(old, 106);
    make_id(id, 107);
    cr_assert_eq(ops->login(st, old, id, "bob"), 2);
    cr_assert_eq(ops->touch(st, old, "pod-a", &out), 0, "an unknown id is never adopted");
    cr_assert_eq(ops->touch(st, id, "pod-a", &out), 1);
    cr_assert_str_eq(out.user, "bob");
}

Test(store_memory, login_again_moves_between_users)
{
    char a[SID_LEN + 1], b[SID_LEN + 1], c[SID_LEN + 1];
    start(60, 1000);
    make_id(a, 108);
    make_id(b, 109);
    make_id(c, 110);
    cr_assert_eq(ops->login(st, NULL, a, "alice"), 2);
    cr_assert_eq(ops->login(st, a, b, "bob"), 1);
    cr_assert_eq(store_memory_user_sessions("alice"), 0);
    cr_assert_eq(store_memory_user_sessions("bob"), 1);
    cr_assert_eq(ops->login(st, b, c, "bob"), 1);
    cr_assert_eq(store_memory_user_sessions("bob"), 1);
    cr_assert_eq(ops->touch(st, c, "pod-a", &out), 1);
    cr_assert_str_eq(out.user, "bob");
    cr_assert_eq(ops->live(st), 1);
}

Test(store_memory, logout_deletes_one_session)
{
    char a[SID_LEN + 1], b[SID_LEN + 1];
    long long ended = 99;
    start(60, 1000);
    make_id(a, 111);
    make_id(b, 112);
    cr_assert_eq(ops->logout(st, a, false, &ended), 0);
    cr_assert_eq(ended, 0);
    cr_assert_eq(ops->login(st, NULL, a, "alice"), 2);
    cr_assert_eq(ops->login(st, NULL, b, "alice"), 2);
    cr_assert_eq(ops->logout(st, a, false, &ended), 1);
    cr_assert_eq(ended, 1);
    cr_assert_eq(ops->touch(st, a, "pod-a", &out), 0);
    cr_assert_eq(ops->touch(st, b, "pod-a", &out), 1);
    cr_assert_eq(store_memory_user_sessions("alice"), 1);
    cr_assert_eq(ops->logout(st, b, true, NULL), 1, "ended may be NULL");
    cr_assert_eq(store_memory_user_sessions("alice"), 0);
}

Test(store_memory, logout_everywhere_ends_every_session_of_the_user)
{
    char id[SID_LEN + 1];
    long long ended = 0;
    start(60, 1000);
    for (unsigned i = 0; i < 90; i++) {
        make_id(id, 200 + i);
        cr_assert_eq(ops->login(st, NULL, id, i % 10 == 0 ? "bob" : "alice"), 2);
    }
    make_id(id, 999);
    cr_assert_eq(ops->create(st, id, "pod-a", &out), 1);
    cr_assert_eq(store_memory_user_sessions("alice"), 81);
    make_id(id, 201);
    cr_assert_eq(ops->logout(st, id, true, &ended), 1);
    cr_assert_eq(ended, 81);
    cr_assert_eq(store_memory_user_sessions("alice"), 0);
    cr_assert_eq(store_memory_user_sessions("bob"), 9);
    cr_assert_eq(ops->live(st), 10, "bob's 9 and the anonymous one");
    for (unsigned i = 0; i < 90; i++) {
        make_id(id, 200 + i);
        cr_assert_eq(ops->touch(st, id, "pod-a", &out), i % 10 == 0, "session %u", i);
    }
}

Test(store_memory, logout_everywhere_of_an_anonymous_session_ends_only_it)
{
    char a[SID_LEN + 1], b[SID_LEN + 1];
    long long ended = 0;
    start(60, 1000);
    make_id(a, 113);
    make_id(b, 114);
    cr_assert_eq(ops->create(st, a, "pod-a", &out), 1);
    cr_assert_eq(ops->login(st, NULL, b, "alice"), 2);
    cr_assert_eq(ops->logout(st, a, true, &ended), 1);
    cr_assert_eq(ended, 1);
    cr_assert_eq(ops->touch(st, b, "pod-a", &out), 1);
}

Test(store_memory, index_cleaned_on_expiry_destroy_and_eviction)
{
    char id[SID_LEN + 1];
    start(60, 1000);
    for (unsigned i = 0; i < 5; i++) {
        make_id(id, 300 + i);
        cr_assert_eq(ops->login(st, NULL, id, "alice"), 2);
    }
    make_id(id, 300);
    cr_assert_eq(ops->destroy(st, id), 1);
    cr_assert_eq(store_memory_user_sessions("alice"), 4, "destroy leaves the index");
    make_id(id, 301);
    advance_s(30);
    cr_assert_eq(ops->touch(st, id, "pod-a", &out), 1);
    advance_s(30);
    cr_assert_eq(ops->live(st), 1);
    cr_assert_eq(store_memory_user_sessions("alice"), 1, "expiry leaves the index");
    advance_s(60);
    cr_assert_eq(ops->touch(st, id, "pod-a", &out), 0);
    cr_assert_eq(store_memory_user_sessions("alice"), 0);
}

Test(store_memory, index_cleaned_on_eviction)
{
    char id[SID_LEN + 1];
    start(600, 50);
    for (unsigned i = 0; i < 20; i++) {
        make_id(id, 400 + i);
        cr_assert_eq(ops->login(st, NULL, id, "alice"), 2);
    }
    for (unsigned i = 0; i < 2000; i++) {
        make_id(id, 10000 + i);
        cr_assert_eq(ops->create(st, id, "pod-a", &out), 1);
    }
    cr_assert_eq(store_memory_user_sessions("alice"), 0, "evicted sessions leave the index");
    cr_assert_eq(ops->live(st), 50);
}

Test(store_memory, rotation_into_a_full_shard_evicts_and_keeps_the_cap)
{
    char id[SID_LEN + 1], cur[SID_LEN + 1], next[SID_LEN + 1];
    start(600, 64); /* 64 shards of one entry: nearly every rotation crosses */
    for (unsigned i = 0; i < 64; i++) {
        make_id(id, 500 + i);
        cr_assert_eq(ops->create(st, id, "pod-a", &out), 1);
    }
    make_id(cur, 500);
    cr_assert_eq(ops->set_value(st, cur, "v", 1, 1, true), 1);
    for (int i = 0; i < 200; i++) {
        cr_assert_eq(sid_generate_sibling(cur, next), 0);
        cr_assert_eq(ops->login(st, cur, next, "alice"), 1, "round %d", i);
        cr_assert_leq(ops->live(st), 64);
        memcpy(cur, next, sizeof cur);
    }
    cr_assert_eq(ops->touch(st, cur, "pod-a", &out), 1);
    cr_assert_str_eq(out.value, "v");
    cr_assert_eq(store_memory_user_sessions("alice"), 1);
}

Test(store_memory, user_sessions_max_ends_the_oldest)
{
    char id[SID_LEN + 1];
    start(600, 1000);
    for (unsigned i = 0; i < USER_SESSIONS_MAX; i++) {
        make_id(id, 600 + i);
        cr_assert_eq(ops->login(st, NULL, id, "alice"), 2);
    }
    cr_assert_eq(store_memory_user_sessions("alice"), USER_SESSIONS_MAX);
    make_id(id, 600 + USER_SESSIONS_MAX);
    cr_assert_eq(ops->login(st, NULL, id, "alice"), 2);
    cr_assert_eq(store_memory_user_sessions("alice"), USER_SESSIONS_MAX);
    make_id(id, 600);
    cr_assert_eq(ops->touch(st, id, "pod-a", &out), 0, "the oldest login ended");
    make_id(id, 601);
    cr_assert_eq(ops->touch(st, id, "pod-a", &out), 1);
    /* A re-login makes 601 the newest: 602 is then the oldest. */
    char next[SID_LEN + 1];
    make_id(next, 5000);
    cr_assert_eq(ops->login(st, id, next, "alice"), 1);
    make_id(id, 5001);
    cr_assert_eq(ops->login(st, NULL, id, "alice"), 2);
    cr_assert_eq(ops->touch(st, next, "pod-a", &out), 1);
    make_id(id, 602);
    cr_assert_eq(ops->touch(st, id, "pod-a", &out), 0);
    cr_assert_eq(store_memory_user_sessions("alice"), USER_SESSIONS_MAX);
}

Test(store_memory, cart_ops_and_limits)
{
    char id[SID_LEN + 1], fresh[SID_LEN + 1];
    start(60, 1000);
    make_id(id, 700);
    make_id(fresh, 701);
    cr_assert_eq(ops->cart(st, id, 0, 1, false), 0);
    cr_assert_eq(ops->live(st), 0);
    cr_assert_eq(ops->cart(st, fresh, 1, 1, true), 1);
    cr_assert_eq(ops->touch(st, fresh, "pod-a", &out), 1);
    cr_assert_eq(out.count, 1, "cart-created with count 0");
    cr_assert_eq(out.cart[1], 1);
    cr_assert_eq(ops->create(st, id, "pod-a", &out), 1);
    for (int i = 0; i < CART_LINES_MAX; i++)
        cr_assert_eq(cart_add(st, id, i), 1);
    cr_assert_eq(cart_add(st, id, CART_LINES_MAX), 2, "a line too many");
    for (int i = 1; i < CART_QTY_MAX; i++)
        cr_assert_eq(cart_add(st, id, 0), 1);
    cr_assert_eq(cart_add(st, id, 0), 2, "one too many");
    cr_assert_eq(ops->cart(st, id, 1, -1, false), 1);
    cr_assert_eq(ops->cart(st, id, 1, -1, false), 1, "removing an absent item: a no-op");
    cr_assert_eq(ops->touch(st, id, "pod-a", &out), 1);
    int want[CART_ITEMS] = {CART_QTY_MAX, 0, 1, 1, 1, 0};
    cr_assert_arr_eq(out.cart, want, sizeof want);
}

Test(store_memory, cart_refreshes_the_idle_ttl)
{
    char id[SID_LEN + 1];
    start(60, 1000);
    make_id(id, 702);
    cr_assert_eq(ops->create(st, id, "pod-a", &out), 1);
    advance_s(50);
    cr_assert_eq(cart_add(st, id, 0), 1);
    advance_s(50);
    cr_assert_eq(ops->touch(st, id, "pod-a", &out), 1);
}

#define CART_THREADS 10
#define CART_ADDS 10

static char cart_id[SID_LEN + 1];

struct cart_worker {
    pthread_t tid;
    int item, done, refused, failures;
};

static void *cart_adder(void *arg)
{
    struct cart_worker *w = arg;
    struct config cfg;
    memset(&cfg, 0, sizeof cfg);
    struct store *h = ops->open(&cfg);
    for (int i = 0; i < CART_ADDS; i++) {
        int rc = ops->cart(h, cart_id, w->item, 1, false);
        w->done += rc == 1;
        w->refused += rc == 2;
        w->failures += rc != 1 && rc != 2;
    }
    ops->close(h);
    return NULL;
}

static void run_cart_workers(struct cart_worker *w, int n)
{
    for (int i = 0; i < n; i++)
        pthread_create(&w[i].tid, NULL, cart_adder, &w[i]);
    for (int i = 0; i < n; i++) {
        pthread_join(w[i].tid, NULL);
        cr_assert_eq(w[i].failures, 0);
    }
}

Test(store_memory, concurrent_cart_adds_lose_nothing)
{
    struct cart_worker w[CART_THREADS] = {0};
    start(60, 1000);
    make_id(cart_id, 703);
    cr_assert_eq(ops->create(st, cart_id, "pod-a", &out), 1);
    for (int i = 0; i < CART_THREADS; i++)
        w[i].item = i % 4; /* items 0..3 get 30, 30, 20, 20 */
    run_cart_workers(w, CART_THREADS);
    cr_assert_eq(ops->touch(st, cart_id, "pod-a", &out), 1);
    int want[CART_ITEMS] = {30, 30, 20, 20, 0, 0};
    cr_assert_arr_eq(out.cart, want, sizeof want);
}

Test(store_memory, concurrent_cart_adds_stop_exactly_at_the_limit)
{
    struct cart_worker w[CART_THREADS] = {0};
    start(60, 1000);
    make_id(cart_id, 704);
    cr_assert_eq(ops->create(st, cart_id, "pod-a", &out), 1);
    run_cart_workers(w, CART_THREADS); /* 100 adds of item 0 */
    int done = 0, refused = 0;
    for (int i = 0; i < CART_THREADS; i++)
        done += w[i].done, refused += w[i].refused;
    cr_assert_eq(done, CART_QTY_MAX);
    cr_assert_eq(refused, CART_THREADS * CART_ADDS - CART_QTY_MAX);
    cr_assert_eq(ops->touch(st, cart_id, "pod-a", &out), 1);
    cr_assert_eq(out.cart[0], CART_QTY_MAX);
}

/* Rotation while others touch: the rotator publishes each new id after its
 * login; touchers use the latest. No view may be lost across a re-key, and
 * right after a rotation the old id is gone. */
#define ROTATIONS 3000
#define ROT_TOUCHERS 4

static char rot_ids[2][SID_LEN + 1];
static atomic_int rot_cur;
static atomic_bool rot_done;

struct rot_toucher {
    pthread_t tid;
    long long ok;
};

static void *rot_touch(void *arg)
{
    struct rot_toucher *w = arg;
    static _Thread_local struct session s;
    static _Thread_local char id[SID_LEN + 1];
    struct config cfg;
    memset(&cfg, 0, sizeof cfg);
    struct store *h = ops->open(&cfg);
    while (!atomic_load(&rot_done)) {
        /* Copied under no lock: a torn id is just an unknown id (0). */
        memcpy(id, rot_ids[atomic_load(&rot_cur)], sizeof id);
        w->ok += ops->touch(h, id, "pod-a", &s) == 1;
    }
    ops->close(h);
    return NULL;
}

Test(store_memory, concurrent_rotation_and_touches_lose_no_view)
{
    struct rot_toucher w[ROT_TOUCHERS] = {0};
    int stale = 0;
    start(600, 1000);
    make_id(rot_ids[0], 800);
    atomic_store(&rot_cur, 0);
    atomic_store(&rot_done, false);
    cr_assert_eq(ops->create(st, rot_ids[0], "pod-a", &out), 1);
    for (int i = 0; i < ROT_TOUCHERS; i++)
        pthread_create(&w[i].tid, NULL, rot_touch, &w[i]);
    for (int r = 0; r < ROTATIONS; r++) {
        int c = atomic_load(&rot_cur), n = 1 - c;
        char old[SID_LEN + 1];
        memcpy(old, rot_ids[c], sizeof old);
        cr_assert_eq(sid_generate_sibling(old, rot_ids[n]), 0);
        cr_assert_eq(ops->login(st, old, rot_ids[n], r % 2 ? "alice" : "bob"), 1, "rotation %d", r);
        atomic_store(&rot_cur, n);
        stale += ops->cart(st, old, 0, -1, false) != 0;
    }
    atomic_store(&rot_done, true);
    long long ok = 0;
    for (int i = 0; i < ROT_TOUCHERS; i++) {
        pthread_join(w[i].tid, NULL);
        ok += w[i].ok;
    }
    cr_assert_eq(stale, 0, "an old id still worked after its rotation");
    cr_assert_eq(ops->touch(st, rot_ids[atomic_load(&rot_cur)], "pod-a", &out), 1);
    cr_assert_eq(out.count, 1 + ok + 1, "count %lld, views %lld", out.count, ok);
    cr_assert_eq(ops->live(st), 1);
    cr_assert_eq(store_memory_user_sessions("alice") + store_memory_user_sessions("bob"), 1);
}

/* Everything at once on a small id space, then the index must agree with
 * the table: every session it lists is live and its user's. */
#define MIX_THREADS 4
#define MIX_OPS 20000
#define MIX_IDS 64

static const char *const mix_users[] = {"alice", "bob", "carol"};

static void *mix_worker(void *arg)
{
    struct worker *w = arg;
    static _Thread_local struct session s;
    char a[SID_LEN + 1], b[SID_LEN + 1];
    struct config cfg;
    memset(&cfg, 0, sizeof cfg);
    struct store *h = ops->open(&cfg);
    unsigned x = w->base * 2654435761u + 1;
    for (int i = 0; i < MIX_OPS; i++) {
        x = x * 1103515245u + 12345u;
        make_id(a, (x >> 8) % MIX_IDS);
        make_id(b, (x >> 16) % MIX_IDS);
        const char *u = mix_users[(x >> 24) % 3];
        switch ((x >> 28) % 8) {
        case 0: w->failures += ops->login(h, a, b, u) < 0; break;
        case 1: w->failures += ops->login(h, NULL, b, u) < 0; break;
        case 2: w->failures += ops->logout(h, a, (x & 1) != 0, NULL) < 0; break;
        case 3: w->failures += ops->cart(h, a, (int)(x % CART_ITEMS), (x & 2) ? 1 : -1, true) < 0; break;
        case 4: w->failures += ops->destroy(h, a) < 0; break;
        case 5: w->failures += ops->create(h, a, "pod-a", &s) < 0; break;
        default: w->failures += ops->touch(h, a, "pod-a", &s) < 0; break;
        }
        if (i % 1000 == 0)
            advance_s(1);
    }
    ops->close(h);
    return NULL;
}

Test(store_memory, concurrent_mix_keeps_the_index_consistent)
{
    struct worker w[MIX_THREADS] = {0};
    char id[SID_LEN + 1];
    start(30, 48); /* a cap below the id space: evictions too */
    for (int i = 0; i < MIX_THREADS; i++) {
        w[i].base = (unsigned)i + 1;
        pthread_create(&w[i].tid, NULL, mix_worker, &w[i]);
    }
    for (int i = 0; i < MIX_THREADS; i++) {
        pthread_join(w[i].tid, NULL);
        cr_assert_eq(w[i].failures, 0);
    }
    long per_user[3] = {0};
    for (unsigned i = 0; i < MIX_IDS; i++) {
        make_id(id, i);
        if (ops->touch(st, id, "pod-a", &out) != 1 || !out.user[0])
            continue;
        for (int u = 0; u < 3; u++)
            per_user[u] += strcmp(out.user, mix_users[u]) == 0;
    }
    for (int u = 0; u < 3; u++)
        cr_assert_eq(store_memory_user_sessions(mix_users[u]), per_user[u], "%s", mix_users[u]);
}

/* Log out everywhere racing a rotation of another of the user's sessions
 * (the hostile review's reproduction, 1 in ~20,000 rounds before the fix):
 * a login that rotated (rc 1) ran while its old session existed, so the
 * revocation must end it too — nothing of the user may be left. */
static char race_s1[SID_LEN + 1], race_s2[SID_LEN + 1], race_s2n[SID_LEN + 1];
static pthread_barrier_t race_bar;
static int race_rc;

static void *race_logout_all(void *arg)
{
    long long ended;
    pthread_barrier_wait(&race_bar);
    ops->logout(arg, race_s1, true, &ended);
    return NULL;
}

static void *race_rotate(void *arg)
{
    pthread_barrier_wait(&race_bar);
    race_rc = ops->login(arg, race_s2, race_s2n, "u");
    return NULL;
}

Test(store_memory, log_out_everywhere_ends_a_session_rotating_meanwhile)
{
    start(1000, 1000);
    struct store *other = ops->open(NULL);
    int survivors = 0;
    for (int round = 0; round < 20000; round++) {
        cr_assert_eq(sid_generate(race_s1), 0);
        cr_assert_eq(sid_generate(race_s2), 0);
        cr_assert_eq(sid_generate_sibling(race_s2, race_s2n), 0);
        cr_assert_eq(ops->login(st, NULL, race_s1, "u"), 2);
        cr_assert_eq(ops->login(st, NULL, race_s2, "u"), 2);
        pthread_barrier_init(&race_bar, NULL, 2);
        pthread_t a, b;
        pthread_create(&a, NULL, race_logout_all, st);
        pthread_create(&b, NULL, race_rotate, other);
        pthread_join(a, NULL);
        pthread_join(b, NULL);
        pthread_barrier_destroy(&race_bar);
        long left = store_memory_user_sessions("u");
        survivors += race_rc == 1 && left > 0;
        /* Whatever the order, a new round starts with no session of u. */
        ops->destroy(st, race_s2);
        ops->destroy(st, race_s2n);
        cr_assert_eq(store_memory_user_sessions("u"), 0);
    }
    ops->close(other);
    cr_expect_eq(survivors, 0, "%d rotations outlived log out everywhere", survivors);
}

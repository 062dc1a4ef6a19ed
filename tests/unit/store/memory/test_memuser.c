/* Tests for the memory store's login (id rotation), logout, per-user index
 * (memuser.c) and carts, through store_memory_ops; the races between them
 * are in test_memuser_race.c. */
#include "store_memory_fixture.h"

#include "sid.h"

TestSuite(memuser, .fini = stop);

static int cart_add(struct store *h, const char *id, int item)
{
    return ops->cart(h, id, item, 1, false);
}

Test(memuser, login_without_a_session_creates_one)
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

Test(memuser, rotation_moves_everything_and_the_old_id_is_gone)
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

Test(memuser, rotation_keeps_the_absolute_end)
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

Test(memuser, login_onto_an_existing_id_changes_nothing)
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

Test(memuser, login_with_an_unknown_old_id_creates)
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

Test(memuser, login_again_moves_between_users)
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

Test(memuser, logout_deletes_one_session)
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

Test(memuser, logout_everywhere_ends_every_session_of_the_user)
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

Test(memuser, logout_everywhere_of_an_anonymous_session_ends_only_it)
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

Test(memuser, index_cleaned_on_expiry_destroy_and_eviction)
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

Test(memuser, index_cleaned_on_eviction)
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

Test(memuser, rotation_into_a_full_shard_evicts_and_keeps_the_cap)
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

Test(memuser, user_sessions_max_ends_the_oldest)
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

Test(memuser, cart_ops_and_limits)
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

Test(memuser, cart_refreshes_the_idle_ttl)
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

Test(memuser, concurrent_cart_adds_lose_nothing)
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

Test(memuser, concurrent_cart_adds_stop_exactly_at_the_limit)
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

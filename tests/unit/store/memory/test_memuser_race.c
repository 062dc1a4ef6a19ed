/* Races in the memory store's login (id rotation), logout and per-user
 * index (memuser.c), through store_memory_ops: rotation against touches,
 * every operation at once, log out everywhere against a rotation. */
#include "store_memory_fixture.h"

#include "sid.h"

TestSuite(memuser_race, .fini = stop);

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

Test(memuser_race, concurrent_rotation_and_touches_lose_no_view)
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

Test(memuser_race, concurrent_mix_keeps_the_index_consistent)
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

Test(memuser_race, log_out_everywhere_ends_a_session_rotating_meanwhile)
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

/*
 * The session script (redis_script.c) run through the Redis store
 * (store_redis.c) against a real redis-server, which every test starts on
 * its own unix socket and stops by pid. Without redis-server on PATH the
 * tests are skipped. The reply parsers on hand-made replies:
 * test_redis_script.c.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cart.h"
#include "redis_script.h"
#include "sid.h"
#include "store.h"

extern char **environ;

static struct session out; /* large: keep it off the stack */

/* ---- the script against a real redis-server ---- */

#define PREFIX "t:"

static pid_t redis_pid;
static char sock[64];
static redisContext *cli; /* for looking at keys directly */
static struct store *st;
static struct config cfg;
static const struct store_ops *ops = &store_redis_ops;

static bool redis_on_path(void)
{
    return system("command -v redis-server >/dev/null 2>&1") == 0;
}

static void spawn_redis(void)
{
    char *argv[] = {"redis-server", "--port", "0",          "--unixsocket", sock, "--save", "",
                    "--appendonly", "no",     "--loglevel", "warning",      NULL};
    posix_spawn_file_actions_t fa; /* its startup warnings are noise here */
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    int rc = posix_spawnp(&redis_pid, "redis-server", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    cr_assert_eq(rc, 0, "posix_spawnp redis-server: %s", strerror(rc));
    for (int i = 0; i < 200 && cli == NULL; i++) { /* up to 2 s */
        struct stat sb;
        if (stat(sock, &sb) == 0) {
            cli = redisConnectUnix(sock);
            if (cli != NULL && cli->err) {
                redisFree(cli);
                cli = NULL;
            }
        }
        if (cli == NULL)
            usleep(10000);
    }
    cr_assert_not_null(cli, "redis-server did not come up on %s", sock);
}

static void open_store(long ttl, long max_age)
{
    char url[128], err[256] = "";
    memset(&cfg, 0, sizeof cfg);
    snprintf(url, sizeof url, "unix:%s", sock);
    cr_assert_eq(redis_url_parse(url, &cfg.redis, err, sizeof err), 0, "%s", err);
    snprintf(cfg.redis_prefix, sizeof cfg.redis_prefix, PREFIX);
    cfg.redis_timeout_ms = 2000;
    cfg.redis_connections = 2;
    cfg.ttl = ttl;
    cfg.max_age = max_age;
    cr_assert_eq(ops->global_init(&cfg, err, sizeof err), 0, "%s", err);
    st = ops->open(&cfg);
    cr_assert_not_null(st);
}

static void live_start_aging(long max_age)
{
    if (!redis_on_path())
        cr_skip_test("no redis-server on PATH");
    snprintf(sock, sizeof sock, "/tmp/sessionlab-unit-%d.sock", (int)getpid());
    /* As the server does for the process: a Redis gone mid-write is EPIPE. */
    signal(SIGPIPE, SIG_IGN);
    spawn_redis();
    open_store(1800, max_age);
}

static void live_start(void)
{
    live_start_aging(0);
}

static void live_stop(void)
{
    if (st != NULL) {
        ops->close(st);
        ops->global_fini();
    }
    if (cli != NULL)
        redisFree(cli);
    if (redis_pid > 0) {
        kill(redis_pid, SIGTERM);
        waitpid(redis_pid, NULL, 0);
        unlink(sock);
    }
}

/* A command on the inspection connection; its integer (or element count,
 * or -1 for nil). */
static long long cmd_int(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(cli, fmt, ap);
    va_end(ap);
    cr_assert_not_null(r);
    cr_assert_neq(r->type, REDIS_REPLY_ERROR, "%s", r->str);
    long long v = r->type == REDIS_REPLY_INTEGER ? r->integer
                  : r->type == REDIS_REPLY_ARRAY ? (long long)r->elements
                  : r->type == REDIS_REPLY_NIL   ? -1
                                                 : 0;
    freeReplyObject(r);
    return v;
}

/* HGET key field into buf ("" for nil). */
static const char *hget(const char *key, const char *field)
{
    static char buf[256];
    redisReply *r = redisCommand(cli, "HGET %s %s", key, field);
    cr_assert_not_null(r);
    snprintf(buf, sizeof buf, "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
    return buf;
}

static void key_of(const char *id, char *key)
{
    snprintf(key, 128, PREFIX "{%.4s}%s", id, id);
}

static void new_id(char id[SID_LEN + 1])
{
    cr_assert_eq(sid_generate(id), 0);
}

static void sibling(const char *old, char id[SID_LEN + 1])
{
    cr_assert_eq(sid_generate_sibling(old, id), 0);
}

/* Logs a fresh session in as user; its id in id. */
static void login_fresh(const char *user, char id[SID_LEN + 1])
{
    new_id(id);
    cr_assert_eq(ops->login(st, NULL, id, user), 2, "%s", ops->error(st));
}

static bool in_index(const char *user, const char *id)
{
    return cmd_int("ZSCORE " PREFIX "user:%s %s", user, id) != -1;
}

static const int APPLE = 0, BREAD = 1, MILK = 2;

TestSuite(live, .init = live_start, .fini = live_stop, .timeout = 60);

Test(live, key_layout_has_the_hash_tag)
{
    char id[SID_LEN + 1], key[128];
    new_id(id);
    cr_assert_eq(ops->create(st, id, "pod-a", &out), 1, "%s", ops->error(st));
    key_of(id, key);
    cr_assert_eq(cmd_int("EXISTS %s", key), 1, "%s", key);
    cr_assert_eq(cmd_int("EXISTS " PREFIX "%s", id), 0, "not the old layout");
}

Test(live, login_rotates_keeping_the_data)
{
    char a[SID_LEN + 1], b[SID_LEN + 1], ka[128], kb[128];
    new_id(a);
    cr_assert_eq(ops->create(st, a, "pod-a", &out), 1);
    cr_assert_eq(ops->set_value(st, a, "v1", 2, 1700000000, false), 1);
    cr_assert_eq(ops->cart(st, a, APPLE, 1, false), 1);
    cr_assert_eq(ops->cart(st, a, APPLE, 1, false), 1);
    cr_assert_eq(ops->cart(st, a, MILK, 1, false), 1);
    cr_assert_eq(ops->touch(st, a, "pod-b", &out), 1);
    sibling(a, b);
    cr_assert_eq(ops->login(st, a, b, "alice"), 1, "%s", ops->error(st));
    key_of(a, ka);
    key_of(b, kb);
    cr_assert_eq(cmd_int("EXISTS %s", ka), 0, "the old id is gone at once");
    cr_assert_eq(ops->touch(st, a, "pod-a", &out), 0);
    cr_assert_eq(ops->touch(st, b, "pod-a", &out), 1);
    cr_assert_eq(out.count, 3, "create + touch + this touch; login is no view");
    cr_assert_str_eq(out.value, "v1");
    cr_assert_str_eq(out.user, "alice");
    cr_assert_eq(out.cart[APPLE], 2);
    cr_assert_eq(out.cart[MILK], 1);
    cr_assert_eq(out.served_n, 3);
    cr_assert(in_index("alice", b));
    cr_assert_eq(cmd_int("ZCARD " PREFIX "user:alice"), 1);
    cr_assert_leq(cmd_int("TTL %s", kb), 1800);
    cr_assert_gt(cmd_int("TTL " PREFIX "user:alice"), 1790);
}

Test(live, login_without_session_creates_one)
{
    char a[SID_LEN + 1];
    login_fresh("bob", a);
    cr_assert_eq(ops->touch(st, a, "pod-a", &out), 1);
    cr_assert_eq(out.count, 1);
    cr_assert_str_eq(out.user, "bob");
    cr_assert(!out.has_value);
    cr_assert_eq(cart_lines(out.cart), 0);
    cr_assert_eq(ops->login(st, NULL, a, "bob"), 0, "the new id exists: collision");
    char b[SID_LEN + 1];
    sibling(a, b);
    cr_assert_eq(ops->create(st, b, "pod-a", &out), 1);
    cr_assert_eq(ops->login(st, a, b, "bob"), 0, "collision changes nothing");
    cr_assert_eq(ops->touch(st, a, "pod-a", &out), 1, "old still there");
    cr_assert_str_eq(out.user, "bob");
}

Test(live, login_as_another_user_moves_the_index_entry)
{
    char a[SID_LEN + 1], b[SID_LEN + 1], c[SID_LEN + 1];
    login_fresh("alice", a);
    sibling(a, b);
    cr_assert_eq(ops->login(st, a, b, "bob"), 1);
    cr_assert(!in_index("alice", a));
    cr_assert(!in_index("alice", b));
    cr_assert(in_index("bob", b));
    sibling(b, c);
    cr_assert_eq(ops->login(st, b, c, "bob"), 1, "again, same name: rotates again");
    cr_assert_eq(cmd_int("ZCARD " PREFIX "user:bob"), 1);
    cr_assert(in_index("bob", c));
}

Test(live, logout_all_ends_every_session_of_the_user)
{
    char s[3][SID_LEN + 1], other[SID_LEN + 1], key[128];
    for (int i = 0; i < 3; i++)
        login_fresh("alice", s[i]);
    login_fresh("bob", other);
    long long ended = -1;
    cr_assert_eq(ops->logout(st, s[1], true, &ended), 1, "%s", ops->error(st));
    cr_assert_eq(ended, 3);
    for (int i = 0; i < 3; i++) {
        key_of(s[i], key);
        cr_assert_eq(cmd_int("EXISTS %s", key), 0);
    }
    cr_assert_eq(cmd_int("EXISTS " PREFIX "user:alice"), 0, "the index goes too");
    cr_assert_eq(ops->touch(st, other, "pod-a", &out), 1, "bob is not touched");
    cr_assert_eq(ops->logout(st, s[1], true, &ended), 0);
    cr_assert_eq(ended, 0);
}

Test(live, logout_one_and_destroy_leave_the_index)
{
    char a[SID_LEN + 1], b[SID_LEN + 1], c[SID_LEN + 1];
    login_fresh("carol", a);
    login_fresh("carol", b);
    login_fresh("carol", c);
    long long ended = -1;
    cr_assert_eq(ops->logout(st, a, false, &ended), 1);
    cr_assert_eq(ended, 1);
    cr_assert(!in_index("carol", a));
    cr_assert_eq(ops->destroy(st, b), 1);
    cr_assert(!in_index("carol", b));
    cr_assert_eq(ops->destroy(st, b), 0);
    cr_assert(in_index("carol", c));
    cr_assert_eq(ops->touch(st, c, "pod-a", &out), 1);
    char anon[SID_LEN + 1];
    new_id(anon);
    cr_assert_eq(ops->create(st, anon, "pod-a", &out), 1);
    cr_assert_eq(ops->logout(st, anon, true, &ended), 1, "logged out: only itself");
    cr_assert_eq(ended, 1);
    cr_assert(in_index("carol", c));
}

Test(live, cart_limits_refuse_and_change_nothing)
{
    char a[SID_LEN + 1], key[128];
    new_id(a);
    key_of(a, key);
    cr_assert_eq(ops->cart(st, a, APPLE, 1, false), 0, "absent, not created");
    cr_assert_eq(cmd_int("EXISTS %s", key), 0);
    cr_assert_eq(ops->cart(st, a, BREAD, -1, true), 1, "remove of an absent item: a no-op");
    cr_assert_eq(ops->touch(st, a, "pod-a", &out), 1);
    cr_assert_eq(out.count, 1, "created with count 0");
    for (int i = 0; i < CART_LINES_MAX; i++)
        cr_assert_eq(ops->cart(st, a, i, 1, true), 1);
    char before[256];
    snprintf(before, sizeof before, "%s", hget(key, "cart"));
    cr_assert_eq(ops->cart(st, a, CART_LINES_MAX, 1, true), 2, "a line too many");
    cr_assert_str_eq(hget(key, "cart"), before);
    for (int i = 1; i < CART_QTY_MAX; i++)
        cr_assert_eq(ops->cart(st, a, APPLE, 1, true), 1);
    cr_assert_eq(ops->cart(st, a, APPLE, 1, true), 2, "one too many apples");
    cr_assert_eq(ops->touch(st, a, "pod-a", &out), 1);
    cr_assert_eq(out.cart[APPLE], CART_QTY_MAX);
    cr_assert_eq(ops->cart(st, a, BREAD, -1, true), 1);
    cr_assert_eq(ops->cart(st, a, CART_LINES_MAX, 1, true), 1, "bread left: room for a line");
    cr_assert_eq(ops->touch(st, a, "pod-a", &out), 1);
    cr_assert_eq(out.cart[BREAD], 0);
    cr_assert_eq(out.cart[CART_LINES_MAX], 1);
    cr_assert_eq(cart_lines(out.cart), CART_LINES_MAX);
    cr_assert_eq(ops->cart(st, a, 99, 1, true), -1, "bad item");
}

Test(live, cart_malformed_field_starts_empty)
{
    char a[SID_LEN + 1], key[128];
    new_id(a);
    key_of(a, key);
    cr_assert_eq(ops->create(st, a, "pod-a", &out), 1);
    cmd_int("HSET %s cart %s", key, "apple=3,,junk");
    cr_assert_eq(ops->cart(st, a, MILK, 1, false), 1);
    cr_assert_str_eq(hget(key, "cart"), "milk=1");
}

#define CART_THREADS 4
#define CART_ADDS 20

struct adder {
    const char *id;
    int item;
    int failures;
};

/* One worker's handle adding its item CART_ADDS times. */
static void *add_loop(void *arg)
{
    struct adder *a = arg;
    struct store *h = ops->open(&cfg);
    for (int i = 0; i < CART_ADDS; i++)
        if (h == NULL || ops->cart(h, a->id, a->item, 1, true) != 1)
            a->failures++;
    if (h != NULL)
        ops->close(h);
    return NULL;
}

Test(live, concurrent_cart_adds_lose_nothing)
{
    char a[SID_LEN + 1];
    login_fresh("dave", a);
    pthread_t t[CART_THREADS];
    struct adder ad[CART_THREADS];
    for (int i = 0; i < CART_THREADS; i++) {
        ad[i] = (struct adder){.id = a, .item = i % 2 == 0 ? APPLE : MILK};
        cr_assert_eq(pthread_create(&t[i], NULL, add_loop, &ad[i]), 0);
    }
    for (int i = 0; i < CART_THREADS; i++) {
        pthread_join(t[i], NULL);
        cr_assert_eq(ad[i].failures, 0);
    }
    cr_assert_eq(ops->touch(st, a, "pod-a", &out), 1);
    cr_assert_eq(out.cart[APPLE], CART_THREADS / 2 * CART_ADDS);
    cr_assert_eq(out.cart[MILK], CART_THREADS / 2 * CART_ADDS);
    cr_assert_str_eq(out.user, "dave");
}

Test(live, login_prunes_members_whose_key_expired)
{
    char s[3][SID_LEN + 1], d[SID_LEN + 1], key[128];
    for (int i = 0; i < 3; i++)
        login_fresh("erin", s[i]);
    key_of(s[1], key);
    cmd_int("PEXPIRE %s 1", key);
    usleep(50000);
    cr_assert_eq(cmd_int("EXISTS %s", key), 0);
    cr_assert(in_index("erin", s[1]), "expiry alone leaves the member");
    login_fresh("erin", d);
    cr_assert(!in_index("erin", s[1]), "the next login prunes it");
    cr_assert_eq(cmd_int("ZCARD " PREFIX "user:erin"), 3);
}

Test(live, user_sessions_are_capped_ending_the_oldest)
{
    char first[SID_LEN + 1], id[SID_LEN + 1], key[128];
    login_fresh("frank", first);
    for (int i = 1; i < USER_SESSIONS_MAX; i++)
        login_fresh("frank", id);
    cr_assert_eq(cmd_int("ZCARD " PREFIX "user:frank"), USER_SESSIONS_MAX);
    /* All within a second or so: microsecond scores keep the order. */
    login_fresh("frank", id);
    cr_assert_eq(cmd_int("ZCARD " PREFIX "user:frank"), USER_SESSIONS_MAX);
    key_of(first, key);
    cr_assert_eq(cmd_int("EXISTS %s", key), 0, "the oldest session was ended");
    cr_assert(in_index("frank", id), "the newest is in");
    cr_assert_eq(ops->touch(st, id, "pod-a", &out), 1);
}

Test(live, touch_of_a_logged_in_session_keeps_the_index_alive)
{
    char a[SID_LEN + 1];
    login_fresh("gina", a);
    cmd_int("EXPIRE " PREFIX "user:gina 5");
    cr_assert_eq(ops->touch(st, a, "pod-a", &out), 1);
    cr_assert_gt(cmd_int("TTL " PREFIX "user:gina"), 1790);
    cmd_int("EXPIRE " PREFIX "user:gina 5");
    cr_assert_eq(ops->cart(st, a, BREAD, 1, false), 1);
    cr_assert_gt(cmd_int("TTL " PREFIX "user:gina"), 1790, "cart too");
}

Test(live, lost_script_is_sent_again)
{
    char a[SID_LEN + 1];
    cmd_int("SCRIPT FLUSH");
    login_fresh("hugo", a);
    cr_assert_eq(ops->touch(st, a, "pod-a", &out), 1);
    cr_assert_str_eq(out.user, "hugo");
}

TestSuite(live_max_age, .init = NULL, .fini = live_stop, .timeout = 60);

Test(live_max_age, login_treats_an_aged_session_as_absent, .init = NULL)
{
    live_start_aging(60);
    char a[SID_LEN + 1], b[SID_LEN + 1], key[128];
    login_fresh("ivy", a);
    key_of(a, key);
    cmd_int("HSET %s born %lld", key, (long long)time(NULL) - 120);
    sibling(a, b);
    cr_assert_eq(ops->login(st, a, b, "ivy"), 2, "past max age: created, not rotated");
    cr_assert_eq(cmd_int("EXISTS %s", key), 0);
    cr_assert(!in_index("ivy", a));
    cr_assert(in_index("ivy", b));
    key_of(b, key);
    cr_assert_leq(cmd_int("TTL %s", key), 60, "TTL capped by the lifetime");
    cr_assert_eq(ops->touch(st, b, "pod-a", &out), 1);
    cr_assert_eq(out.count, 1);
}

Test(live, a_refused_cart_change_still_refreshes_the_idle_ttl)
{
    char a[SID_LEN + 1], key[128];
    new_id(a);
    key_of(a, key);
    for (int i = 1; i <= CART_QTY_MAX; i++)
        cr_assert_eq(ops->cart(st, a, APPLE, 1, true), 1);
    cmd_int("EXPIRE %s 5", key);
    cr_assert_eq(ops->cart(st, a, APPLE, 1, false), 2);
    cr_assert_gt(cmd_int("TTL %s", key), 1790, "a 409 is a request of the session, as in memory");
}

/* A session written before the {tag} layout (prefix + id) is adopted by
 * the first operation on its id: renamed, data and TTL kept. */
Test(live, sessions_of_the_old_key_layout_are_adopted)
{
    char a[SID_LEN + 1], b[SID_LEN + 1], key[128];
    new_id(a);
    cmd_int("HSET " PREFIX "%s count 41 served old-pod born 1", a);
    cmd_int("EXPIRE " PREFIX "%s 600", a);
    cr_assert_eq(ops->touch(st, a, "pod-a", &out), 1, "%s", ops->error(st));
    cr_assert_eq(out.count, 42);
    cr_assert_str_eq(out.served_by[1], "old-pod");
    key_of(a, key);
    cr_assert_eq(cmd_int("EXISTS " PREFIX "%s", a), 0, "the old key is gone");
    cr_assert_gt(cmd_int("TTL %s", key), 0);
    /* Logging in with an old-layout cookie rotates it like any session. */
    new_id(b);
    cmd_int("HSET " PREFIX "%s count 7 born 1", b);
    char nb[SID_LEN + 1];
    sibling(b, nb);
    cr_assert_eq(ops->login(st, b, nb, "olga"), 1);
    cr_assert_eq(ops->touch(st, nb, "pod-a", &out), 1);
    cr_assert_eq(out.count, 8);
    cr_assert_str_eq(out.user, "olga");
}

/*
 * Tests for the session script (redis_script.c): its reply parsers on
 * hand-made replies (hostile shapes included), and the script itself run
 * through the Redis store (store_redis.c) against a real redis-server,
 * which every "live" test starts on its own unix socket and stops by pid.
 * Without redis-server on PATH the live tests are skipped.
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

/* ---- hand-made replies ---- */

static redisReply elems[10];
static redisReply *elem_ptrs[10];
static redisReply top;

static void set_str(redisReply *r, const char *s, size_t len)
{
    memset(r, 0, sizeof *r);
    r->type = REDIS_REPLY_STRING;
    r->str = (char *)s;
    r->len = len;
}

static void set_int(redisReply *r, long long v)
{
    memset(r, 0, sizeof *r);
    r->type = REDIS_REPLY_INTEGER;
    r->integer = v;
}

/* A well-formed view: count 3, value "hi" at 42, served by a then b. */
static const redisReply *view(const char *user, const char *cart)
{
    set_int(&elems[0], 3);
    set_int(&elems[1], 1);
    set_str(&elems[2], "hi", 2);
    set_str(&elems[3], "42", 2);
    set_str(&elems[4], "a\nb", 3);
    set_str(&elems[5], user, strlen(user));
    set_str(&elems[6], cart, strlen(cart));
    set_int(&elems[7], 0); /* index_due */
    set_int(&elems[8], 0);
    for (int i = 0; i < 10; i++)
        elem_ptrs[i] = &elems[i];
    memset(&top, 0, sizeof top);
    top.type = REDIS_REPLY_ARRAY;
    top.elements = 8;
    top.element = elem_ptrs;
    return &top;
}

static const char ID[] = "abcd0123456789abcdef0123456789ab";

Test(view, parses_all_eight_fields)
{
    cr_assert_eq(redis_script_view(view("alice", "apple=2,milk=1"), ID, &out, NULL), 0);
    cr_assert_str_eq(out.id, ID);
    cr_assert_eq(out.count, 3);
    cr_assert(out.has_value);
    cr_assert_str_eq(out.value, "hi");
    cr_assert_eq(out.value_time, 42);
    cr_assert_eq(out.served_n, 2);
    cr_assert_str_eq(out.served_by[1], "b");
    cr_assert_str_eq(out.user, "alice");
    cr_assert_eq(out.cart[cart_item_find("apple", 5)], 2);
    cr_assert_eq(out.cart[cart_item_find("milk", 4)], 1);
    cr_assert_eq(out.cart[cart_item_find("bread", 5)], 0);
}

Test(view, index_due_only_for_a_logged_in_session)
{
    bool due = true;
    cr_assert_eq(redis_script_view(view("alice", ""), ID, &out, &due), 0);
    cr_assert_not(due);
    set_int(&elems[7], 1);
    cr_assert_eq(redis_script_view(&top, ID, &out, &due), 0);
    cr_assert(due);
    view("", "");
    set_int(&elems[7], 1);
    cr_assert_eq(redis_script_view(&top, ID, &out, &due), 0);
    cr_assert_not(due, "no user, no index to keep");
    view("a b", ""); /* an invalid name reads as logged out */
    set_int(&elems[7], 1);
    cr_assert_eq(redis_script_view(&top, ID, &out, &due), 0);
    cr_assert_not(due);
}

Test(view, logged_out_and_empty_cart)
{
    memset(&out, 0x55, sizeof out);
    cr_assert_eq(redis_script_view(view("", ""), ID, &out, NULL), 0);
    cr_assert_str_eq(out.user, "");
    for (int i = 0; i < CART_ITEMS; i++)
        cr_assert_eq(out.cart[i], 0);
}

Test(view, old_five_element_shape_is_refused)
{
    const redisReply *r = view("", "");
    top.elements = 5;
    cr_assert_eq(redis_script_view(r, ID, &out, NULL), -1);
    top.elements = 7; /* 0.2's shape, before index_due */
    cr_assert_eq(redis_script_view(r, ID, &out, NULL), -1);
    top.elements = 9;
    cr_assert_eq(redis_script_view(r, ID, &out, NULL), -1);
}

Test(view, wrong_types_are_refused)
{
    for (int i = 0; i < 8; i++) {
        view("alice", "apple=1");
        if (i <= 1 || i == 7)
            set_str(&elems[i], "1", 1); /* count, has_value, index_due must be integers */
        else
            set_int(&elems[i], 1); /* value .. cart must be strings */
        cr_assert_eq(redis_script_view(&top, ID, &out, NULL), -1, "element %d", i);
    }
    view("alice", "");
    elems[5].type = REDIS_REPLY_NIL;
    cr_assert_eq(redis_script_view(&top, ID, &out, NULL), -1);
    view("alice", "");
    elems[6].type = REDIS_REPLY_ARRAY;
    cr_assert_eq(redis_script_view(&top, ID, &out, NULL), -1);
    set_int(&top, 0);
    cr_assert_eq(redis_script_view(&top, ID, &out, NULL), -1);
}

Test(view, bad_user_reads_as_logged_out)
{
    static const char *const bad[] = {
        "a b", "<script>", "al\nice",
        "{x}", "a:b",      "123456789012345678901234567890123", /* 33 bytes: USER_MAX + 1 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(redis_script_view(view(bad[i], ""), ID, &out, NULL), 0, "%s", bad[i]);
        cr_assert_str_eq(out.user, "", "%s", bad[i]);
    }
    static const char nul[] = "ali\0ce";
    view("", "");
    set_str(&elems[5], nul, sizeof nul - 1);
    cr_assert_eq(redis_script_view(&top, ID, &out, NULL), 0);
    cr_assert_str_eq(out.user, "");
    cr_assert_eq(redis_script_view(view("12345678901234567890123456789012", ""), ID, &out, NULL),
                 0);
    cr_assert_str_eq(out.user, "12345678901234567890123456789012", "USER_MAX bytes is fine");
}

Test(view, bad_cart_reads_as_empty)
{
    static const char *const bad[] = {
        "apple", "apple=", "=2", "apple=x", "apple=2,,milk=1", "apple=-1", "apple=2;milk=1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(redis_script_view(view("", bad[i]), ID, &out, NULL), 0, "%s", bad[i]);
        for (int k = 0; k < CART_ITEMS; k++)
            cr_assert_eq(out.cart[k], 0, "%s", bad[i]);
    }
    cr_assert_eq(redis_script_view(view("", "apple=99999999999999999999,durian=3"), ID, &out, NULL),
                 0);
    cr_assert_eq(out.cart[0], CART_QTY_MAX, "clamped");
}

Test(view, long_values_are_bounded)
{
    static char big[3 * VALUE_MAX];
    memset(big, 'v', sizeof big);
    view("", "");
    set_str(&elems[2], big, sizeof big);
    set_str(&elems[4], big, sizeof big); /* one served name of 12 KiB */
    set_str(&elems[6], big, sizeof big); /* a cart of 12 KiB of 'v' */
    cr_assert_eq(redis_script_view(&top, ID, &out, NULL), 0);
    cr_assert_eq(out.value_len, VALUE_MAX);
    cr_assert_eq(strlen(out.value), VALUE_MAX);
    cr_assert_eq(out.served_n, 1);
    cr_assert_eq(strlen(out.served_by[0]), INSTANCE_MAX);
    cr_assert_eq(out.cart[0], 0);
}

Test(view, bad_vtime_is_refused)
{
    view("", "");
    set_str(&elems[3], "12x", 3);
    cr_assert_eq(redis_script_view(&top, ID, &out, NULL), -1);
    set_str(&elems[3], "", 0);
    cr_assert_eq(redis_script_view(&top, ID, &out, NULL), -1);
}

/* A top-level array of n of elems. */
static redisReply *array_of(size_t n)
{
    memset(&top, 0, sizeof top);
    top.type = REDIS_REPLY_ARRAY;
    top.elements = n;
    top.element = elem_ptrs;
    for (int i = 0; i < 10; i++)
        elem_ptrs[i] = &elems[i];
    return &top;
}

Test(logout_reply, shapes)
{
    long long existed = -7, ended = -7;
    char user[USER_MAX + 1];
    array_of(3);
    set_int(&elems[0], 1);
    set_int(&elems[1], 4);
    set_str(&elems[2], "alice", 5);
    cr_assert_eq(redis_script_logout(&top, &existed, &ended, user), 0);
    cr_assert_eq(existed, 1);
    cr_assert_eq(ended, 4);
    cr_assert_str_eq(user, "alice");
    set_str(&elems[2], "", 0);
    cr_assert_eq(redis_script_logout(&top, &existed, &ended, user), 0);
    cr_assert_str_eq(user, "");
    set_str(&elems[2], "a b", 3);
    cr_assert_eq(redis_script_logout(&top, &existed, &ended, user), -1, "not a user name");
    set_str(&elems[2], "", 0);
    set_int(&elems[0], 2);
    cr_assert_eq(redis_script_logout(&top, &existed, &ended, user), -1, "existed is 0 or 1");
    set_int(&elems[0], 1);
    set_int(&elems[1], 0);
    cr_assert_eq(redis_script_logout(&top, &existed, &ended, user), -1, "ended counts its own");
    set_str(&elems[1], "1", 1);
    cr_assert_eq(redis_script_logout(&top, &existed, &ended, user), -1);
    set_int(&elems[1], 1);
    top.elements = 2; /* 0.2's shape */
    cr_assert_eq(redis_script_logout(&top, &existed, &ended, user), -1);
    set_int(&top, 1);
    cr_assert_eq(redis_script_logout(&top, &existed, &ended, user), -1);
}

Test(login_reply, shapes)
{
    int code = -1;
    char prev[USER_MAX + 1];
    array_of(2);
    set_int(&elems[0], 1);
    set_str(&elems[1], "bob", 3);
    cr_assert_eq(redis_script_login(&top, &code, prev), 0);
    cr_assert_eq(code, 1);
    cr_assert_str_eq(prev, "bob");
    set_int(&elems[0], 3);
    cr_assert_eq(redis_script_login(&top, &code, prev), -1, "code is 0..2");
    set_int(&elems[0], 2);
    set_str(&elems[1], "{x}", 3);
    cr_assert_eq(redis_script_login(&top, &code, prev), -1, "prev must be a user name or ''");
    set_int(&top, 2); /* 0.2's plain integer */
    cr_assert_eq(redis_script_login(&top, &code, prev), -1);
}

Test(ids_reply, members_and_pairs)
{
    char ids[4][SID_LEN + 1];
    array_of(5);
    set_str(&elems[0], ID, SID_LEN);
    set_str(&elems[1], "abcd0123456789abcdef0123456789ad", SID_LEN);
    set_str(&elems[2], "not-an-id", 9);
    set_str(&elems[3], "1", 1);
    set_str(&elems[4], "abcd0123456789abcdef0123456789ac", SID_LEN);
    cr_assert_eq(redis_script_ids(&top, 1, ids, 4), 3, "invalid members are skipped");
    cr_assert_str_eq(ids[0], ID);
    cr_assert_str_eq(ids[2], "abcd0123456789abcdef0123456789ac");
    cr_assert_eq(redis_script_ids(&top, 2, ids, 4), 2, "every second element");
    cr_assert_str_eq(ids[1], "abcd0123456789abcdef0123456789ac");
    cr_assert_eq(redis_script_ids(&top, 1, ids, 1), 1, "at most max");
    set_int(&elems[3], 1);
    cr_assert_eq(redis_script_ids(&top, 1, ids, 4), -1, "strings only");
    set_int(&top, 0);
    cr_assert_eq(redis_script_ids(&top, 1, ids, 4), -1);
}

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

/*
 * CLUSTER SLOTS replies and MOVED/ASK redirections (cluster_map.c) on
 * hand-made replies: the shapes Redis 7.0 sends (checked against a real
 * 6-node cluster when these were written) and hostile ones.
 */
#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cluster_map.h"

/* ---- building replies ---- */

static redisReply pool[64];
static redisReply *ptrs[64];
static int used;

static redisReply *r_new(int type)
{
    redisReply *r = &pool[used++];
    memset(r, 0, sizeof *r);
    r->type = type;
    return r;
}

static redisReply *r_int(long long v)
{
    redisReply *r = r_new(REDIS_REPLY_INTEGER);
    r->integer = v;
    return r;
}

static redisReply *r_str(const char *s)
{
    redisReply *r = r_new(REDIS_REPLY_STRING);
    r->str = (char *)s;
    r->len = strlen(s);
    return r;
}

static redisReply *r_err(const char *s)
{
    redisReply *r = r_str(s);
    r->type = REDIS_REPLY_ERROR;
    return r;
}

/* An array of the n replies given. */
static redisReply *r_arr(int n, ...)
{
    static int next_ptr;
    redisReply *r = r_new(REDIS_REPLY_ARRAY);
    va_list ap;
    va_start(ap, n);
    r->element = &ptrs[next_ptr];
    for (int i = 0; i < n; i++)
        ptrs[next_ptr++] = va_arg(ap, redisReply *);
    va_end(ap);
    r->elements = (size_t)n;
    if (next_ptr > 48)
        next_ptr = 0;
    return r;
}

/* {first, last, {host, port, id}, {replica...}} */
static redisReply *range(long long first, long long last, const char *host, long long port)
{
    return r_arr(4, r_int(first), r_int(last), r_arr(3, r_str(host), r_int(port), r_str("id")),
                 r_arr(3, r_str("127.0.0.1"), r_int(7005), r_str("rid")));
}

/* ---- what the walker reports ---- */

static struct {
    unsigned first, last;
    char host[REDIS_HOST_MAX];
    int port;
} seen[8];
static int nseen, stop_after = 100;

static int record(void *ctx, unsigned first, unsigned last, const char *host, int port)
{
    (void)ctx;
    if (nseen >= stop_after)
        return -1;
    seen[nseen].first = first;
    seen[nseen].last = last;
    snprintf(seen[nseen].host, sizeof seen[nseen].host, "%s", host);
    seen[nseen++].port = port;
    return 0;
}

static char err[256];

static void reset(void)
{
    used = 0;
    nseen = 0;
    stop_after = 100;
    err[0] = '\0';
}

TestSuite(cluster_map, .init = reset);

Test(cluster_map, three_primaries)
{
    redisReply *r = r_arr(3, range(0, 5460, "127.0.0.1", 7000), range(5461, 10922, "node-b", 7001),
                          range(10923, 16383, "::1", 7002));
    cr_assert_eq(cluster_map_parse_slots(r, "seed", record, NULL, err, sizeof err), 3, "%s", err);
    cr_assert_eq(nseen, 3);
    cr_assert_eq(seen[1].first, 5461);
    cr_assert_eq(seen[1].last, 10922);
    cr_assert_str_eq(seen[1].host, "node-b");
    cr_assert_eq(seen[1].port, 7001);
    cr_assert_str_eq(seen[2].host, "::1");
}

Test(cluster_map, an_empty_host_is_the_node_asked)
{
    redisReply *r = r_arr(1, range(0, 16383, "", 7000));
    cr_assert_eq(cluster_map_parse_slots(r, "10.1.2.3", record, NULL, err, sizeof err), 1);
    cr_assert_str_eq(seen[0].host, "10.1.2.3");
}

Test(cluster_map, hostile_ranges_are_refused)
{
    struct {
        long long first, last, port;
        const char *host;
    } bad[] = {
        {-1, 5, 7000, "h"}, {0, 16384, 7000, "h"},      {9, 3, 7000, "h"},   {0, 1, 0, "h"},
        {0, 1, 65536, "h"}, {0, 1, 7000, "h;FLUSHALL"}, {0, 1, 7000, "a b"}, {0, 1, 7000, "h\r\n"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        reset();
        redisReply *r = r_arr(1, range(bad[i].first, bad[i].last, bad[i].host, bad[i].port));
        cr_assert_eq(cluster_map_parse_slots(r, "seed", record, NULL, err, sizeof err), -1,
                     "case %zu", i);
        cr_assert_eq(nseen, 0, "case %zu", i);
        cr_assert(strstr(err, "CLUSTER SLOTS") != NULL, "%s", err);
    }
}

Test(cluster_map, hostile_shapes_are_refused)
{
    redisReply *shapes[] = {
        r_int(1),
        r_arr(1, r_int(0)),
        r_arr(1, r_arr(2, r_int(0), r_int(1))),
        r_arr(1, r_arr(3, r_int(0), r_int(1), r_str("h"))),
        r_arr(1, r_arr(3, r_int(0), r_int(1), r_arr(1, r_str("h")))),
        r_arr(1, r_arr(3, r_str("0"), r_int(1), r_arr(2, r_str("h"), r_int(1)))),
        r_arr(1, r_arr(3, r_int(0), r_int(1), r_arr(2, r_int(1), r_int(1)))),
        r_arr(1, r_arr(3, r_int(0), r_int(1), r_arr(2, r_str("h"), r_str("7000")))),
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        cr_assert_eq(cluster_map_parse_slots(shapes[i], "seed", record, NULL, err, sizeof err), -1,
                     "shape %zu", i);
    cr_assert_eq(nseen, 0);
}

Test(cluster_map, an_error_reply_is_named)
{
    redisReply *r = r_err("ERR This instance has cluster support disabled");
    cr_assert_eq(cluster_map_parse_slots(r, "seed", record, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "cluster support disabled") != NULL, "%s", err);
}

Test(cluster_map, the_walker_can_stop_it)
{
    stop_after = 1;
    redisReply *r = r_arr(2, range(0, 1, "h", 1), range(2, 3, "h", 2));
    cr_assert_eq(cluster_map_parse_slots(r, "seed", record, NULL, err, sizeof err), -1);
    cr_assert(strstr(err, "too many nodes") != NULL, "%s", err);
}

/* ---- redirections ---- */

static enum cluster_redirect redirect(const char *text, unsigned *slot, char *host, int *port)
{
    reset();
    return cluster_map_parse_redirect(r_err(text), "asked", slot, host, REDIS_HOST_MAX, port);
}

Test(cluster_map, moved_and_ask)
{
    unsigned slot = 0;
    char host[REDIS_HOST_MAX];
    int port = 0;
    cr_assert_eq(redirect("MOVED 3999 127.0.0.1:6381", &slot, host, &port), CLUSTER_MOVED);
    cr_assert_eq(slot, 3999);
    cr_assert_str_eq(host, "127.0.0.1");
    cr_assert_eq(port, 6381);
    cr_assert_eq(redirect("ASK 16383 node-b:7001", &slot, host, &port), CLUSTER_ASK);
    cr_assert_eq(slot, 16383);
    cr_assert_str_eq(host, "node-b");
    cr_assert_eq(redirect("MOVED 0 ::1:7002", &slot, host, &port), CLUSTER_MOVED);
    cr_assert_str_eq(host, "::1");
    cr_assert_eq(port, 7002);
    cr_assert_eq(redirect("MOVED 12 :7003", &slot, host, &port), CLUSTER_MOVED);
    cr_assert_str_eq(host, "asked", "an empty host is the node asked");
}

Test(cluster_map, other_errors_and_hostile_redirections_are_not_followed)
{
    static const char *const bad[] = {
        "ERR unknown command", "MOVED",         "MOVED ",      "MOVED 16384 h:1",
        "MOVED -1 h:1",        "MOVED 12 h",    "MOVED 12 h:", "MOVED 12 h:0",
        "MOVED 12 h:65536",    "MOVED 12 h:1x", "MOVED x h:1", "MOVED 123456 h:1",
        "ASK 1 a b:1",         "MOVED 1 h;x:1", "TRYAGAIN",    "CLUSTERDOWN The cluster is down",
        "MOVEDX 1 h:1",
    };
    unsigned slot = 0;
    char host[REDIS_HOST_MAX];
    int port = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(redirect(bad[i], &slot, host, &port), CLUSTER_NO_REDIRECT, "%s", bad[i]);
    reset();
    cr_assert_eq(
        cluster_map_parse_redirect(r_str("MOVED 1 h:1"), "a", &slot, host, sizeof host, &port),
        CLUSTER_NO_REDIRECT, "only error replies redirect");
    cr_assert_eq(cluster_map_parse_redirect(NULL, "a", &slot, host, sizeof host, &port),
                 CLUSTER_NO_REDIRECT);
}

Test(cluster_map, a_nil_host_is_the_node_asked_and_a_question_mark_is_skipped)
{
    /* cluster-preferred-endpoint-type unknown-endpoint: nil; "?": nobody knows. */
    redisReply *nil_node = r_arr(3, r_new(REDIS_REPLY_NIL), r_int(7000), r_str("id"));
    redisReply *r = r_arr(2, r_arr(3, r_int(0), r_int(99), nil_node), range(100, 199, "?", 7001));
    cr_assert_eq(cluster_map_parse_slots(r, "10.1.2.3", record, NULL, err, sizeof err), 2, "%s",
                 err);
    cr_assert_eq(nseen, 1, "the '?' range is not reported: its slots stay unknown");
    cr_assert_str_eq(seen[0].host, "10.1.2.3");
    cr_assert_eq(seen[0].last, 99);
}

Test(cluster_map, a_redirection_to_an_unknown_endpoint_is_not_followed)
{
    unsigned slot = 0;
    char host[REDIS_HOST_MAX];
    int port = 0;
    cr_assert_eq(redirect("MOVED 12 ?:7003", &slot, host, &port), CLUSTER_NO_REDIRECT);
}

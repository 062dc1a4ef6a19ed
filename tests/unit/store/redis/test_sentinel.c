/* Tests for sentinel.c: what a sentinel's and a node's replies must look like. */
#include <criterion/criterion.h>
#include <string.h>

#include "sentinel.h"

static redisReply str(const char *s)
{
    redisReply r = { .type = REDIS_REPLY_STRING, .str = (char *)s, .len = strlen(s) };
    return r;
}

static char host[64];
static int port;
static char err[128];

/* Parses a {h, p} array reply. */
static int addr(const char *h, const char *p)
{
    redisReply e[2] = { str(h), str(p) };
    redisReply *el[2] = { &e[0], &e[1] };
    redisReply r = { .type = REDIS_REPLY_ARRAY, .elements = 2, .element = el };
    host[0] = '\0';
    port = 0;
    err[0] = '\0';
    return sentinel_parse_addr(&r, host, sizeof host, &port, err, sizeof err);
}

Test(sentinel, parses_host_and_port)
{
    cr_assert_eq(addr("127.0.0.1", "6380"), 0, "%s", err);
    cr_assert_str_eq(host, "127.0.0.1");
    cr_assert_eq(port, 6380);
    cr_assert_eq(addr("redis-0.redis.default.svc", "1"), 0, "%s", err);
    cr_assert_eq(addr("::1", "65535"), 0, "%s", err);
    cr_assert_str_eq(host, "::1");
}

Test(sentinel, refuses_bad_hosts_and_ports)
{
    cr_assert_eq(addr("", "6379"), -1);
    cr_assert_eq(addr("a b", "6379"), -1);
    cr_assert_eq(addr("h\r\nx", "6379"), -1);
    cr_assert_eq(addr("1:2:zz", "6379"), -1);
    cr_assert_eq(addr("h", "0"), -1);
    cr_assert_eq(addr("h", "65536"), -1);
    cr_assert_eq(addr("h", "-1"), -1);
    cr_assert_eq(addr("h", ""), -1);
    cr_assert_eq(addr("h", "123456"), -1);
    char longhost[200];
    memset(longhost, 'h', sizeof longhost - 1);
    longhost[sizeof longhost - 1] = '\0';
    cr_assert_eq(addr(longhost, "1"), -1, "longer than the caller's buffer");
    cr_assert_eq(port, 0, "nothing written on failure");
}

Test(sentinel, refuses_other_reply_shapes)
{
    redisReply nil = { .type = REDIS_REPLY_NIL };
    cr_assert_eq(sentinel_parse_addr(&nil, host, sizeof host, &port, err, sizeof err), -1);
    cr_assert(strstr(err, "unknown") != NULL, "%s", err);
    redisReply e = { .type = REDIS_REPLY_ERROR, .str = "ERR no such master", .len = 18 };
    cr_assert_eq(sentinel_parse_addr(&e, host, sizeof host, &port, err, sizeof err), -1);
    cr_assert(strstr(err, "no such master") != NULL, "%s", err);
    redisReply one = str("x");
    redisReply *el[1] = { &one };
    redisReply a1 = { .type = REDIS_REPLY_ARRAY, .elements = 1, .element = el };
    cr_assert_eq(sentinel_parse_addr(&a1, host, sizeof host, &port, err, sizeof err), -1);
    redisReply n = { .type = REDIS_REPLY_INTEGER, .integer = 5 };
    redisReply *el2[2] = { &one, &n };
    redisReply a2 = { .type = REDIS_REPLY_ARRAY, .elements = 2, .element = el2 };
    cr_assert_eq(sentinel_parse_addr(&a2, host, sizeof host, &port, err, sizeof err), -1);
    cr_assert_eq(sentinel_parse_addr(NULL, host, sizeof host, &port, err, sizeof err), -1);
}

Test(sentinel, role_must_be_master)
{
    redisReply m = str("master"), s = str("slave"), off = str("0");
    redisReply *el[2] = { &m, &off };
    redisReply r = { .type = REDIS_REPLY_ARRAY, .elements = 2, .element = el };
    cr_assert_eq(sentinel_check_role(&r, err, sizeof err), 0);
    el[0] = &s;
    cr_assert_eq(sentinel_check_role(&r, err, sizeof err), -1);
    cr_assert(strstr(err, "slave") != NULL, "%s", err);
    redisReply empty = { .type = REDIS_REPLY_ARRAY, .elements = 0 };
    cr_assert_eq(sentinel_check_role(&empty, err, sizeof err), -1);
    redisReply e = { .type = REDIS_REPLY_ERROR, .str = "NOAUTH", .len = 6 };
    cr_assert_eq(sentinel_check_role(&e, err, sizeof err), -1);
    cr_assert_eq(sentinel_check_role(NULL, err, sizeof err), -1);
}

Test(sentinel, no_sentinel_answers)
{
    struct redis_url u;
    char why[256];
    int next = 0;
    cr_assert_eq(redis_url_parse("redis-sentinel://127.0.0.1:1,127.0.0.1:2/m", &u, why, sizeof why), 0);
    cr_assert_eq(sentinel_master_addr(&u, 200, &next, host, sizeof host, &port, why, sizeof why), -1);
    cr_assert(strstr(why, "no sentinel named a master 'm'") != NULL, "%s", why);
    cr_assert(strstr(why, "127.0.0.1:2") != NULL, "names the last sentinel tried: %s", why);
}

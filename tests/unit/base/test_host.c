#include <criterion/criterion.h>
#include <string.h>

#include "host.h"

#define VALID(s, v6) host_valid(s, strlen(s), v6)

Test(host, names_take_letters_digits_dot_dash_underscore)
{
    cr_expect(VALID("redis", false));
    cr_expect(VALID("redis-0.redis.default.svc.cluster.local", false));
    cr_expect(VALID("a_b", false));
    cr_expect_not(VALID("", false));
    cr_expect_not(VALID("a b", false));
    cr_expect_not(VALID("evil\r\nhost", false));
    cr_expect_not(VALID("a:b", false), "a ':' is never part of a name");
    cr_expect_not(host_valid("a\0b", 3, false), "a NUL inside ends nothing: refused");
}

Test(host, ipv6_must_parse)
{
    cr_expect(VALID("::1", true));
    cr_expect(VALID("fd00::6379", true));
    cr_expect_not(VALID("::g", true));
    cr_expect_not(VALID("", true));
    char longer[100];
    memset(longer, '1', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    cr_expect_not(VALID(longer, true));
}

Test(host, host_port_brackets_ipv6_only)
{
    char out[64];
    host_port_format(out, sizeof out, "redis", 64, 6379);
    cr_expect_str_eq(out, "redis:6379");
    host_port_format(out, sizeof out, "::1", 64, 26379);
    cr_expect_str_eq(out, "[::1]:26379");
    host_port_format(out, sizeof out, "abcdef", 3, 1);
    cr_expect_str_eq(out, "abc:1", "the host is cut at max bytes");
    host_port_format(out, 6, "redis", 64, 6379);
    cr_expect_str_eq(out, "redis", "cut at the buffer, still terminated");
}

#include <criterion/criterion.h>
#include <string.h>
#include <time.h>

#include "resolve.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

Test(resolve, numeric_addresses_are_copied_without_a_lookup)
{
    char out[RESOLVE_ADDR_MAX], err[256] = "";
    cr_assert_eq(resolve_host("127.0.0.1", 1, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(out, "127.0.0.1");
    cr_assert_eq(resolve_host("::1", 1, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(out, "::1");
}

Test(resolve, localhost_resolves_to_a_loopback_address)
{
    char out[RESOLVE_ADDR_MAX], err[256] = "";
    cr_assert_eq(resolve_host("localhost", 2000, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert(strcmp(out, "127.0.0.1") == 0 || strcmp(out, "::1") == 0, "got %s", out);
}

Test(resolve, a_name_that_never_resolves_fails_within_the_timeout)
{
    char out[RESOLVE_ADDR_MAX], err[256] = "";
    long long t0 = now_ms();
    cr_assert_eq(resolve_host("no-such-host.invalid", 300, out, sizeof out, err, sizeof err), -1);
    long long took = now_ms() - t0;
    cr_assert_lt(took, 1000, "took %lld ms", took);
    cr_assert(strstr(err, "no-such-host.invalid") != NULL, "%s", err);
}

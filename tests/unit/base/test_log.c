#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

static void wait_next_second(void)
{
    struct timespec ts, now;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    do {
        nanosleep(&(struct timespec){.tv_nsec = 5 * 1000000}, NULL);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (now.tv_sec == ts.tv_sec);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

Test(log, limited_writes_a_line_a_second_then_the_count, .init = cr_redirect_stderr)
{
    static struct log_limit lim = LOG_LIMIT_INIT;
    wait_next_second();
    for (int i = 0; i < 1000; i++)
        log_error_limited(&lim, "accept failed: %s", "Success");
    wait_next_second();
    log_error_limited(&lim, "accept failed: %s", "Success");
    fflush(stderr);
    char out[4096] = "";
    FILE *f = cr_get_redirected_stderr();
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    cr_assert_eq(count_lines(out), 2, "got: %s", out);
    cr_assert(strstr(out, "error accept failed: Success\n") != NULL, "got: %s", out);
    cr_assert(strstr(out, "accept failed: Success (999 more like it not logged)\n") != NULL, "got: %s", out);
}

Test(log, limits_are_per_call_site, .init = cr_redirect_stderr)
{
    static struct log_limit a = LOG_LIMIT_INIT, b = LOG_LIMIT_INIT;
    wait_next_second();
    log_info_limited(&a, "one");
    log_info_limited(&b, "two");
    log_info_limited(&a, "one");
    fflush(stderr);
    char out[1024] = "";
    size_t n = fread(out, 1, sizeof out - 1, cr_get_redirected_stderr());
    out[n] = '\0';
    cr_assert_eq(count_lines(out), 2, "got: %s", out);
    cr_assert(strstr(out, "info one\n") && strstr(out, "info two\n"), "got: %s", out);
}

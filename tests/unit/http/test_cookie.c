#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cookie.h"

/* Returns the first value of name in hdr as a fresh string, or NULL. */
static char *first(const char *hdr, const char *name)
{
    static char out[16384];
    const char *cur = hdr, *v;
    size_t n;
    if (!cookie_next(&cur, name, &v, &n))
        return NULL;
    cr_assert_lt(n, sizeof out);
    memcpy(out, v, n);
    out[n] = '\0';
    return out;
}

#define assert_first(hdr, name, want)                                         \
    do {                                                                      \
        char *got_ = first((hdr), (name));                                    \
        cr_assert_not_null(got_, "no %s in [%s]", (name), (hdr));             \
        cr_assert_str_eq(got_, (want));                                       \
    } while (0)

Test(cookie, single)
{
    assert_first("SESSION=abc", "SESSION", "abc");
}

Test(cookie, multiple)
{
    const char *h = "a=1; SESSION=abc; b=2";
    assert_first(h, "a", "1");
    assert_first(h, "SESSION", "abc");
    assert_first(h, "b", "2");
    cr_assert_null(first(h, "c"));
}

Test(cookie, duplicates_in_order)
{
    const char *h = "S=one; x=y; S=two;S=three";
    const char *cur = h, *v;
    size_t n;
    const char *want[] = {"one", "two", "three"};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(cookie_next(&cur, "S", &v, &n), 1);
        cr_assert_eq(n, strlen(want[i]));
        cr_assert_eq(memcmp(v, want[i], n), 0);
    }
    cr_assert_eq(cookie_next(&cur, "S", &v, &n), 0);
    cr_assert_eq(cookie_next(&cur, "S", &v, &n), 0);
}

Test(cookie, value_points_into_header)
{
    const char *h = "a=1; S=xyz";
    const char *cur = h, *v;
    size_t n;
    cr_assert_eq(cookie_next(&cur, "S", &v, &n), 1);
    cr_assert_eq(v, h + 7);
    cr_assert_eq(n, 3);
}

Test(cookie, quotes_stripped)
{
    assert_first("S=\"abc\"", "S", "abc");
    assert_first("S= \"abc\" ; t=1", "S", "abc");
    assert_first("S=\"\"", "S", "");
    assert_first("S=\"a b\"", "S", "a b");
}

Test(cookie, unbalanced_quotes_kept)
{
    assert_first("S=\"abc", "S", "\"abc");
    assert_first("S=abc\"", "S", "abc\"");
    assert_first("S=\"", "S", "\"");
}

Test(cookie, whitespace_trimmed)
{
    assert_first("  S  =  abc  ", "S", "abc");
    assert_first("\tS\t=\tabc\t;x=1", "S", "abc");
    assert_first("x=1;S=abc", "S", "abc");
    assert_first("x=1;   S=abc   ", "S", "abc");
}

Test(cookie, inner_whitespace_kept)
{
    assert_first("S=a b", "S", "a b");
}

Test(cookie, no_equals_is_skipped)
{
    assert_first("S; S=real", "S", "real");
    assert_first("junk;S=v", "S", "v");
    cr_assert_null(first("S", "S"));
    cr_assert_null(first("SESSION", "SESSION"));
}

Test(cookie, empty_value)
{
    assert_first("S=", "S", "");
    assert_first("S=; t=1", "S", "");
    assert_first("S=   ;", "S", "");
}

Test(cookie, empty_names_and_pairs)
{
    assert_first("=x; ;;  ; =; S=ok", "S", "ok");
    cr_assert_null(first("=x", ""));
    cr_assert_null(first(";;;;", "S"));
    cr_assert_null(first("", "S"));
    cr_assert_null(first("=", "S"));
}

Test(cookie, name_is_exact)
{
    cr_assert_null(first("XSESSION=1", "SESSION"));
    cr_assert_null(first("SESSIONX=1", "SESSION"));
    cr_assert_null(first("session=1", "SESSION"));
    cr_assert_null(first("SESS=1", "SESSION"));
    assert_first("XSESSION=1; SESSION=2", "SESSION", "2");
}

Test(cookie, comma_is_not_a_separator)
{
    assert_first("S=a,b", "S", "a,b");
    cr_assert_null(first("a=1, S=2", "S"));
}

Test(cookie, equals_in_value)
{
    assert_first("S=a=b==", "S", "a=b==");
}

Test(cookie, garbage_bytes)
{
    assert_first("\x01\xff\x80=\xfe; S=\xc3\xa9; \x7f", "S", "\xc3\xa9");
    cr_assert_null(first("\xff\xfe\xfd;;==;\x01", "S"));
}

Test(cookie, null_arguments)
{
    const char *cur = NULL, *v;
    size_t n;
    cr_assert_eq(cookie_next(&cur, "S", &v, &n), 0);
    cr_assert_eq(cookie_next(NULL, "S", &v, &n), 0);
    cur = "S=1";
    cr_assert_eq(cookie_next(&cur, NULL, &v, &n), 0);
}

Test(cookie, value_8k)
{
    size_t vl = 8192;
    char *h = malloc(vl + 3);
    cr_assert_not_null(h);
    memcpy(h, "S=", 2);
    memset(h + 2, 'v', vl);
    h[vl + 2] = '\0';
    const char *cur = h, *v;
    size_t n;
    cr_assert_eq(cookie_next(&cur, "S", &v, &n), 1);
    cr_assert_eq(n, vl);
    cr_assert_eq(v, h + 2);
    free(h);
}

Test(cookie, five_thousand_cookies)
{
    enum { N = 5000 };
    char *h = malloc(N * 16 + 32);
    cr_assert_not_null(h);
    size_t off = 0;
    for (int i = 0; i < N; i++)
        off += (size_t)sprintf(h + off, "c%d=%d; ", i, i);
    sprintf(h + off, "S=last");
    assert_first(h, "c0", "0");
    assert_first(h, "c4999", "4999");
    assert_first(h, "S", "last");
    cr_assert_null(first(h, "c5000"));

    const char *cur = h, *v;
    size_t n;
    int count = 0;
    char name[16];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "c%d", i);
        cur = h;
        count += cookie_next(&cur, name, &v, &n);
    }
    cr_assert_eq(count, N);
    free(h);
}

Test(cookie, many_duplicates)
{
    enum { N = 5000 };
    char *h = malloc(N * 8 + 1);
    cr_assert_not_null(h);
    h[0] = '\0';
    size_t off = 0;
    for (int i = 0; i < N; i++)
        off += (size_t)sprintf(h + off, "S=%d;", i % 10);
    const char *cur = h, *v;
    size_t n;
    int count = 0;
    while (cookie_next(&cur, "S", &v, &n)) {
        cr_assert_eq(n, 1);
        cr_assert_eq(*v, '0' + count % 10);
        count++;
    }
    cr_assert_eq(count, N);
    free(h);
}

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"

/* pct_decode of a C string into a 64-byte buffer. */
static long dec(const char *s, char *out, bool plus)
{
    return pct_decode(s, strlen(s), out, 64, plus);
}

Test(pct_decode, plain)
{
    char out[64];
    cr_assert_eq(dec("hello", out, true), 5);
    cr_assert_str_eq(out, "hello");
}

Test(pct_decode, plus)
{
    char out[64];
    cr_assert_eq(dec("a+b", out, true), 3);
    cr_assert_str_eq(out, "a b");
    cr_assert_eq(dec("a+b", out, false), 3);
    cr_assert_str_eq(out, "a+b");
}

Test(pct_decode, escapes)
{
    char out[64];
    cr_assert_eq(dec("a%20b", out, true), 3);
    cr_assert_str_eq(out, "a b");
    cr_assert_eq(dec("1%2B1", out, true), 3);
    cr_assert_str_eq(out, "1+1");
    cr_assert_eq(dec("%2b%2F%c3%A9", out, true), 4);
    cr_assert_str_eq(out, "+/\xc3\xa9");
    cr_assert_eq(dec("%25", out, true), 1);
    cr_assert_str_eq(out, "%");
}

Test(pct_decode, malformed)
{
    char out[64];
    cr_assert_eq(dec("%", out, true), -1);
    cr_assert_eq(dec("%4", out, true), -1);
    cr_assert_eq(dec("%zz", out, true), -1);
    cr_assert_eq(dec("%4z", out, true), -1);
    cr_assert_eq(dec("%z4", out, true), -1);
    cr_assert_eq(dec("ok%", out, true), -1);
    cr_assert_eq(dec("%%41", out, true), -1);
    cr_assert_eq(dec("% 41", out, true), -1);
}

Test(pct_decode, truncated_escape_not_read_past_len)
{
    char out[64];
    /* "%41" but len stops after "%4": must not look at '1'. */
    cr_assert_eq(pct_decode("%41", 2, out, sizeof out, true), -1);
    cr_assert_eq(pct_decode("ab%41", 2, out, sizeof out, true), 2);
    cr_assert_str_eq(out, "ab");
}

Test(pct_decode, empty)
{
    char out[4] = "xyz";
    cr_assert_eq(pct_decode("", 0, out, sizeof out, true), 0);
    cr_assert_str_eq(out, "");
}

Test(pct_decode, nul_preserved)
{
    char out[64];
    cr_assert_eq(dec("a%00b", out, true), 3);
    cr_assert_eq(memcmp(out, "a\0b", 4), 0);
}

Test(pct_decode, fit_and_too_long)
{
    char out[4];
    cr_assert_eq(pct_decode("abc", 3, out, sizeof out, true), 3);
    cr_assert_str_eq(out, "abc");
    cr_assert_eq(pct_decode("abcd", 4, out, sizeof out, true), -2);
    cr_assert_eq(pct_decode("%41%42%43", 9, out, sizeof out, true), 3);
    cr_assert_str_eq(out, "ABC");
    cr_assert_eq(pct_decode("%41%42%43%44", 12, out, sizeof out, true), -2);
}

Test(pct_decode, malformed_after_overflow_wins)
{
    char out[4];
    cr_assert_eq(pct_decode("abcdef%zz", 9, out, sizeof out, true), -1);
}

Test(pct_decode, zero_cap)
{
    char out[1] = {'q'};
    cr_assert_eq(pct_decode("a", 1, out, 0, true), -2);
    cr_assert_eq(pct_decode("", 0, out, 0, true), -2);
    cr_assert_eq(out[0], 'q');
}

Test(pct_decode, cap_one)
{
    char out[1] = {'q'};
    cr_assert_eq(pct_decode("", 0, out, 1, true), 0);
    cr_assert_eq(out[0], '\0');
    cr_assert_eq(pct_decode("a", 1, out, 1, true), -2);
}

/* form_get over a C string body into a VALUE-sized buffer. */
static enum form_result get(const char *body, const char *name, char *out,
                            size_t cap, size_t *n)
{
    return form_get(body, strlen(body), name, out, cap, n);
}

Test(form, basic)
{
    char out[64];
    size_t n;
    cr_assert_eq(get("key=k1&value=hello+world", "key", out, 64, &n),
                 FORM_FOUND);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(out, "k1");
    cr_assert_eq(get("key=k1&value=hello+world", "value", out, 64, &n),
                 FORM_FOUND);
    cr_assert_eq(n, 11);
    cr_assert_str_eq(out, "hello world");
}

Test(form, percent_values)
{
    char out[64];
    size_t n;
    cr_assert_eq(get("v=a%20b%2Bc", "v", out, 64, &n), FORM_FOUND);
    cr_assert_str_eq(out, "a b+c");
}

Test(form, malformed_value)
{
    char out[64];
    size_t n;
    cr_assert_eq(get("v=%", "v", out, 64, &n), FORM_MALFORMED);
    cr_assert_eq(get("v=%4", "v", out, 64, &n), FORM_MALFORMED);
    cr_assert_eq(get("v=%zz", "v", out, 64, &n), FORM_MALFORMED);
    cr_assert_eq(get("v=ok%4&w=1", "v", out, 64, &n), FORM_MALFORMED);
}

Test(form, malformed_other_field_ignored)
{
    char out[64];
    size_t n;
    cr_assert_eq(get("w=%zz&v=ok", "v", out, 64, &n), FORM_FOUND);
    cr_assert_str_eq(out, "ok");
    cr_assert_eq(get("%zz=1&v=ok", "v", out, 64, &n), FORM_FOUND);
}

Test(form, empty_body)
{
    char out[64];
    size_t n = 99;
    cr_assert_eq(form_get("", 0, "v", out, 64, &n), FORM_ABSENT);
    cr_assert_eq(n, 0);
    cr_assert_eq(form_get(NULL, 0, "v", out, 64, &n), FORM_ABSENT);
}

Test(form, missing_field)
{
    char out[64];
    size_t n;
    cr_assert_eq(get("a=1&b=2", "c", out, 64, &n), FORM_ABSENT);
    cr_assert_eq(get("&&&", "c", out, 64, &n), FORM_ABSENT);
    cr_assert_eq(get("==&=", "c", out, 64, &n), FORM_ABSENT);
}

Test(form, name_is_exact)
{
    char out[64];
    size_t n;
    cr_assert_eq(get("xvalue=1", "value", out, 64, &n), FORM_ABSENT);
    cr_assert_eq(get("valuex=1", "value", out, 64, &n), FORM_ABSENT);
    cr_assert_eq(get("Value=1", "value", out, 64, &n), FORM_ABSENT);
    cr_assert_eq(get("valu=1&value=2", "value", out, 64, &n), FORM_FOUND);
    cr_assert_str_eq(out, "2");
}

Test(form, first_of_duplicates)
{
    char out[64];
    size_t n;
    cr_assert_eq(get("v=1&v=2", "v", out, 64, &n), FORM_FOUND);
    cr_assert_str_eq(out, "1");
}

Test(form, empty_value_and_no_equals)
{
    char out[64] = "junk";
    size_t n = 9;
    cr_assert_eq(get("v=&w=1", "v", out, 64, &n), FORM_FOUND);
    cr_assert_eq(n, 0);
    cr_assert_str_eq(out, "");
    cr_assert_eq(get("a=1&v&w=1", "v", out, 64, &n), FORM_FOUND);
    cr_assert_eq(n, 0);
}

Test(form, equals_in_value)
{
    char out[64];
    size_t n;
    cr_assert_eq(get("v=a=b", "v", out, 64, &n), FORM_FOUND);
    cr_assert_str_eq(out, "a=b");
}

Test(form, semicolon_is_not_a_separator)
{
    char out[64];
    size_t n;
    cr_assert_eq(get("a=1;v=2", "v", out, 64, &n), FORM_ABSENT);
    cr_assert_eq(get("v=1;w=2", "v", out, 64, &n), FORM_FOUND);
    cr_assert_str_eq(out, "1;w=2");
}

Test(form, encoded_name)
{
    char out[64];
    size_t n;
    cr_assert_eq(get("%76alue=x", "value", out, 64, &n), FORM_FOUND);
    cr_assert_str_eq(out, "x");
    cr_assert_eq(get("my+key=x", "my key", out, 64, &n), FORM_FOUND);
    cr_assert_eq(get("my%20key=y", "my key", out, 64, &n), FORM_FOUND);
    cr_assert_str_eq(out, "y");
    cr_assert_eq(get("v%00=x", "v", out, 64, &n), FORM_ABSENT);
}

Test(form, long_name_skipped)
{
    char body[256], name[80], out[16];
    size_t n;
    memset(name, 'k', 65);
    name[65] = '\0';
    snprintf(body, sizeof body, "%s=1&k=2", name);
    cr_assert_eq(get(body, name, out, sizeof out, &n), FORM_ABSENT);
    cr_assert_eq(get(body, "k", out, sizeof out, &n), FORM_FOUND);
    cr_assert_str_eq(out, "2");

    name[64] = '\0'; /* 64 bytes is still allowed */
    snprintf(body, sizeof body, "%s=ok", name);
    cr_assert_eq(get(body, name, out, sizeof out, &n), FORM_FOUND);
    cr_assert_str_eq(out, "ok");
}

Test(form, value_exactly_dstcap_minus_one_fits)
{
    enum { CAP = 4096 };
    char *body = malloc(CAP + 8), *out = malloc(CAP);
    size_t n;
    memcpy(body, "v=", 2);
    memset(body + 2, 'a', CAP - 1);
    cr_assert_eq(form_get(body, 2 + CAP - 1, "v", out, CAP, &n), FORM_FOUND);
    cr_assert_eq(n, CAP - 1);
    cr_assert_eq(out[CAP - 1], '\0');
    body[2 + CAP - 1] = 'a';
    cr_assert_eq(form_get(body, 2 + CAP, "v", out, CAP, &n), FORM_TOO_LONG);
    free(body);
    free(out);
}

Test(form, nul_via_percent_00)
{
    char out[64];
    size_t n;
    cr_assert_eq(get("v=a%00b&w=1", "v", out, 64, &n), FORM_FOUND);
    cr_assert_eq(n, 3);
    cr_assert_eq(memcmp(out, "a\0b", 3), 0);
}

Test(form, never_reads_past_len)
{
    /* Exact-size heap buffer, not NUL-terminated: ASan catches overreads. */
    const char src[] = "a=1&v=%4";
    size_t len = sizeof src - 1;
    char *body = malloc(len), out[16];
    size_t n;
    memcpy(body, src, len);
    cr_assert_eq(form_get(body, len, "v", out, sizeof out, &n),
                 FORM_MALFORMED);
    cr_assert_eq(form_get(body, len - 2, "v", out, sizeof out, &n),
                 FORM_FOUND);
    cr_assert_eq(n, 0);
    cr_assert_eq(form_get(body, len, "zz", out, sizeof out, &n),
                 FORM_ABSENT);
    free(body);
}

Test(form, never_writes_past_dstcap)
{
    char *out = malloc(3);
    size_t n;
    cr_assert_eq(get("v=ab", "v", out, 3, &n), FORM_FOUND);
    cr_assert_str_eq(out, "ab");
    cr_assert_eq(get("v=abc", "v", out, 3, &n), FORM_TOO_LONG);
    cr_assert_eq(get("v=%41%42%43%44%45", "v", out, 3, &n), FORM_TOO_LONG);
    free(out);
}

Test(form, garbage_body)
{
    char body[512], out[32];
    size_t n;
    for (int i = 0; i < 512; i++)
        body[i] = (char)(i * 37 + 11);
    cr_assert_geq(form_get(body, sizeof body, "v", out, sizeof out, &n),
                  FORM_TOO_LONG);
}

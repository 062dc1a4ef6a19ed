#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "sid.h"

Test(sid, generate_has_length_and_nul)
{
    char id[SID_LEN + 1];
    memset(id, 'X', sizeof id);
    cr_assert_eq(sid_generate(id), 0);
    cr_assert_eq(strlen(id), SID_LEN);
    cr_assert_eq(id[SID_LEN], '\0');
}

Test(sid, generate_is_lowercase_hex)
{
    for (int n = 0; n < 1000; n++) {
        char id[SID_LEN + 1];
        cr_assert_eq(sid_generate(id), 0);
        for (size_t i = 0; i < SID_LEN; i++)
            cr_assert(strchr("0123456789abcdef", id[i]) != NULL && id[i],
                      "bad char %c in %s", id[i], id);
        cr_assert(sid_valid(id, strlen(id)));
    }
}

static int cmp_sid(const void *a, const void *b)
{
    return memcmp(a, b, SID_LEN);
}

Test(sid, unique_over_10000)
{
    enum { N = 10000 };
    char (*ids)[SID_LEN + 1] = calloc(N, sizeof *ids);
    cr_assert_not_null(ids);
    for (int i = 0; i < N; i++)
        cr_assert_eq(sid_generate(ids[i]), 0);
    qsort(ids, N, sizeof *ids, cmp_sid);
    for (int i = 1; i < N; i++)
        cr_assert_neq(memcmp(ids[i - 1], ids[i], SID_LEN), 0,
                      "duplicate id %s", ids[i]);
    free(ids);
}

Test(sid, all_hex_digits_appear)
{
    int seen[256] = {0};
    for (int n = 0; n < 200; n++) {
        char id[SID_LEN + 1];
        cr_assert_eq(sid_generate(id), 0);
        for (size_t i = 0; i < SID_LEN; i++)
            seen[(unsigned char)id[i]] = 1;
    }
    for (const char *p = "0123456789abcdef"; *p; p++)
        cr_assert(seen[(unsigned char)*p], "digit %c never produced", *p);
}

Test(sid, valid_accepts_good)
{
    cr_assert(sid_valid("0123456789abcdef0123456789abcdef", SID_LEN));
    cr_assert(sid_valid("ffffffffffffffffffffffffffffffff", SID_LEN));
    cr_assert(sid_valid("00000000000000000000000000000000", SID_LEN));
}

Test(sid, valid_uses_len_not_nul)
{
    /* Only the first SID_LEN bytes are looked at. */
    cr_assert(sid_valid("0123456789abcdef0123456789abcdefZZZ", SID_LEN));
}

Test(sid, valid_rejects_uppercase)
{
    cr_assert_not(sid_valid("0123456789ABCDEF0123456789abcdef", SID_LEN));
    cr_assert_not(sid_valid("0123456789abcdef0123456789abcdeF", SID_LEN));
}

Test(sid, valid_rejects_short_and_long)
{
    const char *s = "0123456789abcdef0123456789abcdef0";
    cr_assert_not(sid_valid(s, SID_LEN - 1));
    cr_assert_not(sid_valid(s, SID_LEN + 1));
    cr_assert_not(sid_valid("", 0));
    cr_assert_not(sid_valid("abc", 3));
}

Test(sid, valid_rejects_bad_chars)
{
    cr_assert_not(sid_valid("0123456789abcdef0123456789abcde*", SID_LEN));
    cr_assert_not(sid_valid("..23456789abcdef0123456789abcdef", SID_LEN));
    cr_assert_not(sid_valid("../../../../etc/passwd0123456789", SID_LEN));
    cr_assert_not(sid_valid("0123456789abcdef 123456789abcdef", SID_LEN));
    cr_assert_not(sid_valid(" 0123456789abcdef0123456789abcde", SID_LEN));
    cr_assert_not(sid_valid("0123456789abcdefg123456789abcdef", SID_LEN));
    cr_assert_not(sid_valid("0123456789abcdef\n123456789abcdef", SID_LEN));
    cr_assert_not(sid_valid("0123456789abcdef\xff" "123456789abcdef", SID_LEN));
}

Test(sid, valid_rejects_nul_inside)
{
    char s[SID_LEN + 1] = "0123456789abcdef0123456789abcdef";
    s[10] = '\0';
    cr_assert_not(sid_valid(s, SID_LEN));
    s[10] = 'a';
    s[SID_LEN - 1] = '\0';
    cr_assert_not(sid_valid(s, SID_LEN));
}

Test(sid, sibling_keeps_the_tag_and_renews_the_rest)
{
    char old[SID_LEN + 1], sib[SID_LEN + 1];
    cr_assert_eq(sid_generate(old), 0);
    for (int n = 0; n < 1000; n++) {
        cr_assert_eq(sid_generate_sibling(old, sib), 0);
        cr_assert(sid_valid(sib, strlen(sib)), "%s", sib);
        cr_assert_eq(memcmp(sib, old, SID_TAG_LEN), 0, "%s vs %s", sib, old);
        cr_assert_neq(memcmp(sib + SID_TAG_LEN, old + SID_TAG_LEN, SID_LEN - SID_TAG_LEN), 0);
    }
}

Test(sid, siblings_differ_from_each_other)
{
    enum { N = 2000 };
    char old[SID_LEN + 1] = "0123456789abcdef0123456789abcdef";
    char (*ids)[SID_LEN + 1] = calloc(N, sizeof *ids);
    cr_assert_not_null(ids);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(sid_generate_sibling(old, ids[i]), 0);
        cr_assert_eq(memcmp(ids[i], "0123", 4), 0);
    }
    qsort(ids, N, sizeof *ids, cmp_sid);
    for (int i = 1; i < N; i++)
        cr_assert_neq(memcmp(ids[i - 1], ids[i], SID_LEN), 0, "duplicate %s", ids[i]);
    free(ids);
}

Test(sid, sibling_may_overwrite_its_source)
{
    char id[SID_LEN + 1], before[SID_LEN + 1];
    cr_assert_eq(sid_generate(id), 0);
    memcpy(before, id, sizeof id);
    cr_assert_eq(sid_generate_sibling(id, id), 0);
    cr_assert(sid_valid(id, SID_LEN));
    cr_assert_eq(memcmp(id, before, SID_TAG_LEN), 0);
    cr_assert_neq(memcmp(id, before, SID_LEN), 0);
}

/* Tests for demo user names (user.c). */
#include <criterion/criterion.h>
#include <string.h>

#include "user.h"

static bool valid(const char *s)
{
    return user_name_valid(s, strlen(s));
}

Test(user, accepts_the_allowed_characters)
{
    cr_assert(valid("alice"));
    cr_assert(valid("A"));
    cr_assert(valid("Bob_the-2nd.x"));
    cr_assert(valid("..."));
    cr_assert(valid("-"));
    cr_assert(valid("0123456789"));
    cr_assert(valid("abcdefghijklmnopqrstuvwxyzABCDEF"), "32 bytes");
    cr_assert_not(valid("abcdefghijklmnopqrstuvwxyzABCDEFG"), "33 bytes");
}

Test(user, length_bounds)
{
    char name[USER_MAX + 2];
    memset(name, 'a', sizeof name);
    cr_assert_not(user_name_valid(name, 0));
    cr_assert(user_name_valid(name, 1));
    cr_assert(user_name_valid(name, USER_MAX));
    cr_assert_not(user_name_valid(name, USER_MAX + 1));
    cr_assert_not(user_name_valid(NULL, 3));
}

Test(user, refuses_everything_else)
{
    const char *bad[] = {"a b", "a<b", "a\"b", "a'b", "a&b", "a/b", "a\\b", "a=b", "a,b",
                         "a+b", "a%b", "a:b", "a;b", "\xc3\xa9t\xc3\xa9", "a\tb", "a\nb", "@"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_not(valid(bad[i]), "'%s' accepted", bad[i]);
    cr_assert_not(user_name_valid("ab\0c", 4), "a NUL inside");
    cr_assert(user_name_valid("ab\0c", 2), "only len bytes are read");
}

Test(user, every_byte_alone)
{
    for (int c = 0; c < 256; c++) {
        char s[1] = {(char)c};
        bool want = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
        cr_assert_eq(user_name_valid(s, 1), want, "byte %d", c);
    }
}

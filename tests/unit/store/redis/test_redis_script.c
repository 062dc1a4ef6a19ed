/*
 * Tests for the session script's reply parsers (redis_script_reply.c) on
 * hand-made replies, hostile shapes included. The script itself against a
 * real redis-server: test_redis_live.c.
 */
#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cart.h"
#include "redis_script.h"
#include "sid.h"
#include "store.h"

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

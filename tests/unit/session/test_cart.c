/* Tests for the catalogue, cart_apply's limits and the cart's text form. */
#include <criterion/criterion.h>
#include <string.h>

#include "cart.h"

static int decode(const char *s, int qty[CART_ITEMS])
{
    return cart_decode(s, strlen(s), qty);
}

Test(cart, catalogue_in_contract_order)
{
    const char *want[] = {"apple", "bread", "milk", "eggs", "cheese", "coffee"};
    for (int i = 0; i < CART_ITEMS; i++) {
        cr_assert_str_eq(cart_catalogue[i], want[i]);
        cr_assert_eq(cart_item_find(want[i], strlen(want[i])), i);
    }
}

Test(cart, item_find_is_exact)
{
    cr_assert_eq(cart_item_find("appl", 4), -1);
    cr_assert_eq(cart_item_find("apples", 6), -1);
    cr_assert_eq(cart_item_find("Apple", 5), -1);
    cr_assert_eq(cart_item_find("", 0), -1);
    cr_assert_eq(cart_item_find(NULL, 0), -1);
    cr_assert_eq(cart_item_find("milk\0x", 6), -1);
    cr_assert_eq(cart_item_find("milkshake", 4), 2, "only len bytes are read");
}

Test(cart, encode_decode_round_trip)
{
    int qty[CART_ITEMS] = {2, 0, 1, 0, 99, 0}, back[CART_ITEMS];
    char text[128];
    long n = cart_encode(qty, text, sizeof text);
    cr_assert_str_eq(text, "apple=2,milk=1,cheese=99");
    cr_assert_eq(n, (long)strlen(text));
    cr_assert_eq(decode(text, back), 0);
    cr_assert_arr_eq(back, qty, sizeof qty);
}

Test(cart, every_quantity_round_trips)
{
    char text[128];
    for (int q = 0; q <= CART_QTY_MAX; q++) {
        int qty[CART_ITEMS] = {q, q, 0, q, 0, q}, back[CART_ITEMS];
        cr_assert_geq(cart_encode(qty, text, sizeof text), 0);
        cr_assert_eq(decode(text, back), 0, "%s", text);
        cr_assert_arr_eq(back, qty, sizeof qty, "%s", text);
    }
}

Test(cart, empty_cart_is_empty_text)
{
    int qty[CART_ITEMS] = {0}, back[CART_ITEMS] = {1, 1, 1, 1, 1, 1};
    char text[4] = "xyz";
    cr_assert_eq(cart_encode(qty, text, sizeof text), 0);
    cr_assert_str_eq(text, "");
    cr_assert_eq(decode("", back), 0);
    cr_assert_arr_eq(back, qty, sizeof qty);
}

Test(cart, encode_refuses_a_small_buffer)
{
    int qty[CART_ITEMS] = {2, 0, 1, 0, 0, 0};
    char text[16];
    cr_assert_eq(cart_encode(qty, text, 0), -1);
    cr_assert_eq(cart_encode(qty, text, 14), -1, "apple=2,milk=1 needs 15 bytes");
    cr_assert_str_eq(text, "");
    cr_assert_eq(cart_encode(qty, text, 15), 14);
    cr_assert_str_eq(text, "apple=2,milk=1");
}

Test(cart, decode_hostile_inputs_are_malformed_and_zero)
{
    const char *bad[] = {",", "apple", "apple=", "=2", "apple=2,", ",apple=2", "apple=2,,milk=1",
                         "apple=-1", "apple=+1", "apple=1x", "apple= 1",
                         "apple=2;milk=1", "apple==2", "apple=0x10"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int qty[CART_ITEMS] = {7, 7, 7, 7, 7, 7}, zero[CART_ITEMS] = {0};
        cr_assert_eq(decode(bad[i], qty), -1, "'%s' accepted", bad[i]);
        cr_assert_arr_eq(qty, zero, sizeof qty, "'%s' left quantities", bad[i]);
    }
}

Test(cart, decode_clamps_skips_unknown_and_keeps_the_last)
{
    int qty[CART_ITEMS];
    cr_assert_eq(decode("apple=100,milk=99999999999999999999999999,eggs=0", qty), 0);
    cr_assert_eq(qty[0], CART_QTY_MAX);
    cr_assert_eq(qty[2], CART_QTY_MAX);
    cr_assert_eq(qty[3], 0);
    cr_assert_eq(decode("pear=3,apple=1,<script>=9, milk=2", qty), 0);
    cr_assert_eq(qty[0], 1);
    cr_assert_eq(cart_lines(qty), 1);
    cr_assert_eq(decode("apple=1,apple=5", qty), 0);
    cr_assert_eq(qty[0], 5);
    cr_assert_eq(decode("apple=007", qty), 0);
    cr_assert_eq(qty[0], 7);
}

Test(cart, decode_reads_only_len_bytes)
{
    int qty[CART_ITEMS];
    const char text[] = {'m', 'i', 'l', 'k', '=', '3', '4', '5'};
    cr_assert_eq(cart_decode(text, 6, qty), 0);
    cr_assert_eq(qty[2], 3);
    const char nul[] = {'m', 'i', 'l', 'k', '=', '3', '\0', '4'};
    cr_assert_eq(cart_decode(nul, sizeof nul, qty), -1, "a NUL is not a digit");
}

Test(cart, apply_add_and_remove)
{
    int qty[CART_ITEMS] = {0};
    cr_assert_eq(cart_apply(qty, 0, 1), 1);
    cr_assert_eq(cart_apply(qty, 0, 1), 1);
    cr_assert_eq(qty[0], 2);
    cr_assert_eq(cart_apply(qty, 0, -1), 1);
    cr_assert_eq(cart_apply(qty, 0, -1), 1);
    cr_assert_eq(qty[0], 0, "the line leaves at 0");
    cr_assert_eq(cart_apply(qty, 0, -1), 1, "removing an absent item is a no-op");
    cr_assert_eq(qty[0], 0);
    cr_assert_eq(cart_lines(qty), 0);
}

Test(cart, apply_quantity_limit)
{
    int qty[CART_ITEMS] = {0};
    for (int i = 0; i < CART_QTY_MAX; i++)
        cr_assert_eq(cart_apply(qty, 5, 1), 1);
    cr_assert_eq(cart_apply(qty, 5, 1), 2);
    cr_assert_eq(qty[5], CART_QTY_MAX, "a refused add changes nothing");
    cr_assert_eq(cart_apply(qty, 5, -1), 1);
    cr_assert_eq(qty[5], CART_QTY_MAX - 1);
}

Test(cart, apply_lines_limit)
{
    int qty[CART_ITEMS] = {0};
    for (int i = 0; i < CART_LINES_MAX; i++)
        cr_assert_eq(cart_apply(qty, i, 1), 1);
    int before[CART_ITEMS];
    memcpy(before, qty, sizeof qty);
    cr_assert_eq(cart_apply(qty, CART_LINES_MAX, 1), 2, "a sixth line");
    cr_assert_arr_eq(qty, before, sizeof qty);
    cr_assert_eq(cart_apply(qty, 0, 1), 1, "more of a line already there is fine");
    cr_assert_eq(cart_apply(qty, 1, -1), 1);
    cr_assert_eq(cart_apply(qty, CART_LINES_MAX, 1), 1, "room again after a line left");
    cr_assert_eq(cart_lines(qty), CART_LINES_MAX);
}

Test(cart, apply_refuses_bad_item_and_delta)
{
    int qty[CART_ITEMS] = {0};
    cr_assert_eq(cart_apply(qty, -1, 1), 2);
    cr_assert_eq(cart_apply(qty, CART_ITEMS, 1), 2);
    cr_assert_eq(cart_apply(qty, 0, 2), 2);
    cr_assert_eq(cart_apply(qty, 0, 0), 2);
    cr_assert_eq(cart_lines(qty), 0);
}

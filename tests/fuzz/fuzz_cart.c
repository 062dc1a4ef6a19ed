/*
 * cart_decode over any bytes (not NUL-terminated: the text comes from
 * Redis), then the round trip: a decoded cart has quantities in
 * 0..CART_QTY_MAX, encodes into a small buffer, and decodes back to itself;
 * a malformed text leaves the cart all zero. cart_apply on the decoded cart
 * keeps its limits.
 */
#include "cart.h"
#include "fuzz_check.h"

/* Longest text form: every item at CART_QTY_MAX, with commas. */
#define TEXT_MAX 64

static void check_apply(int qty[CART_ITEMS], const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < size && i < 64; i++) {
        int before[CART_ITEMS];
        memcpy(before, qty, sizeof before);
        int item = data[i] % (CART_ITEMS + 1) - (data[i] >= 250); /* some out of range */
        int delta = data[i] & 0x80 ? -1 : 1;
        int rc = cart_apply(qty, item, delta);
        FUZZ_CHECK(rc == 1 || rc == 2);
        if (rc == 2)
            FUZZ_CHECK(memcmp(before, qty, sizeof before) == 0);
        for (int k = 0; k < CART_ITEMS; k++)
            FUZZ_CHECK(qty[k] >= 0 && qty[k] <= CART_QTY_MAX);
        if (rc == 1 && delta > 0 && cart_lines(before) <= CART_LINES_MAX)
            FUZZ_CHECK(cart_lines(qty) <= CART_LINES_MAX);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size ? size : 1);
    if (copy == NULL)
        abort();
    memcpy(copy, data, size);
    int qty[CART_ITEMS], back[CART_ITEMS];
    int rc = cart_decode(copy, size, qty);
    FUZZ_CHECK(rc == 0 || rc == -1);
    for (int k = 0; k < CART_ITEMS; k++)
        FUZZ_CHECK(qty[k] >= 0 && qty[k] <= CART_QTY_MAX && (rc == 0 || qty[k] == 0));

    char text[TEXT_MAX];
    long n = cart_encode(qty, text, sizeof text);
    FUZZ_CHECK(n >= 0 && (size_t)n == strlen(text));
    FUZZ_CHECK(cart_decode(text, (size_t)n, back) == 0);
    FUZZ_CHECK(memcmp(qty, back, sizeof qty) == 0);
    /* The encoder's text is canonical: it encodes back to itself. */
    char again[TEXT_MAX];
    FUZZ_CHECK(cart_encode(back, again, sizeof again) == n && memcmp(again, text, (size_t)n) == 0);
    check_apply(qty, data, size);
    free(copy);
    return 0;
}

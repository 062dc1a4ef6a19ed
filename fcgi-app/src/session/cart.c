/*
 * The catalogue, cart_apply's limits and the cart's text form
 * "apple=2,milk=1". The text comes back from Redis, so cart_decode treats
 * it as untrusted: any bytes, any length, no NUL needed.
 */
#include "cart.h"

#include <string.h>

const char *const cart_catalogue[CART_ITEMS] = {
    "apple", "bread", "milk", "eggs", "cheese", "coffee",
};

int cart_item_find(const char *name, size_t len)
{
    if (name == NULL)
        return -1;
    for (int i = 0; i < CART_ITEMS; i++)
        if (strlen(cart_catalogue[i]) == len && memcmp(cart_catalogue[i], name, len) == 0)
            return i;
    return -1;
}

int cart_lines(const int qty[CART_ITEMS])
{
    int n = 0;
    for (int i = 0; i < CART_ITEMS; i++)
        n += qty[i] > 0;
    return n;
}

int cart_apply(int qty[CART_ITEMS], int item, int delta)
{
    if (item < 0 || item >= CART_ITEMS || (delta != 1 && delta != -1))
        return 2;
    if (delta < 0) {
        if (qty[item] > 0)
            qty[item]--;
        return 1;
    }
    if (qty[item] >= CART_QTY_MAX || (qty[item] <= 0 && cart_lines(qty) >= CART_LINES_MAX))
        return 2;
    qty[item] = qty[item] < 0 ? 1 : qty[item] + 1;
    return 1;
}

/* Appends s[0..n) at out + *len when it fits with its NUL; false if not. */
static bool put(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
    if (cap - *len <= n)
        return false;
    memcpy(out + *len, s, n);
    *len += n;
    out[*len] = '\0';
    return true;
}

/* The decimal digits of v (> 0) into d; their count. */
static size_t digits(int v, char d[12])
{
    char rev[12];
    size_t n = 0;
    while (v > 0 && n < sizeof rev) {
        rev[n++] = (char)('0' + v % 10);
        v /= 10;
    }
    for (size_t i = 0; i < n; i++)
        d[i] = rev[n - 1 - i];
    return n;
}

long cart_encode(const int qty[CART_ITEMS], char *out, size_t cap)
{
    size_t len = 0;
    if (cap == 0)
        return -1;
    out[0] = '\0';
    for (int i = 0; i < CART_ITEMS; i++) {
        if (qty[i] <= 0)
            continue;
        char d[12];
        size_t nd = digits(qty[i], d);
        const char *name = cart_catalogue[i];
        if ((len > 0 && !put(out, cap, &len, ",", 1)) || !put(out, cap, &len, name, strlen(name)) ||
            !put(out, cap, &len, "=", 1) || !put(out, cap, &len, d, nd)) {
            out[0] = '\0';
            return -1;
        }
    }
    return (long)len;
}

/* Parses one line "name=digits" (s[0..len), no ','), clamping the number.
 * Its item (-1: not in the catalogue) and quantity; false if malformed. */
static bool decode_line(const char *s, size_t len, int *item, int *q)
{
    const char *eq = memchr(s, '=', len);
    if (eq == NULL || eq == s || eq + 1 == s + len)
        return false;
    long v = 0;
    for (const char *p = eq + 1; p < s + len; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (*p - '0');
        if (v > CART_QTY_MAX)
            v = CART_QTY_MAX + 1; /* clamped below; no overflow on long runs */
    }
    *item = cart_item_find(s, (size_t)(eq - s));
    *q = v > CART_QTY_MAX ? CART_QTY_MAX : (int)v;
    return true;
}

int cart_decode(const char *s, size_t len, int qty[CART_ITEMS])
{
    memset(qty, 0, CART_ITEMS * sizeof qty[0]);
    if (len == 0)
        return 0;
    const char *p = s, *end = s + len;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        int item, q;
        if (!decode_line(p, (size_t)(stop - p), &item, &q)) {
            memset(qty, 0, CART_ITEMS * sizeof qty[0]);
            return -1;
        }
        if (item >= 0)
            qty[item] = q; /* a repeated item: the last line wins */
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

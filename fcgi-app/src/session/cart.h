/*
 * The demo shop's catalogue and the cart's text form. The catalogue is
 * fixed (CART_ITEMS names, shown on the page in this order); a cart is a
 * quantity per catalogue index. The Redis store keeps a cart as one hash
 * field in the text form "apple=2,milk=1" (lines > 0; cart_encode writes
 * catalogue order, the Redis script the order items were first added, and
 * cart_decode takes any order).
 */
#ifndef SESSIONLAB_CART_H
#define SESSIONLAB_CART_H

#include <stdbool.h>
#include <stddef.h>

#include "bounds.h"

extern const char *const cart_catalogue[CART_ITEMS];

/* The catalogue index of name[0..len), or -1 when it is not an item. */
int cart_item_find(const char *name, size_t len);

/* Lines (items with quantity > 0) in qty. */
int cart_lines(const int qty[CART_ITEMS]);

/* Applies delta (+1 or -1) to qty[item] as store.h's cart op says:
 * 1 done (also a remove of an item not in the cart: nothing to do),
 * 2 refused (CART_LINES_MAX or CART_QTY_MAX), qty unchanged. */
int cart_apply(int qty[CART_ITEMS], int item, int delta);

/* Writes qty's text form to out (cap bytes, NUL-terminated). Its length,
 * or -1 when it does not fit. */
long cart_encode(const int qty[CART_ITEMS], char *out, size_t cap);

/* Parses a text form (len bytes, untrusted: it comes from Redis) into qty.
 * Unknown items are skipped, quantities clamped to 0..CART_QTY_MAX.
 * 0, or -1 when malformed (qty then all 0). "" is an empty cart. */
int cart_decode(const char *s, size_t len, int qty[CART_ITEMS]);

#endif

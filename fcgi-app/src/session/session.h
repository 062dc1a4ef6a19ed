/* One session as a store returns it to the routes. */
#ifndef SESSIONLAB_SESSION_H
#define SESSIONLAB_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "bounds.h"

struct session {
    char id[SID_LEN + 1];
    long long count;           /* accesses so far, this one included */
    char user[USER_MAX + 1];   /* logged-in user; "" when logged out */
    int cart[CART_ITEMS];      /* quantity per catalogue item (cart.h) */
    bool has_value;            /* false until /setSession stored one */
    size_t value_len;          /* bytes in value, no NUL counted */
    char value[VALUE_MAX + 1]; /* NUL-terminated too; may hold any byte */
    long long value_time;      /* unix seconds when value was set */
    int served_n;              /* entries in served_by, newest first */
    char served_by[SERVED_MAX][INSTANCE_MAX + 1];
    bool is_new; /* this request created it: set by the route, not a store */
};

#endif

/* Named limits: every buffer in sessionlab is bounded by one of these. */
#ifndef SESSIONLAB_BOUNDS_H
#define SESSIONLAB_BOUNDS_H

/* Session ids: 128 bits from getrandom, as 32 lowercase hex digits. */
#define SID_BYTES 16
#define SID_LEN (SID_BYTES * 2)

/* A stored value: longer values are refused with 413. */
#define VALUE_MAX 4096

/* Instance (replica) names as shown in "Hostname" and served_by. */
#define INSTANCE_MAX 63

/* served_by keeps the instances of the last views, newest first. */
#define SERVED_MAX 10

/* Demo user names (POST /login): 1..USER_MAX of [A-Za-z0-9._-]. */
#define USER_MAX 32

/* The cart: items come from a fixed catalogue of CART_ITEMS (cart.h); a
 * cart holds at most CART_LINES_MAX different items and CART_QTY_MAX of
 * one item. Beyond either, POST /cart answers 409 and changes nothing. */
#define CART_ITEMS 6
#define CART_LINES_MAX 5
#define CART_QTY_MAX 99

/* Sessions one user can hold in one store: the next login ends the
 * oldest (so "log out everywhere" stays bounded work). */
#define USER_SESSIONS_MAX 100

/* Session ids a rotation keeps from the old id (the Redis key's hash tag,
 * so old and new key share a Redis Cluster slot); the rest is fresh. */
#define SID_TAG_LEN 4

/* Request bodies (POST /setSession) larger than this are refused with 413. */
#define BODY_MAX 16384

/* Largest Cookie header the app looks at; nginx bounds headers first. */
#define COOKIE_HEADER_MAX 16384

/* Cookie names (SESSIONLAB_COOKIE_NAME). */
#define COOKIE_NAME_MAX 64

/* Redis key prefix (SESSIONLAB_REDIS_PREFIX). */
#define REDIS_PREFIX_MAX 128

/* The response buffer of one worker: page, headers and all. */
#define RESPONSE_MAX (64 * 1024)

#endif

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

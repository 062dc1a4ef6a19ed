/* The parsers of the session script's replies (redis_script.h). Nothing
 * in a reply is trusted: types, element counts and bounds are checked. */
#include "redis_script.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cart.h"
#include "sid.h"
#include "user.h"

/* Parses a string reply holding a decimal integer. 0 or -1. */
static int reply_ll(const redisReply *r, long long *out)
{
    char buf[32];
    char *end;
    if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len >= sizeof buf)
        return -1;
    memcpy(buf, r->str, r->len);
    buf[r->len] = '\0';
    errno = 0;
    *out = strtoll(buf, &end, 10);
    return errno != 0 || *end != '\0' ? -1 : 0;
}

/*
 * Splits served ("a\nb\n...") into out->served_by: empty entries skipped,
 * each name cut to INSTANCE_MAX bytes, at most SERVED_MAX names kept.
 */
static void parse_served(const char *s, size_t len, struct session *out)
{
    size_t i = 0;
    out->served_n = 0;
    while (i < len && out->served_n < SERVED_MAX) {
        const char *nl = memchr(s + i, '\n', len - i);
        size_t n = nl != NULL ? (size_t)(nl - (s + i)) : len - i;
        if (n > 0) {
            size_t k = n > INSTANCE_MAX ? INSTANCE_MAX : n;
            memcpy(out->served_by[out->served_n], s + i, k);
            out->served_by[out->served_n++][k] = '\0';
        }
        i += n + 1;
    }
}

/* Copies a user name from the reply: one that is not a valid name (only
 * possible if something else wrote the hash) reads as logged out. */
static void parse_user(const redisReply *r, struct session *out)
{
    out->user[0] = '\0';
    if (r->len > 0 && r->len <= USER_MAX && user_name_valid(r->str, r->len)) {
        memcpy(out->user, r->str, r->len);
        out->user[r->len] = '\0';
    }
}

/* Copies a user name reply element into user (size USER_MAX + 1): '' or a
 * valid name. 0, or -1 when it is neither. */
static int copy_user(const redisReply *r, char *user)
{
    if (r->type != REDIS_REPLY_STRING || r->len > USER_MAX ||
        (r->len > 0 && !user_name_valid(r->str, r->len)))
        return -1;
    memcpy(user, r->str, r->len);
    user[r->len] = '\0';
    return 0;
}

/*
 * Fills *out from a script view {count, has_value, value, vtime, served,
 * user, cart, index_due}. Nothing in the reply is trusted: types and the
 * element count are checked and every copy is bounded. A stored value
 * longer than VALUE_MAX (only possible if something else wrote the hash)
 * is truncated to VALUE_MAX, a bad user name reads as logged out and a
 * malformed cart as empty, so the page still renders. 0, or -1 when the
 * reply has another shape.
 */
int redis_script_view(const redisReply *r, const char *id, struct session *out, bool *index_due)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 8)
        return -1;
    redisReply **e = r->element;
    if (e[0]->type != REDIS_REPLY_INTEGER || e[1]->type != REDIS_REPLY_INTEGER ||
        e[2]->type != REDIS_REPLY_STRING || e[4]->type != REDIS_REPLY_STRING ||
        e[5]->type != REDIS_REPLY_STRING || e[6]->type != REDIS_REPLY_STRING ||
        e[7]->type != REDIS_REPLY_INTEGER || reply_ll(e[3], &out->value_time) != 0)
        return -1;
    snprintf(out->id, sizeof out->id, "%s", id);
    out->count = e[0]->integer;
    out->has_value = e[1]->integer != 0;
    out->value_len = e[2]->len > VALUE_MAX ? VALUE_MAX : e[2]->len;
    memcpy(out->value, e[2]->str, out->value_len);
    out->value[out->value_len] = '\0';
    parse_served(e[4]->str, e[4]->len, out);
    parse_user(e[5], out);
    (void)cart_decode(e[6]->str, e[6]->len, out->cart); /* -1: all 0, an empty cart */
    if (index_due != NULL)
        *index_due = e[7]->integer != 0 && out->user[0] != '\0';
    return 0;
}

int redis_script_login(const redisReply *r, int *code, char *prev)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[0]->integer < 0 ||
        r->element[0]->integer > 2 || copy_user(r->element[1], prev) != 0)
        return -1;
    *code = (int)r->element[0]->integer;
    return 0;
}

int redis_script_logout(const redisReply *r, long long *existed, long long *ended, char *user)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_INTEGER ||
        copy_user(r->element[2], user) != 0)
        return -1;
    *existed = r->element[0]->integer;
    *ended = r->element[1]->integer;
    if (*existed < 0 || *existed > 1 || *ended < *existed)
        return -1;
    return 0;
}

int redis_script_ids(const redisReply *r, int step, char (*ids)[SID_LEN + 1], int max)
{
    if (r->type != REDIS_REPLY_ARRAY || step < 1)
        return -1;
    int n = 0;
    for (size_t i = 0; i < r->elements && n < max; i += (size_t)step) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_STRING)
            return -1;
        if (!sid_valid(e->str, e->len)) /* not one of ours: skipped */
            continue;
        memcpy(ids[n], e->str, SID_LEN);
        ids[n++][SID_LEN] = '\0';
    }
    return n;
}

int redis_script_done(const redisReply *r, long long max, int *rc, char *due_user)
{
    due_user[0] = '\0';
    if (r->type == REDIS_REPLY_INTEGER && r->integer >= 0 && r->integer <= max) {
        *rc = (int)r->integer;
        return 0;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[0]->integer < 0 ||
        r->element[0]->integer > max || copy_user(r->element[1], due_user) != 0)
        return -1;
    *rc = (int)r->element[0]->integer;
    return 0;
}

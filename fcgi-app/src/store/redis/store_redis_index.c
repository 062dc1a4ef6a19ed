/* The per-user index in a Redis Cluster (store_redis_index.h). */
#include "store_redis_index.h"

#include <string.h>

#include "redis_script.h"

/* Passes of a log-out-everywhere: each reads up to USER_SESSIONS_MAX ids;
 * more passes only happen while logins race it. */
#define RS_INDEX_PASSES 8

int rs_index_add(struct store *st, const char *user, const char *new_id,
                 char (*popped)[SID_LEN + 1], int *npopped)
{
    char idx[RS_USER_KEY_MAX];
    if (rs_user_key(st, user, idx) != 0)
        return -1;
    const char *keys[] = {idx};
    const char *args[] = {new_id, RS_XSTR(USER_SESSIONS_MAX)};
    redisReply *r = rs_script(st, "index_add", keys, 1, args, NULL, 2);
    if (r == NULL)
        return -1;
    int n = redis_script_ids(r, 1, popped, USER_SESSIONS_MAX);
    freeReplyObject(r);
    if (n < 0)
        return rs_fail(st, "redis: malformed index_add reply");
    *npopped = n;
    return 0;
}

/* Ends session id if it is still logged in as user: 1 ended, 0 not, -1. */
static int end_member(struct store *st, const char *id, const char *user)
{
    const char *args[] = {user};
    redisReply *r = rs_script_id(st, "end_member", id, args, NULL, 1);
    if (r == NULL)
        return -1;
    int rc = r->type == REDIS_REPLY_INTEGER ? (r->integer > 0) : rs_fail(st, "redis: bad reply");
    freeReplyObject(r);
    return rc;
}

void rs_index_forget(struct store *st, const char *user, const char *id)
{
    char idx[RS_USER_KEY_MAX];
    if (rs_user_key(st, user, idx) != 0)
        return;
    const char *argv[] = {"ZREM", idx, id};
    const size_t lens[] = {4, strlen(idx), strlen(id)};
    redisReply *r = rs_command(st, 3, argv, lens);
    if (r != NULL)
        freeReplyObject(r);
}

void rs_index_after_login(struct store *st, const char *user, const char *prev, const char *old_id,
                          char (*popped)[SID_LEN + 1], int npopped)
{
    if (prev[0] != '\0' && old_id != NULL)
        rs_index_forget(st, prev, old_id);
    for (int i = 0; i < npopped; i++)
        (void)end_member(st, popped[i], user);
}

/* Reads up to USER_SESSIONS_MAX ids of the index into ids: their count, or -1. */
static int read_ids(struct store *st, const char *idx, char (*ids)[SID_LEN + 1])
{
    const char *argv[] = {"ZRANGE", idx, "0", "-1"}; /* a pass reads the first 100 */
    const size_t lens[] = {6, strlen(idx), 1, 2};
    redisReply *r = rs_command(st, 4, argv, lens);
    if (r == NULL)
        return -1;
    int n = redis_script_ids(r, 1, ids, USER_SESSIONS_MAX);
    freeReplyObject(r);
    return n < 0 ? rs_fail(st, "redis: malformed ZRANGE reply") : n;
}

/* Each pass reads the index, ends each session still logged in as user and
 * only then takes its id out: a failure leaves the rest listed, so asking
 * again finishes the job, and a login racing a pass is read by the next. */
long long rs_index_end_all(struct store *st, const char *user)
{
    char idx[RS_USER_KEY_MAX];
    char ids[USER_SESSIONS_MAX][SID_LEN + 1];
    if (rs_user_key(st, user, idx) != 0)
        return -1;
    long long ended = 0;
    for (int pass = 0; pass < RS_INDEX_PASSES; pass++) {
        int n = read_ids(st, idx, ids);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        for (int i = 0; i < n; i++) {
            int rc = end_member(st, ids[i], user);
            if (rc < 0)
                return -1;
            ended += rc;
            rs_index_forget(st, user, ids[i]);
        }
    }
    return ended;
}

void rs_index_keep(struct store *st, const char *user)
{
    char idx[RS_USER_KEY_MAX];
    if (rs_user_key(st, user, idx) != 0)
        return;
    const char *keys[] = {idx};
    redisReply *r = rs_script(st, "index_keep", keys, 1, NULL, NULL, 0);
    if (r != NULL)
        freeReplyObject(r);
}

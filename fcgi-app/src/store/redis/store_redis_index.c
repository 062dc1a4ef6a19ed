/* The per-user index in a Redis Cluster (store_redis_index.h). */
#include "store_redis_index.h"

#include <string.h>

#include "redis_script.h"

/* Passes of a log-out-everywhere: each reads up to RS_INDEX_READ ids;
 * more passes only happen while logins race it. */
#define RS_INDEX_PASSES 8
#define RS_INDEX_READ (2 * USER_SESSIONS_MAX)

/* The script's integer answer for session id or user's index key (frees
 * the reply). -1 with the error set. */
static long long int_reply(struct store *st, redisReply *r)
{
    if (r == NULL)
        return -1;
    long long v = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return v >= 0 ? v : rs_fail(st, "redis: unexpected reply");
}

/* Runs op (index_add, index_keep) on user's index with one argument. */
static long long on_index(struct store *st, const char *op, const char *user, const char *arg)
{
    char idx[RS_USER_KEY_MAX];
    if (rs_user_key(st, user, idx) != 0)
        return -1;
    const char *keys[] = {idx};
    const char *args[] = {arg};
    return int_reply(st, rs_script(st, op, keys, 1, args, NULL, arg ? 1 : 0));
}

/* Runs op (end_member, member_live) on session id for user: 1 or 0, -1. */
static int on_member(struct store *st, const char *op, const char *id, const char *user)
{
    const char *args[] = {user};
    long long v = int_reply(st, rs_script_id(st, op, id, args, NULL, 1));
    return v < 0 ? -1 : v > 0;
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

/* Reads up to RS_INDEX_READ ids of the index, oldest first: their count, or -1. */
static int read_ids(struct store *st, const char *user, char (*ids)[SID_LEN + 1])
{
    char idx[RS_USER_KEY_MAX];
    if (rs_user_key(st, user, idx) != 0)
        return -1;
    const char *argv[] = {"ZRANGE", idx, "0", "-1"};
    const size_t lens[] = {6, strlen(idx), 1, 2};
    redisReply *r = rs_command(st, 4, argv, lens);
    if (r == NULL)
        return -1;
    int n = redis_script_ids(r, 1, ids, RS_INDEX_READ);
    freeReplyObject(r);
    return n < 0 ? rs_fail(st, "redis: malformed ZRANGE reply") : n;
}

/* Past the cap: ids of sessions that are gone leave first; then the
 * oldest live sessions beyond USER_SESSIONS_MAX end, each id taken out
 * once its session ended. Best effort: what fails is tried at the next
 * login past the cap. */
static void trim(struct store *st, const char *user)
{
    char ids[RS_INDEX_READ][SID_LEN + 1];
    int n = read_ids(st, user, ids), live = 0;
    for (int i = 0; i < n; i++) {
        int rc = on_member(st, "member_live", ids[i], user);
        if (rc == 0)
            rs_index_forget(st, user, ids[i]);
        else if (rc == 1)
            memcpy(ids[live++], ids[i], sizeof ids[i]);
    }
    for (int i = 0; i < live - USER_SESSIONS_MAX; i++)
        if (on_member(st, "end_member", ids[i], user) >= 0)
            rs_index_forget(st, user, ids[i]);
}

int rs_index_login(struct store *st, const char *user, const char *new_id, const char *prev,
                   const char *old_id)
{
    long long held = on_index(st, "index_add", user, new_id);
    if (held < 0) {
        char why[sizeof st->errstr];
        memcpy(why, st->errstr, sizeof why);
        (void)on_member(st, "end_member", new_id, user);
        return rs_fail(st, "%.400s (the new session was ended: log in again)", why);
    }
    if (prev[0] != '\0' && old_id != NULL)
        rs_index_forget(st, prev, old_id);
    if (held > USER_SESSIONS_MAX)
        trim(st, user);
    return 0;
}

/* Each pass reads the index, ends each session still logged in as user and
 * only then takes its id out: a failure leaves the rest listed, so asking
 * again finishes the job, and a login racing a pass is read by the next. */
long long rs_index_end_all(struct store *st, const char *user)
{
    char ids[RS_INDEX_READ][SID_LEN + 1];
    long long ended = 0;
    for (int pass = 0; pass < RS_INDEX_PASSES; pass++) {
        int n = read_ids(st, user, ids);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        for (int i = 0; i < n; i++) {
            int rc = on_member(st, "end_member", ids[i], user);
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
    (void)on_index(st, "index_keep", user, NULL);
}

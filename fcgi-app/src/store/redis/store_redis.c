/*
 * The Redis store: one hash per session under cfg->redis_prefix + "{" +
 * id[0..SID_TAG_LEN) + "}" + id (the hash tag keeps a session and its
 * rotated successor in one Cluster slot) with the fields count, value,
 * vtime (unix seconds), served (instance names joined by '\n', newest
 * first, at most SERVED_MAX), born, user, cart and (cluster) itime; and
 * one ZSET per user, prefix + "user:" + NAME, of its session ids. Every
 * operation (view, set_value, login, logout, destroy, cart) is one EVALSHA
 * of the session script (redis_script.c), so each is one command and
 * atomic; in a Redis Cluster the per-user index is kept by commands of its
 * own (store_redis_index.c). How commands reach Redis: store_redis_call.c.
 */
#include "store.h"
#include "atomic.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cart.h"
#include "redis_script.h"
#include "store_redis_call.h"
#include "store_redis_index.h"
#include "user.h"

/*
 * A page view: runs the script's touch or create for
 * id. Returns 1 with *out filled, 0 when the script answered absent (nil,
 * touch) or existing (0, create), -1 on failure.
 */
static int rs_view(struct store *st, bool create, const char *id, const char *instance,
                   struct session *out)
{
    char inst[INSTANCE_MAX + 1];
    snprintf(inst, sizeof inst, "%s", instance);
    for (char *p = inst; *p != '\0'; p++) /* '\n' separates served names */
        if (*p == '\n')
            *p = '?';
    const char *args[] = {inst, RS_XSTR(SERVED_MAX)};
    redisReply *r = rs_script_id(st, create ? "create" : "touch", id, args, NULL, 2);
    if (r == NULL)
        return -1;
    int rc = 0;
    bool due = false;
    if (r->type != REDIS_REPLY_NIL && r->type != REDIS_REPLY_INTEGER)
        rc = redis_script_view(r, id, out, &due) == 0
                 ? 1
                 : rs_fail(st, "redis: malformed script reply");
    else if (r->type == REDIS_REPLY_INTEGER && r->integer != 0)
        rc = rs_fail(st, "redis: unexpected script reply %lld", r->integer);
    freeReplyObject(r);
    if (rc == 1 && due)
        rs_index_keep(st, out->user);
    return rc;
}

/* A set or cart reply 0..max (frees r), keeping the user's index alive
 * when the script says it is due (cluster mode); -1 with the error set. */
static int rs_reply_done(struct store *st, redisReply *r, long long max)
{
    int rc;
    char due[USER_MAX + 1];
    if (redis_script_done(r, max, &rc, due) != 0)
        rc = rs_fail(st, "redis: unexpected script reply (type %d)", r->type);
    freeReplyObject(r);
    if (rc > 0 && due[0] != '\0')
        rs_index_keep(st, due);
    return rc;
}

static int rs_touch(struct store *st, const char *id, const char *instance, struct session *out)
{
    return rs_view(st, false, id, instance, out);
}

static int rs_create(struct store *st, const char *id, const char *instance, struct session *out)
{
    return rs_view(st, true, id, instance, out);
}

static int rs_set_value(struct store *st, const char *id, const char *value, size_t len,
                        long long now, bool create)
{
    char vtime[24];
    if (len > VALUE_MAX)
        return rs_fail(st, "redis: value longer than %d bytes", VALUE_MAX);
    snprintf(vtime, sizeof vtime, "%lld", now);
    const char *args[] = {value, vtime, create ? "1" : "0"};
    const size_t lens[] = {len, strlen(vtime), 1};
    redisReply *r = rs_script_id(st, "set", id, args, lens, 3);
    return r == NULL ? -1 : rs_reply_done(st, r, 1);
}

/* Rotation and login in one script run. With no old session the script
 * gets the new key twice (KEYS[1] == KEYS[2]: nothing to rename), so both
 * keys are always of one slot. In a cluster the new id joins the user's
 * index afterwards (store_redis_index.h). */
static int rs_login(struct store *st, const char *old_id, const char *new_id, const char *user)
{
    char okey[RS_KEY_MAX], nkey[RS_KEY_MAX], prev[USER_MAX + 1];
    int code;
    if (!user_name_valid(user, strlen(user))) /* it names a Redis key */
        return rs_fail(st, "redis: login: invalid user name");
    if (rs_key(st, new_id, nkey) != 0 || rs_key(st, old_id ? old_id : new_id, okey) != 0)
        return -1;
    const char *keys[] = {okey, nkey};
    const char *args[] = {user, RS_XSTR(USER_SESSIONS_MAX)};
    redisReply *r = rs_script(st, "login", keys, 2, args, NULL, 2);
    if (r == NULL)
        return -1;
    int rc = redis_script_login(r, &code, prev) == 0 ? code
                                                     : rs_fail(st, "redis: malformed login reply");
    freeReplyObject(r);
    if (rc > 0 && st->cluster &&
        rs_index_login(st, user, new_id, prev, rc == 1 ? old_id : NULL) != 0)
        return -1;
    return rc;
}

static int rs_logout(struct store *st, const char *id, bool all, long long *ended)
{
    const char *args[] = {all ? "1" : "0"};
    char user[USER_MAX + 1];
    redisReply *r = rs_script_id(st, "logout", id, args, NULL, 1);
    if (r == NULL)
        return -1;
    long long existed, n;
    int rc = redis_script_logout(r, &existed, &n, user) == 0
                 ? (int)existed
                 : rs_fail(st, "redis: malformed logout reply");
    freeReplyObject(r);
    if (rc >= 0 && st->cluster && user[0] != '\0') {
        long long more = 0;
        if (!all)
            rs_index_forget(st, user, id);
        else if ((more = rs_index_end_all(st, user)) < 0)
            return -1;
        n += more;
    }
    if (rc >= 0 && ended != NULL)
        *ended = n;
    return rc;
}

/* destroy is logout of this session only, so its user index forgets it. */
static int rs_destroy(struct store *st, const char *id)
{
    return rs_logout(st, id, false, NULL);
}

static int rs_cart(struct store *st, const char *id, int item, int delta, bool create)
{
    if (item < 0 || item >= CART_ITEMS || (delta != 1 && delta != -1))
        return rs_fail(st, "redis: cart: bad change (item %d, delta %d)", item, delta);
    const char *args[] = {cart_catalogue[item], delta > 0 ? "1" : "-1", create ? "1" : "0",
                          RS_XSTR(CART_LINES_MAX), RS_XSTR(CART_QTY_MAX)};
    redisReply *r = rs_script_id(st, "cart", id, args, NULL, 5);
    return r == NULL ? -1 : rs_reply_done(st, r, 2);
}

static int rs_ping(struct store *st)
{
    return rs_conns_ping(st);
}

/* Counting keys under the prefix would need SCAN: not cheap, so unknown. */
static long long rs_live(struct store *st)
{
    (void)st;
    return -1;
}

static void rs_metrics(struct store *st, struct buf *b)
{
    (void)st;
    rs_conns_metrics(b);
}

static const char *rs_error(struct store *st)
{
    return st != NULL ? st->errstr : "redis: no handle";
}

static void rs_global_fini(void)
{
    rs_conns_fini();
}

static int rs_global_init(const struct config *cfg, char *err, size_t errlen)
{
    return rs_conns_init(cfg, err, errlen);
}

/* A worker's handle on the shared connections; NULL only when out of memory. */
static struct store *rs_open(const struct config *cfg)
{
    struct store *st = calloc(1, sizeof *st);
    if (st == NULL || !rs_conns_attach(st)) {
        free(st);
        return NULL;
    }
    snprintf(st->prefix, sizeof st->prefix, "%s", cfg->redis_prefix);
    snprintf(st->ttl, sizeof st->ttl, "%ld", cfg->ttl);
    snprintf(st->max_age, sizeof st->max_age, "%ld", cfg->max_age);
    return st;
}

static void rs_close(struct store *st)
{
    free(st);
}

const struct store_ops store_redis_ops = {
    .name = "redis",
    .global_init = rs_global_init,
    .global_fini = rs_global_fini,
    .open = rs_open,
    .close = rs_close,
    .touch = rs_touch,
    .create = rs_create,
    .set_value = rs_set_value,
    .destroy = rs_destroy,
    .login = rs_login,
    .logout = rs_logout,
    .cart = rs_cart,
    .ping = rs_ping,
    .live = rs_live,
    .metrics = rs_metrics,
    .error = rs_error,
};

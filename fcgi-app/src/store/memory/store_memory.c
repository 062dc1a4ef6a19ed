/*
 * The memory store: one process-wide table (memtable.c: shards, LRU, sliding
 * TTL, cap) shared by every worker handle.
 *
 * served_by: one process is one instance, so an entry keeps no names; the
 * views recorded are min(count, SERVED_MAX) (count grows by one per view
 * and starts at 0 or 1) and each is filled with the caller's instance.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cart.h"
#include "log.h"
#include "mem_budget.h"
#include "memtable.h"
#include "store.h"
#include "store_memory.h"

struct store {
    struct memtable *table;
    const char *err;
};

static struct memtable *g_table;

void store_memory_set_clock(long long (*now_ms)(void))
{
    memtable_set_clock(now_ms);
}

/* Copies e to the caller's *out; every view was served by instance. */
static void entry_copy(const struct memtable_entry *e, const char *instance, struct session *out)
{
    size_t ilen = strnlen(instance, INSTANCE_MAX);
    memcpy(out->id, e->id, SID_LEN);
    out->id[SID_LEN] = '\0';
    out->count = e->count;
    /* e->user is stable under e's shard lock, held here (memuser.h). */
    snprintf(out->user, sizeof out->user, "%s", e->user ? e->user->name : "");
    for (int i = 0; i < CART_ITEMS; i++)
        out->cart[i] = e->cart[i];
    out->has_value = e->value != NULL;
    out->value_len = e->value ? e->value->len : 0;
    if (e->value)
        memcpy(out->value, e->value->data, e->value->len);
    out->value[out->value_len] = '\0';
    out->value_time = e->value ? e->value->time : 0;
    out->served_n = e->count < SERVED_MAX ? (int)e->count : SERVED_MAX;
    for (int i = 0; i < out->served_n; i++) {
        memcpy(out->served_by[i], instance, ilen);
        out->served_by[i][ilen] = '\0';
    }
}

static void memory_global_fini(void)
{
    memtable_free(g_table);
    g_table = NULL;
}

/* Builds the shared table from cfg->max_sessions and cfg->ttl (both > 0).
 * A second call replaces the first table. 0, or -1 with a message in err. */
static int memory_global_init(const struct config *cfg, char *err, size_t errlen)
{
    memory_global_fini();
    if (cfg->max_sessions <= 0 || cfg->ttl <= 0) {
        snprintf(err, errlen, "memory store: max_sessions and ttl must be > 0");
        return -1;
    }
    struct memtable *t = memtable_new(cfg->max_sessions, cfg->ttl, cfg->max_age);
    if (!t) {
        snprintf(err, errlen, "memory store: out of memory for %ld sessions", cfg->max_sessions);
        return -1;
    }
    g_table = t;
    char why[400];
    if (!mem_budget_fits(cfg->max_sessions, mem_budget_cgroup_limit(NULL), why, sizeof why))
        log_error("warning: %s", why);
    return 0;
}

/* A handle on the shared table (global_init must have run, as store.h
 * requires); NULL only when out of memory. */
static struct store *memory_open(const struct config *cfg)
{
    (void)cfg;
    struct store *st = calloc(1, sizeof *st);
    if (st)
        st->table = g_table;
    return st;
}

static void memory_close(struct store *st)
{
    free(st);
}

/* The operations below keep the contracts written in store.h. */

static int memory_touch(struct store *st, const char *id, const char *instance, struct session *out)
{
    struct memtable_op op;
    struct memtable_entry *e = memtable_begin(&op, st->table, id);
    if (e) {
        e->count++;
        memtable_refresh(&op, e);
        entry_copy(e, instance, out);
    }
    pthread_mutex_unlock(&op.s->lock);
    return e != NULL;
}

static int memory_create(struct store *st, const char *id, const char *instance,
                         struct session *out)
{
    struct memtable_op op;
    struct memtable_entry *e = memtable_begin(&op, st->table, id);
    int rc = e ? 0 : -1;
    if (!e && (e = memtable_insert(&op, id)) != NULL) {
        rc = 1;
        e->count = 1;
        entry_copy(e, instance, out);
    }
    pthread_mutex_unlock(&op.s->lock);
    if (rc < 0)
        st->err = "memory store: out of memory";
    return rc;
}

/* Replaces e's value; false when out of memory (old value kept). */
static bool entry_set_value(struct memtable_entry *e, const char *value, size_t len, long long now)
{
    struct memtable_value *v = realloc(e->value, sizeof *v + len);
    if (!v)
        return false;
    v->time = now;
    v->len = len;
    if (len)
        memcpy(v->data, value, len);
    e->value = v;
    return true;
}

static int memory_set_value(struct store *st, const char *id, const char *value, size_t len,
                            long long now, bool create)
{
    struct memtable_op op;
    if (len > VALUE_MAX) {
        st->err = "memory store: value too long";
        return -1;
    }
    struct memtable_entry *e = memtable_begin(&op, st->table, id);
    bool fresh = !e && create;
    if (e)
        memtable_refresh(&op, e);
    else if (fresh)
        e = memtable_insert(&op, id);
    int rc = e ? 1 : (fresh ? -1 : 0);
    if (e && !entry_set_value(e, value, len, now)) {
        if (fresh)
            memtable_remove(&op, e, op.h);
        rc = -1;
    }
    pthread_mutex_unlock(&op.s->lock);
    if (rc < 0)
        st->err = "memory store: out of memory";
    return rc;
}

static int memory_destroy(struct store *st, const char *id)
{
    struct memtable_op op;
    struct memtable_entry *e = memtable_begin(&op, st->table, id);
    if (e)
        memtable_remove(&op, e, op.h);
    pthread_mutex_unlock(&op.s->lock);
    return e != NULL;
}

/* Sessions ended per pass of end_user_sessions, and passes at most: the
 * user's list holds about USER_SESSIONS_MAX, more only while logins race. */
#define END_BATCH 32
#define END_PASSES (2 * USER_SESSIONS_MAX / END_BATCH + 1)
/* Oldest sessions one login ends (normally one: the cap is kept). */
#define OVER_MAX 4

/* Deletes session id (SID_LEN bytes) if it still belongs to user: between
 * collecting and this, it may have logged in as another or rotated. */
static bool delete_if_user(struct store *st, const char *id, const char *user)
{
    struct memtable_op op;
    struct memtable_entry *e = memtable_begin(&op, st->table, id);
    bool mine = e && e->user && strcmp(e->user->name, user) == 0;
    if (mine)
        memtable_remove(&op, e, op.h);
    pthread_mutex_unlock(&op.s->lock);
    return mine;
}

/* Ends every session of user: ids collected under the index lock, then
 * deleted one by one under their shard locks (lock order). Passes until the
 * user's list is empty: a session that rotated between the collect and its
 * delete is still listed, under its new id, for the next pass. The count. */
static long long end_user_sessions(struct store *st, const char *user)
{
    char ids[END_BATCH][SID_LEN];
    long long ended = 0;
    for (int pass = 0; pass < END_PASSES; pass++) {
        int n = memuser_collect(&st->table->users, user, ids, END_BATCH);
        if (n == 0)
            break;
        for (int i = 0; i < n; i++)
            ended += delete_if_user(st, ids[i], user);
    }
    return ended;
}

/* The login's locked part: rotation (old entry re-keyed as new_id) or a
 * fresh entry, then the user link. store.h's codes; -1 out of memory. */
static int login_locked(struct memtable_op *a, struct memtable_op *b, struct memtable_entry *eo,
                        struct memtable_entry *en, const char *new_id, const char *user,
                        struct memuser_node **spare, char over[][SID_LEN], int *n_over)
{
    struct memtable_entry *e = eo;
    if (en)
        return 0;
    if (eo)
        memtable_rekey(a, b, eo, new_id);
    else if ((e = memtable_insert(b, new_id)) == NULL)
        return -1;
    memuser_login(&b->t->users, e, user, spare, over, OVER_MAX, n_over);
    return eo ? 1 : 2;
}

static int memory_login(struct store *st, const char *old_id, const char *new_id, const char *user)
{
    struct memuser_node *spare = memuser_node_new(user);
    if (!spare) {
        st->err = "memory store: out of memory";
        return -1;
    }
    char over[OVER_MAX][SID_LEN];
    int n_over = 0;
    struct memtable_op a, b;
    struct memtable_entry *eo = NULL, *en;
    if (old_id) {
        memtable_begin_pair(&a, &b, st->table, old_id, new_id, &eo, &en);
    } else {
        en = memtable_begin(&b, st->table, new_id);
        a = b;
    }
    int rc = login_locked(&a, &b, eo, en, new_id, user, &spare, over, &n_over);
    memtable_end_pair(&a, &b);
    free(spare);
    if (rc < 0)
        st->err = "memory store: out of memory";
    /* After the locks: these may live in any shard (lock order). */
    for (int i = 0; i < n_over; i++)
        delete_if_user(st, over[i], user);
    return rc;
}

static int memory_logout(struct store *st, const char *id, bool all, long long *ended)
{
    char user[USER_MAX + 1] = "";
    struct memtable_op op;
    struct memtable_entry *e = memtable_begin(&op, st->table, id);
    if (e && all && e->user)
        snprintf(user, sizeof user, "%s", e->user->name);
    if (e)
        memtable_remove(&op, e, op.h);
    pthread_mutex_unlock(&op.s->lock);
    long long n = e != NULL;
    if (user[0])
        n += end_user_sessions(st, user);
    if (ended)
        *ended = n;
    return e != NULL;
}

/* cart_apply on e's small-int cart. 1 done, 2 refused. */
static int entry_cart_apply(struct memtable_entry *e, int item, int delta)
{
    int qty[CART_ITEMS];
    for (int i = 0; i < CART_ITEMS; i++)
        qty[i] = e->cart[i];
    int rc = cart_apply(qty, item, delta);
    for (int i = 0; i < CART_ITEMS; i++)
        e->cart[i] = (unsigned char)qty[i];
    return rc;
}

static int memory_cart(struct store *st, const char *id, int item, int delta, bool create)
{
    struct memtable_op op;
    struct memtable_entry *e = memtable_begin(&op, st->table, id);
    bool fresh = !e && create;
    if (fresh)
        e = memtable_insert(&op, id);
    int rc = e ? entry_cart_apply(e, item, delta) : (fresh ? -1 : 0);
    if (e)
        memtable_refresh(&op, e);
    pthread_mutex_unlock(&op.s->lock);
    if (rc < 0)
        st->err = "memory store: out of memory";
    return rc;
}

long store_memory_user_sessions(const char *user)
{
    return g_table ? memuser_count(&g_table->users, user) : 0;
}

static int memory_ping(struct store *st)
{
    (void)st;
    return 0;
}

static long long memory_live(struct store *st)
{
    return memtable_live(st->table);
}

static const char *memory_error(struct store *st)
{
    return st && st->err ? st->err : "no error";
}

const struct store_ops store_memory_ops = {
    .name = "memory",
    .global_init = memory_global_init,
    .global_fini = memory_global_fini,
    .open = memory_open,
    .close = memory_close,
    .touch = memory_touch,
    .create = memory_create,
    .set_value = memory_set_value,
    .destroy = memory_destroy,
    .login = memory_login,
    .logout = memory_logout,
    .cart = memory_cart,
    .ping = memory_ping,
    .live = memory_live,
    .error = memory_error,
};

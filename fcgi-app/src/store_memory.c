/*
 * The memory store: one process-wide table shared by every worker handle.
 *
 * The table is split into shards, each a chained hash table with its own
 * mutex and an intrusive LRU list (head = most recently used). The cap
 * (cfg->max_sessions) is split across shards so the shards' caps sum to it
 * exactly. Every access refreshes the idle deadline and moves the entry to
 * the LRU head; the clock is read under the shard lock, so the LRU order is
 * also deadline order and expired entries gather at the tail, where they are
 * reclaimed in O(1) each. At the cap, create evicts the shard's LRU tail.
 *
 * served_by: one process is one instance, so an entry keeps no names; the
 * views recorded are min(count, SERVED_MAX) (count grows by one per view
 * and starts at 0 or 1) and each is filled with the caller's instance.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"
#include "store_memory.h"

#define SHARDS_MAX 64
#define BUCKETS_MAX (1u << 16) /* per shard; chains grow past this */
#define REAP_BATCH 16          /* expired entries reclaimed per operation */
#define TTL_MAX_S (100LL * 366 * 86400) /* longer ttls are clamped */

struct value {
    long long time; /* unix seconds when set */
    size_t len;
    char data[];
};

struct entry {
    struct entry *hnext;       /* hash chain */
    struct entry *prev, *next; /* LRU list, prev towards the head */
    struct value *value;       /* NULL until a value is set */
    long long deadline_ms;     /* expired when clock >= deadline */
    long long count;
    char id[SID_LEN];          /* not NUL-terminated */
};

struct shard {
    pthread_mutex_t lock;
    struct entry **buckets;
    size_t mask; /* buckets - 1, a power of two minus one */
    struct entry *head, *tail;
    long n, cap;
};

struct table {
    struct shard shards[SHARDS_MAX];
    int nshards;
    long long ttl_ms;
    atomic_llong live;
};

struct store {
    struct table *table;
    const char *err;
};

static struct table *g_table;

static long long clock_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long (*g_now_ms)(void) = clock_monotonic_ms;

void store_memory_set_clock(long long (*now_ms)(void))
{
    g_now_ms = now_ms ? now_ms : clock_monotonic_ms;
}

/* FNV-1a over the id. Ids reach the table only when the server made them
 * (strict mode), so callers cannot aim many ids at one chain. */
static uint64_t id_hash(const char *id)
{
    uint64_t h = 14695981039346656037ull;
    for (int i = 0; i < SID_LEN; i++)
        h = (h ^ (unsigned char)id[i]) * 1099511628211ull;
    return h;
}

static void lru_unlink(struct shard *s, struct entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        s->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        s->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_head(struct shard *s, struct entry *e)
{
    e->prev = NULL;
    e->next = s->head;
    if (s->head)
        s->head->prev = e;
    s->head = e;
    if (!s->tail)
        s->tail = e;
}

/* One operation on one id: the table, the id's locked shard, its hash and
 * the clock read under the lock. */
struct op {
    struct table *t;
    struct shard *s;
    uint64_t h;
    long long now;
};

/* Unlinks e (hash h) from its chain and the LRU list and frees it. */
static void op_remove(struct op *op, struct entry *e, uint64_t h)
{
    struct shard *s = op->s;
    struct entry **pp = &s->buckets[h & s->mask];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    lru_unlink(s, e);
    free(e->value);
    free(e);
    s->n--;
    atomic_fetch_sub(&op->t->live, 1);
}

/* Reclaims up to max expired entries from the LRU tail (max < 0: all). */
static void op_reap(struct op *op, int max)
{
    struct entry *tail;
    while ((tail = op->s->tail) && tail->deadline_ms <= op->now && max-- != 0)
        op_remove(op, tail, id_hash(tail->id));
}

/* Locks id's shard, reads the clock, reclaims a few expired entries and
 * returns id's live entry or NULL (an expired one found is reclaimed).
 * The caller unlocks op->s->lock. */
static struct entry *op_begin(struct op *op, struct store *st, const char *id)
{
    op->t = st->table;
    op->h = id_hash(id);
    op->s = &op->t->shards[(op->h >> 32) % (uint64_t)op->t->nshards];
    pthread_mutex_lock(&op->s->lock);
    op->now = g_now_ms();
    op_reap(op, REAP_BATCH);
    struct entry *e = op->s->buckets[op->h & op->s->mask];
    while (e && memcmp(e->id, id, SID_LEN) != 0)
        e = e->hnext;
    if (e && e->deadline_ms <= op->now) {
        op_remove(op, e, op->h);
        return NULL;
    }
    return e;
}

/* Marks e used now: new deadline, LRU head. */
static void op_refresh(struct op *op, struct entry *e)
{
    e->deadline_ms = op->now + op->t->ttl_ms;
    lru_unlink(op->s, e);
    lru_push_head(op->s, e);
}

/* Inserts a fresh entry for id (count 0, no value) at the LRU head,
 * evicting the tail while the shard is full. NULL when out of memory.
 * id must not be present. */
static struct entry *op_insert(struct op *op, const char *id)
{
    struct shard *s = op->s;
    struct entry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    while (s->n >= s->cap && s->tail)
        op_remove(op, s->tail, id_hash(s->tail->id));
    memcpy(e->id, id, SID_LEN);
    e->hnext = s->buckets[op->h & s->mask];
    s->buckets[op->h & s->mask] = e;
    e->deadline_ms = op->now + op->t->ttl_ms;
    lru_push_head(s, e);
    s->n++;
    atomic_fetch_add(&op->t->live, 1);
    return e;
}

/* Copies e to the caller's *out; every view was served by instance. */
static void entry_copy(const struct entry *e, const char *instance,
                       struct session *out)
{
    size_t ilen = strnlen(instance, INSTANCE_MAX);
    memcpy(out->id, e->id, SID_LEN);
    out->id[SID_LEN] = '\0';
    out->count = e->count;
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
    out->is_new = false;
}

/* Sets per-shard caps summing to max and allocates bucket arrays;
 * t->nshards counts the shards set up. 0, or -1 when out of memory (the
 * caller frees t). */
static int table_setup(struct table *t, long max)
{
    int n = max < SHARDS_MAX ? (int)max : SHARDS_MAX;
    for (int i = 0; i < n; i++) {
        struct shard *s = &t->shards[i];
        s->cap = max / n + (i < max % n);
        size_t nb = 1;
        while (nb < (size_t)s->cap && nb < BUCKETS_MAX)
            nb <<= 1;
        s->mask = nb - 1;
        s->buckets = calloc(nb, sizeof *s->buckets);
        if (!s->buckets)
            return -1;
        pthread_mutex_init(&s->lock, NULL);
        t->nshards = i + 1;
    }
    return 0;
}

static void table_free(struct table *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->nshards; i++) {
        struct shard *s = &t->shards[i];
        struct entry *e = s->head;
        while (e) {
            struct entry *next = e->next;
            free(e->value);
            free(e);
            e = next;
        }
        free(s->buckets);
        pthread_mutex_destroy(&s->lock);
    }
    free(t);
}

static void memory_global_fini(void)
{
    table_free(g_table);
    g_table = NULL;
}

/* Builds the shared table from cfg->max_sessions and cfg->ttl (both > 0).
 * A second call replaces the first table. 0, or -1 with a message in err. */
static int memory_global_init(const struct config *cfg, char *err,
                              size_t errlen)
{
    memory_global_fini();
    if (cfg->max_sessions <= 0 || cfg->ttl <= 0) {
        snprintf(err, errlen, "memory store: max_sessions and ttl must be > 0");
        return -1;
    }
    struct table *t = calloc(1, sizeof *t);
    if (!t || table_setup(t, cfg->max_sessions) != 0) {
        table_free(t);
        snprintf(err, errlen, "memory store: out of memory for %ld sessions",
                 cfg->max_sessions);
        return -1;
    }
    t->ttl_ms = (cfg->ttl < TTL_MAX_S ? cfg->ttl : TTL_MAX_S) * 1000;
    atomic_init(&t->live, 0);
    g_table = t;
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

static int memory_touch(struct store *st, const char *id, const char *instance,
                        struct session *out)
{
    struct op op;
    struct entry *e = op_begin(&op, st, id);
    if (e) {
        e->count++;
        op_refresh(&op, e);
        entry_copy(e, instance, out);
    }
    pthread_mutex_unlock(&op.s->lock);
    return e != NULL;
}

static int memory_create(struct store *st, const char *id, const char *instance,
                         struct session *out)
{
    struct op op;
    struct entry *e = op_begin(&op, st, id);
    int rc = e ? 0 : -1;
    if (!e && (e = op_insert(&op, id)) != NULL) {
        rc = 1;
        e->count = 1;
        entry_copy(e, instance, out);
        out->is_new = true;
    }
    pthread_mutex_unlock(&op.s->lock);
    if (rc < 0)
        st->err = "memory store: out of memory";
    return rc;
}

/* Replaces e's value; false when out of memory (old value kept). */
static bool entry_set_value(struct entry *e, const char *value, size_t len,
                            long long now)
{
    struct value *v = realloc(e->value, sizeof *v + len);
    if (!v)
        return false;
    v->time = now;
    v->len = len;
    if (len)
        memcpy(v->data, value, len);
    e->value = v;
    return true;
}

static int memory_set_value(struct store *st, const char *id,
                            const char *value, size_t len, long long now,
                            bool create)
{
    struct op op;
    if (len > VALUE_MAX) {
        st->err = "memory store: value too long";
        return -1;
    }
    struct entry *e = op_begin(&op, st, id);
    bool fresh = !e && create;
    if (e)
        op_refresh(&op, e);
    else if (fresh)
        e = op_insert(&op, id);
    int rc = e ? 1 : (fresh ? -1 : 0);
    if (e && !entry_set_value(e, value, len, now)) {
        if (fresh)
            op_remove(&op, e, op.h);
        rc = -1;
    }
    pthread_mutex_unlock(&op.s->lock);
    if (rc < 0)
        st->err = "memory store: out of memory";
    return rc;
}

static int memory_destroy(struct store *st, const char *id)
{
    struct op op;
    struct entry *e = op_begin(&op, st, id);
    if (e)
        op_remove(&op, e, op.h);
    pthread_mutex_unlock(&op.s->lock);
    return e != NULL;
}

static int memory_ping(struct store *st)
{
    (void)st;
    return 0;
}

/* Reclaims every expired entry, then returns the number of live ones. */
static long long memory_live(struct store *st)
{
    struct op op = {.t = st->table};
    for (int i = 0; i < op.t->nshards; i++) {
        op.s = &op.t->shards[i];
        pthread_mutex_lock(&op.s->lock);
        op.now = g_now_ms();
        op_reap(&op, -1);
        pthread_mutex_unlock(&op.s->lock);
    }
    return atomic_load(&op.t->live);
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
    .ping = memory_ping,
    .live = memory_live,
    .error = memory_error,
};

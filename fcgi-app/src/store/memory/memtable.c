/*
 * The memory store's table: shards, each a chained hash table with its own
 * mutex and an intrusive LRU list (head = most recently used). The cap is
 * split across shards so the shards' caps sum to it exactly. Every access
 * refreshes the idle deadline and moves the entry to the LRU head; the clock
 * is read under the shard lock, so the LRU order is also deadline order and
 * expired entries gather at the tail, where they are reclaimed in O(1) each.
 * At the cap, an insert evicts the shard's LRU tail.
 */
#include "memtable.h"
#include "atomic.h"
#include "clock.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS_MAX (1u << 16)          /* per shard; chains grow past this */
#define REAP_BATCH 16                   /* expired entries reclaimed per operation */
#define TTL_MAX_S (100LL * 366 * 86400) /* longer ttls are clamped */

static long long (*g_now_ms)(void) = clock_mono_ms;

void memtable_set_clock(long long (*now_ms)(void))
{
    g_now_ms = now_ms ? now_ms : clock_mono_ms;
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

static void lru_unlink(struct memtable_shard *s, struct memtable_entry *e)
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

static void lru_push_head(struct memtable_shard *s, struct memtable_entry *e)
{
    e->prev = NULL;
    e->next = s->head;
    if (s->head)
        s->head->prev = e;
    s->head = e;
    if (!s->tail)
        s->tail = e;
}

static void chain_unlink(struct memtable_shard *s, struct memtable_entry *e, uint64_t h)
{
    struct memtable_entry **pp = &s->buckets[h & s->mask];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
}

static void chain_push(struct memtable_shard *s, struct memtable_entry *e, uint64_t h)
{
    e->hnext = s->buckets[h & s->mask];
    s->buckets[h & s->mask] = e;
}

void memtable_remove(struct memtable_op *op, struct memtable_entry *e, uint64_t h)
{
    struct memtable_shard *s = op->s;
    chain_unlink(s, e, h);
    lru_unlink(s, e);
    memuser_unlink(&op->t->users, e);
    free(e->value);
    free(e);
    s->n--;
    atomic_sub(&op->t->live, 1, RELAXED);
}

/* Reclaims up to max expired entries from the LRU tail (max < 0: all). */
static void op_reap(struct memtable_op *op, int max)
{
    struct memtable_entry *tail;
    while ((tail = op->s->tail) && tail->deadline_ms <= op->now && max-- != 0)
        memtable_remove(op, tail, id_hash(tail->id));
}

/* Points op at id's shard (not locked yet). */
static void op_locate(struct memtable_op *op, struct memtable *t, const char *id)
{
    op->t = t;
    op->h = id_hash(id);
    op->s = &op->t->shards[(op->h >> 32) % (uint64_t)op->t->nshards];
}

/* With op's shard locked and op->now read: reaps a few, then returns id's
 * live entry or NULL (reclaiming an expired one). */
static struct memtable_entry *op_lookup(struct memtable_op *op, const char *id)
{
    op_reap(op, REAP_BATCH);
    struct memtable_entry *e = op->s->buckets[op->h & op->s->mask];
    while (e && memcmp(e->id, id, SID_LEN) != 0)
        e = e->hnext;
    if (e && e->deadline_ms <= op->now) {
        memtable_remove(op, e, op->h);
        return NULL;
    }
    return e;
}

struct memtable_entry *memtable_begin(struct memtable_op *op, struct memtable *t, const char *id)
{
    op_locate(op, t, id);
    pthread_mutex_lock(&op->s->lock);
    op->now = g_now_ms();
    return op_lookup(op, id);
}

void memtable_begin_pair(struct memtable_op *a, struct memtable_op *b, struct memtable *t,
                         const char *id_a, const char *id_b, struct memtable_entry **ea,
                         struct memtable_entry **eb)
{
    op_locate(a, t, id_a);
    op_locate(b, t, id_b);
    /* Shard-index order: two pairs locking the same two shards agree. */
    struct memtable_shard *first = a->s < b->s ? a->s : b->s, *second = a->s < b->s ? b->s : a->s;
    pthread_mutex_lock(&first->lock);
    if (second != first)
        pthread_mutex_lock(&second->lock);
    a->now = b->now = g_now_ms();
    *ea = op_lookup(a, id_a);
    *eb = op_lookup(b, id_b);
}

void memtable_end_pair(struct memtable_op *a, struct memtable_op *b)
{
    if (b->s != a->s)
        pthread_mutex_unlock(&b->s->lock);
    pthread_mutex_unlock(&a->s->lock);
}

/* The idle deadline from now, capped at e's absolute end. */
static long long deadline_from_now(const struct memtable_op *op, const struct memtable_entry *e)
{
    long long d = op->now + op->t->ttl_ms;
    return d < e->end_ms ? d : e->end_ms;
}

void memtable_refresh(struct memtable_op *op, struct memtable_entry *e)
{
    e->deadline_ms = deadline_from_now(op, e);
    lru_unlink(op->s, e);
    lru_push_head(op->s, e);
}

void memtable_rekey(struct memtable_op *from, struct memtable_op *to, struct memtable_entry *e,
                    const char *id)
{
    chain_unlink(from->s, e, from->h);
    lru_unlink(from->s, e);
    if (to->s != from->s) {
        from->s->n--;
        while (to->s->n >= to->s->cap && to->s->tail)
            memtable_remove(to, to->s->tail, id_hash(to->s->tail->id));
        to->s->n++;
    }
    memuser_set_id(&to->t->users, e, id);
    chain_push(to->s, e, to->h);
    e->deadline_ms = deadline_from_now(to, e);
    lru_push_head(to->s, e);
}

struct memtable_entry *memtable_insert(struct memtable_op *op, const char *id)
{
    struct memtable_shard *s = op->s;
    struct memtable_entry *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    while (s->n >= s->cap && s->tail)
        memtable_remove(op, s->tail, id_hash(s->tail->id));
    memcpy(e->id, id, SID_LEN);
    chain_push(s, e, op->h);
    e->end_ms = op->t->max_age_ms > 0 ? op->now + op->t->max_age_ms : LLONG_MAX;
    e->deadline_ms = deadline_from_now(op, e);
    lru_push_head(s, e);
    s->n++;
    atomic_add(&op->t->live, 1, RELAXED);
    return e;
}

/* Sets per-shard caps summing to max and allocates bucket arrays;
 * t->nshards counts the shards set up. 0, or -1 when out of memory (the
 * caller frees t). */
static int table_setup(struct memtable *t, long max)
{
    int n = max < SHARDS_MAX ? (int)max : SHARDS_MAX;
    for (int i = 0; i < n; i++) {
        struct memtable_shard *s = &t->shards[i];
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

void memtable_free(struct memtable *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->nshards; i++) {
        struct memtable_shard *s = &t->shards[i];
        struct memtable_entry *e = s->head;
        while (e) {
            struct memtable_entry *next = e->next;
            free(e->value);
            free(e);
            e = next;
        }
        free(s->buckets);
        pthread_mutex_destroy(&s->lock);
    }
    memuser_fini(&t->users);
    free(t);
}

struct memtable *memtable_new(long max_sessions, long ttl_s, long max_age_s)
{
    struct memtable *t = calloc(1, sizeof *t);
    if (!t || table_setup(t, max_sessions) != 0 || memuser_init(&t->users, max_sessions) != 0) {
        memtable_free(t);
        return NULL;
    }
    t->ttl_ms = (ttl_s < TTL_MAX_S ? ttl_s : TTL_MAX_S) * 1000;
    t->max_age_ms = (max_age_s < TTL_MAX_S ? max_age_s : TTL_MAX_S) * 1000;
    t->live = 0;
    return t;
}

long long memtable_live(struct memtable *t)
{
    struct memtable_op op = {.t = t};
    for (int i = 0; i < t->nshards; i++) {
        op.s = &t->shards[i];
        pthread_mutex_lock(&op.s->lock);
        op.now = g_now_ms();
        op_reap(&op, -1);
        pthread_mutex_unlock(&op.s->lock);
    }
    return atomic_get(&t->live, RELAXED);
}

/*
 * The memory store's table: sharded, chained hash tables with an LRU list
 * and a sliding idle deadline per entry, capped in total. One table serves
 * every worker; each operation locks the one shard its id lives in.
 *
 * An absolute lifetime (max_age) caps the deadline: a refresh never moves
 * it past the entry's end, so the one deadline check serves both limits.
 * The reaper walks the LRU tail while deadlines have passed; an entry that
 * reached its end while recently used waits at the head until it is looked
 * up (then reclaimed) or evicted, within the same cap.
 */
#ifndef SESSIONLAB_MEMTABLE_H
#define SESSIONLAB_MEMTABLE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"
#include "memuser.h"

#define SHARDS_MAX 64

struct memtable_value {
    long long time; /* unix seconds when set */
    size_t len;
    char data[];
};

struct memtable_entry {
    struct memtable_entry *hnext;         /* hash chain */
    struct memtable_entry *prev, *next;   /* LRU list, prev towards the head */
    struct memtable_value *value;         /* NULL until a value is set */
    struct memuser_node *user;            /* logged-in user (memuser.h), or NULL */
    struct memtable_entry *uprev, *unext; /* the user's list, under the index lock */
    long long deadline_ms;                /* expired when clock >= deadline */
    long long end_ms;                     /* the deadline never passes this (max_age) */
    long long count;
    unsigned char cart[CART_ITEMS]; /* quantities, at most CART_QTY_MAX */
    char id[SID_LEN];               /* not NUL-terminated */
};

_Static_assert(CART_QTY_MAX <= 255, "a cart quantity fits in an unsigned char");

struct memtable_shard {
    pthread_mutex_t lock;
    struct memtable_entry **buckets;
    size_t mask; /* buckets - 1, a power of two minus one */
    struct memtable_entry *head, *tail;
    long n, cap;
};

struct memtable {
    struct memtable_shard shards[SHARDS_MAX];
    int nshards;
    long long ttl_ms;
    long long max_age_ms;       /* 0: no absolute lifetime */
    long long live;             /* atomic.h */
    struct memuser_index users; /* its own lock, taken after shard locks */
};

/* One operation on one id: the table, the id's locked shard, its hash and
 * the clock read under the lock. */
struct memtable_op {
    struct memtable *t;
    struct memtable_shard *s;
    uint64_t h;
    long long now;
};

/* A table for max_sessions (> 0) entries idling out after ttl_s (> 0)
 * seconds and ending max_age_s (0: never) seconds after their insert,
 * however often used; NULL when out of memory. */
struct memtable *memtable_new(long max_sessions, long ttl_s, long max_age_s);
void memtable_free(struct memtable *t);

/* Locks id's shard, reads the clock, reclaims a few expired entries and
 * returns id's live entry or NULL (an expired one found is reclaimed).
 * The caller unlocks op->s->lock. */
struct memtable_entry *memtable_begin(struct memtable_op *op, struct memtable *t, const char *id);

/* Locks the shards of ids a and b (in shard-index order, once when they
 * share one), reads the clock, reclaims a few expired entries in each and
 * returns their live entries in *ea and *eb (NULL when absent). The caller
 * ends with memtable_end_pair. */
void memtable_begin_pair(struct memtable_op *a, struct memtable_op *b, struct memtable *t,
                         const char *id_a, const char *id_b, struct memtable_entry **ea,
                         struct memtable_entry **eb);
void memtable_end_pair(struct memtable_op *a, struct memtable_op *b);

/* Re-keys e, found through from, as to's id (absent from the table): both
 * shards stay locked throughout, so every lookup finds exactly one of the
 * two ids. Keeps e's data and end; marks it used now. Evicts to's LRU tail
 * when to's shard is full. */
void memtable_rekey(struct memtable_op *from, struct memtable_op *to, struct memtable_entry *e,
                    const char *id);

/* Marks e used now: new deadline (at most its end), LRU head. */
void memtable_refresh(struct memtable_op *op, struct memtable_entry *e);

/* Inserts a fresh entry for id (count 0, no value) at the LRU head,
 * evicting the tail while the shard is full. NULL when out of memory.
 * id must not be present. */
struct memtable_entry *memtable_insert(struct memtable_op *op, const char *id);

/* Unlinks e (hash h) from its chain, the LRU list and its user's list
 * and frees it. */
void memtable_remove(struct memtable_op *op, struct memtable_entry *e, uint64_t h);

/* Reclaims every expired entry, then returns the number of live ones. */
long long memtable_live(struct memtable *t);

/* Replaces the monotonic millisecond clock (NULL: the real one). */
void memtable_set_clock(long long (*now_ms)(void));

#endif

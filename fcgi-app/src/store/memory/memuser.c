/*
 * The per-user index (memuser.h): a chained hash table of user nodes under
 * one mutex, keyed with SipHash-1-3 and a random key because clients pick
 * the names (no chain can be aimed at), each node an intrusive list of its
 * entries. A node is freed when its last session leaves it.
 */
#include "memuser.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "memtable.h"

#define INDEX_BUCKETS_MAX (1u << 16) /* chains grow past this */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void sip_round(uint64_t v[4])
{
    v[0] += v[1], v[1] = ROTL(v[1], 13), v[1] ^= v[0], v[0] = ROTL(v[0], 32);
    v[2] += v[3], v[3] = ROTL(v[3], 16), v[3] ^= v[2];
    v[0] += v[3], v[3] = ROTL(v[3], 21), v[3] ^= v[0];
    v[2] += v[1], v[1] = ROTL(v[1], 17), v[1] ^= v[2], v[2] = ROTL(v[2], 32);
}

/* Little-endian word of n (<= 8) bytes at m. */
static uint64_t le_word(const unsigned char *m, size_t n)
{
    uint64_t w = 0;
    for (size_t j = 0; j < n; j++)
        w |= (uint64_t)m[j] << (8 * j);
    return w;
}

static uint64_t siphash13(const uint64_t k[2], const char *s, size_t len)
{
    const unsigned char *m = (const unsigned char *)s;
    uint64_t v[4] = {k[0] ^ 0x736f6d6570736575ull, k[1] ^ 0x646f72616e646f6dull,
                     k[0] ^ 0x6c7967656e657261ull, k[1] ^ 0x7465646279746573ull};
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w = le_word(m + i, 8);
        v[3] ^= w, sip_round(v), v[0] ^= w;
    }
    uint64_t b = (uint64_t)len << 56 | le_word(m + i, len - i);
    v[3] ^= b, sip_round(v), v[0] ^= b;
    v[2] ^= 0xff;
    sip_round(v), sip_round(v), sip_round(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

int memuser_init(struct memuser_index *ix, long max_sessions)
{
    size_t nb = 1;
    while (nb < (size_t)max_sessions && nb < INDEX_BUCKETS_MAX)
        nb <<= 1;
    ix->buckets = calloc(nb, sizeof *ix->buckets);
    if (!ix->buckets)
        return -1;
    ix->mask = nb - 1;
    /* Without getrandom the key is weaker, never absent: the clock. */
    if (getrandom(ix->key, sizeof ix->key, GRND_NONBLOCK) != (ssize_t)sizeof ix->key) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ix->key[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull;
        ix->key[1] = (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)ix;
    }
    pthread_mutex_init(&ix->lock, NULL);
    return 0;
}

void memuser_fini(struct memuser_index *ix)
{
    if (!ix->buckets)
        return;
    for (size_t i = 0; i <= ix->mask; i++) {
        struct memuser_node *u = ix->buckets[i];
        while (u) {
            struct memuser_node *next = u->hnext;
            free(u);
            u = next;
        }
    }
    free(ix->buckets);
    ix->buckets = NULL;
    pthread_mutex_destroy(&ix->lock);
}

struct memuser_node *memuser_node_new(const char *name)
{
    struct memuser_node *u = calloc(1, sizeof *u);
    if (u)
        memcpy(u->name, name, strnlen(name, USER_MAX));
    return u;
}

static struct memuser_node **bucket_of(struct memuser_index *ix, const char *name)
{
    return &ix->buckets[siphash13(ix->key, name, strlen(name)) & ix->mask];
}

static struct memuser_node *node_find(struct memuser_index *ix, const char *name)
{
    struct memuser_node *u = *bucket_of(ix, name);
    while (u && strcmp(u->name, name) != 0)
        u = u->hnext;
    return u;
}

/* Takes e out of its node's list (the count and e->user untouched). */
static void node_unlink(struct memuser_node *u, struct memtable_entry *e)
{
    if (e->uprev)
        e->uprev->unext = e->unext;
    else
        u->head = e->unext;
    if (e->unext)
        e->unext->uprev = e->uprev;
    else
        u->tail = e->uprev;
    e->uprev = e->unext = NULL;
}

/* Puts e at the tail (newest) of u's list. */
static void node_link_tail(struct memuser_node *u, struct memtable_entry *e)
{
    e->unext = NULL;
    e->uprev = u->tail;
    if (u->tail)
        u->tail->unext = e;
    else
        u->head = e;
    u->tail = e;
}

/* Unlinks e from its node; frees the node when e was its last session. */
static void node_drop(struct memuser_index *ix, struct memtable_entry *e)
{
    struct memuser_node *u = e->user;
    node_unlink(u, e);
    e->user = NULL;
    if (--u->n > 0)
        return;
    struct memuser_node **pp = bucket_of(ix, u->name);
    while (*pp != u)
        pp = &(*pp)->hnext;
    *pp = u->hnext;
    free(u);
}

static void node_append(struct memuser_node *u, struct memtable_entry *e)
{
    e->user = u;
    node_link_tail(u, e);
    u->n++;
}

/* name's node, made from *spare when it has none. */
static struct memuser_node *node_get(struct memuser_index *ix, const char *name,
                                     struct memuser_node **spare)
{
    struct memuser_node *u = node_find(ix, name);
    if (u)
        return u;
    struct memuser_node **b = bucket_of(ix, name);
    u = *spare;
    *spare = NULL;
    u->hnext = *b;
    *b = u;
    return u;
}

void memuser_login(struct memuser_index *ix, struct memtable_entry *e, const char *name,
                   struct memuser_node **spare, char over[][SID_LEN], int over_max, int *n_over)
{
    pthread_mutex_lock(&ix->lock);
    struct memuser_node *u = e->user;
    if (u && strcmp(u->name, name) == 0) {
        /* A re-login as the same user: to the tail (newest), in the same
         * node (never freed here). */
        if (u->tail != e) {
            node_unlink(u, e);
            node_link_tail(u, e);
        }
    } else {
        if (u)
            node_drop(ix, e);
        u = node_get(ix, name, spare);
        node_append(u, e);
    }
    int n = 0;
    for (struct memtable_entry *x = u->head; x && u->n - n > USER_SESSIONS_MAX && n < over_max;
         x = x->unext)
        if (x != e)
            memcpy(over[n++], x->id, SID_LEN);
    *n_over = n;
    pthread_mutex_unlock(&ix->lock);
}

void memuser_unlink(struct memuser_index *ix, struct memtable_entry *e)
{
    if (!e->user)
        return;
    pthread_mutex_lock(&ix->lock);
    node_drop(ix, e);
    pthread_mutex_unlock(&ix->lock);
}

void memuser_set_id(struct memuser_index *ix, struct memtable_entry *e, const char *id)
{
    pthread_mutex_lock(&ix->lock);
    memcpy(e->id, id, SID_LEN);
    pthread_mutex_unlock(&ix->lock);
}

int memuser_collect(struct memuser_index *ix, const char *name, char ids[][SID_LEN], int max)
{
    int n = 0;
    pthread_mutex_lock(&ix->lock);
    struct memuser_node *u = node_find(ix, name);
    for (struct memtable_entry *x = u ? u->head : NULL; x && n < max; x = x->unext)
        memcpy(ids[n++], x->id, SID_LEN);
    pthread_mutex_unlock(&ix->lock);
    return n;
}

long memuser_count(struct memuser_index *ix, const char *name)
{
    pthread_mutex_lock(&ix->lock);
    struct memuser_node *u = node_find(ix, name);
    long n = u ? u->n : 0;
    pthread_mutex_unlock(&ix->lock);
    return n;
}

/*
 * Redis Cluster routing (cluster.h). The map is an array of 16384 bytes,
 * each the index + 1 of the node serving that slot (0: unknown), written
 * with release and read with acquire one byte at a time: a reader sees
 * either the old or the new owner of a slot, and both answer (the old one
 * with MOVED), and a node a byte names is set up before the byte is seen.
 * The nodes: cluster_nodes.c.
 */
#include "cluster.h"
#include "atomic.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "cluster_map.h"
#include "cluster_nodes.h"
#include "cluster_slot.h"
#include "log.h"

static struct {
    int conns, timeout_ms;
    unsigned char slot_node[CLUSTER_SLOTS]; /* atomic bytes: node index + 1 */
    pthread_mutex_t refresh_lock;           /* one reload at a time; guards below */
    unsigned char fresh[CLUSTER_SLOTS];     /* the map being loaded */
    char last_err[RPIPE_ERR_MAX];           /* why the last reload failed */
    unsigned next_asked;                    /* the node a reload asks first */
    long long last_refresh_ms;              /* atomic: when the last reload ended */
    unsigned long long generation;          /* atomic: reloads finished */
    unsigned long long moved, asked, refreshes, refresh_failures; /* atomic counters */
} cl = {.refresh_lock = PTHREAD_MUTEX_INITIALIZER};

static int range_seen(void *ctx, unsigned first, unsigned last, const char *host, int port)
{
    (void)ctx;
    int i = cluster_nodes_index(host, port);
    if (i < 0)
        return -1;
    memset(&cl.fresh[first], i + 1, last - first + 1);
    return 0;
}

/* Under refresh_lock: publishes cl.fresh, retires the nodes it does not
 * name, and logs what changed. */
static void publish_fresh(const struct cluster_node *from)
{
    unsigned changed = 0;
    bool in_map[CLUSTER_NODES_MAX] = {false};
    int primaries = 0;
    for (unsigned s = 0; s < CLUSTER_SLOTS; s++) {
        changed += atomic_get(&cl.slot_node[s], ACQUIRE) != cl.fresh[s];
        atomic_set(&cl.slot_node[s], cl.fresh[s], RELEASE);
        if (cl.fresh[s] != 0 && !in_map[cl.fresh[s] - 1]) {
            in_map[cl.fresh[s] - 1] = true;
            primaries++;
        }
    }
    cluster_nodes_retire_unmapped(in_map);
    if (changed > 0) {
        static struct log_limit lim = LOG_LIMIT_INIT;
        log_info_limited(&lim,
                         "redis cluster: slot map from %s: %u slots changed owner, %d primaries",
                         from->where, changed, primaries);
    }
}

/* Under refresh_lock: loads the map from node i. 0, or -1 with last_err set. */
static int load_from(int i)
{
    struct cluster_node *node = cluster_nodes_at(i);
    struct rpipe_op op = {.argc = 2, .argv = {"CLUSTER", "SLOTS"}, .lens = {7, 5}};
    if (node == NULL || rpipe_call(&node->pipes[0], &op) != 0) {
        snprintf(cl.last_err, sizeof cl.last_err, "%s", node ? op.err : "no such node");
        return -1;
    }
    char why[RPIPE_ERR_MAX - REDIS_HOST_MAX - 32];
    memset(cl.fresh, 0, sizeof cl.fresh);
    int rc = cluster_map_parse_slots(op.reply, node->host, range_seen, NULL, why, sizeof why);
    freeReplyObject(op.reply);
    if (rc <= 0) {
        snprintf(cl.last_err, sizeof cl.last_err, "redis cluster %s: %s", node->where,
                 rc == 0 ? "CLUSTER SLOTS: no slot is served" : why);
        return -1;
    }
    publish_fresh(node);
    return 0;
}

/* Under refresh_lock: asks the known nodes in turn until one answers or
 * two timeouts have gone by (a hung node costs one; the others, whose
 * breakers are open, fail at once). */
static void reload_locked(void)
{
    long long start = clock_mono_ms(), budget = 2LL * cl.timeout_ms;
    int n = cluster_nodes_count(), k;
    for (k = 0; k < n && clock_mono_ms() - start <= budget; k++) {
        int i = (int)((cl.next_asked + (unsigned)k) % (unsigned)n);
        if (load_from(i) == 0) {
            cl.next_asked = (unsigned)i;
            atomic_add(&cl.refreshes, 1, RELAXED);
            break;
        }
    }
    if (k == n || clock_mono_ms() - start > budget) {
        cl.next_asked += (unsigned)k;
        atomic_add(&cl.refresh_failures, 1, RELAXED);
    }
    atomic_set(&cl.last_refresh_ms, clock_mono_ms(), RELAXED);
    atomic_add(&cl.generation, 1, RELEASE);
}

/* Reloads the map unless one ended less than CLUSTER_REFRESH_GAP_MS ago
 * or another worker is loading it (that one's result will do). */
static void cluster_refresh_soon(void)
{
    long long last = atomic_get(&cl.last_refresh_ms, RELAXED);
    if (clock_mono_ms() - last < CLUSTER_REFRESH_GAP_MS || pthread_mutex_trylock(&cl.refresh_lock))
        return;
    reload_locked();
    pthread_mutex_unlock(&cl.refresh_lock);
}

/* Waits for refresh_lock at most one timeout. true when held. */
static bool refresh_lock_within_timeout(void)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until); /* pthread_mutex_timedlock's clock */
    long long ns = until.tv_nsec + (long long)cl.timeout_ms * 1000000LL;
    until.tv_sec += (time_t)(ns / 1000000000LL);
    until.tv_nsec = (long)(ns % 1000000000LL);
    return pthread_mutex_timedlock(&cl.refresh_lock, &until) == 0;
}

/* The node serving slot. When the map does not know, it is loaded first,
 * unless another worker finished a reload while this one waited for it
 * (its result is the answer) or is still loading after a timeout. NULL
 * with err set when no node serves the slot. */
static struct cluster_node *node_for(unsigned slot, char *err, size_t errlen)
{
    int i = atomic_get(&cl.slot_node[slot], ACQUIRE);
    if (i == 0) {
        unsigned long long gen = atomic_get(&cl.generation, ACQUIRE);
        if (!refresh_lock_within_timeout()) {
            snprintf(err, errlen, "redis cluster: slot %u: the slot map is still loading", slot);
            return NULL;
        }
        i = atomic_get(&cl.slot_node[slot], ACQUIRE);
        if (i == 0 && atomic_get(&cl.generation, ACQUIRE) == gen)
            reload_locked();
        i = atomic_get(&cl.slot_node[slot], ACQUIRE);
        if (i == 0)
            snprintf(err, errlen, "redis cluster: no node serves slot %u (%.400s)", slot,
                     cl.last_err[0] ? cl.last_err : "the map is not loaded");
        pthread_mutex_unlock(&cl.refresh_lock);
    }
    struct cluster_node *node = i == 0 ? NULL : cluster_nodes_at(i - 1);
    if (i != 0 && node == NULL)
        snprintf(err, errlen, "redis cluster: slot %u: node %d unknown", slot, i - 1);
    return node;
}

static bool reply_starts(const redisReply *r, const char *word)
{
    return r->type == REDIS_REPLY_ERROR && strncmp(r->str, word, strlen(word)) == 0;
}

static void nap_ms(int ms)
{
    struct timespec ts = {0, (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* Follows a MOVED or ASK: sets *next (and *ask). 1 to send again, 0 when
 * no entry is free for the named node (the reply stands). */
static int follow(struct rpipe_op *op, enum cluster_redirect kind, unsigned slot, const char *host,
                  int port, struct cluster_node **next, bool *ask)
{
    int i = cluster_nodes_index(host, port);
    if (i < 0 || (*next = cluster_nodes_at(i)) == NULL)
        return 0;
    *ask = kind == CLUSTER_ASK;
    if (*ask) {
        atomic_add(&cl.asked, 1, RELAXED);
    } else {
        atomic_add(&cl.moved, 1, RELAXED);
        atomic_set(&cl.slot_node[slot], (unsigned char)(i + 1), RELEASE);
        cluster_refresh_soon();
    }
    freeReplyObject(op->reply);
    op->reply = NULL;
    return 1;
}

/*
 * After a reply from node: follows a MOVED or ASK and returns 1 to send
 * again; a TRYAGAIN also sends again (after a nap; *tryagain counts them).
 * 0 when the reply is the answer (CLUSTERDOWN too: the caller fails on it,
 * and the map reloads).
 */
static int redirected(struct rpipe_op *op, const struct cluster_node *node,
                      struct cluster_node **next, bool *ask, int *tryagain)
{
    unsigned slot;
    char host[REDIS_HOST_MAX];
    int port;
    enum cluster_redirect kind =
        cluster_map_parse_redirect(op->reply, node->host, &slot, host, sizeof host, &port);
    if (kind != CLUSTER_NO_REDIRECT)
        return follow(op, kind, slot, host, port, next, ask);
    if (reply_starts(op->reply, "CLUSTERDOWN"))
        cluster_refresh_soon();
    if (!reply_starts(op->reply, "TRYAGAIN"))
        return 0;
    (*tryagain)++;
    nap_ms(CLUSTER_TRYAGAIN_MS);
    *next = NULL;
    freeReplyObject(op->reply);
    op->reply = NULL;
    return 1;
}

int cluster_call(unsigned slot, unsigned pick, struct rpipe_op *op)
{
    struct cluster_node *next = NULL;
    bool ask = false;
    int tryagain = 0;
    slot &= CLUSTER_SLOTS - 1;
    for (int hop = 0; hop <= CLUSTER_HOPS_MAX; hop++) {
        struct cluster_node *node = next ? next : node_for(slot, op->err, sizeof op->err);
        if (node == NULL)
            return -1;
        op->asking = ask;
        next = NULL;
        ask = false;
        int rc = rpipe_call(&node->pipes[pick % (unsigned)cl.conns], op);
        op->asking = false;
        if (rc != 0) {
            cluster_refresh_soon(); /* a failover moves the slot: learn it */
            return -1;
        }
        if (!redirected(op, node, &next, &ask, &tryagain))
            return 0;
    }
    if (tryagain > 0)
        snprintf(op->err, sizeof op->err,
                 "redis cluster: slot %u is being migrated (TRYAGAIN %d times): a command on "
                 "two of its keys waits for the migration to end",
                 slot, tryagain);
    else
        snprintf(op->err, sizeof op->err, "redis cluster: slot %u: more than %d redirections", slot,
                 CLUSTER_HOPS_MAX);
    return -1;
}

/* Marks in primary[] the nodes the map names. */
static bool map_primaries(bool *primary)
{
    bool covered = true;
    for (unsigned s = 0; s < CLUSTER_SLOTS; s++) {
        int i = atomic_get(&cl.slot_node[s], ACQUIRE);
        if (i == 0)
            covered = false;
        else
            primary[i - 1] = true;
    }
    return covered;
}

int cluster_ping(unsigned pick, char *err, size_t errlen)
{
    bool primary[CLUSTER_NODES_MAX] = {false};
    char why[RPIPE_ERR_MAX] = "";
    if (node_for(0, why, sizeof why) == NULL || !map_primaries(primary)) {
        snprintf(err, errlen, "%s", why[0] ? why : "redis cluster: some slots are not served");
        return -1;
    }
    int n = cluster_nodes_count();
    for (int i = 0; i < n; i++) {
        struct cluster_node *node = cluster_nodes_at(i);
        if (!primary[i] || node == NULL)
            continue;
        struct rpipe_op op = {.argc = 1, .argv = {"PING"}, .lens = {4}};
        if (rpipe_call(&node->pipes[pick % (unsigned)cl.conns], &op) == 0) {
            bool pong = op.reply->type == REDIS_REPLY_STATUS && strcmp(op.reply->str, "PONG") == 0;
            freeReplyObject(op.reply);
            if (pong)
                return 0;
        }
        snprintf(why, sizeof why, "%s", op.err[0] ? op.err : "PING: unexpected reply");
    }
    snprintf(err, errlen, "redis cluster: no primary answers PING (%.400s)", why);
    return -1;
}

void cluster_render_metrics(struct buf *b)
{
    buf_printf(b,
               "# HELP sessionlab_redis_cluster_moved_total MOVED redirections followed.\n"
               "# TYPE sessionlab_redis_cluster_moved_total counter\n"
               "sessionlab_redis_cluster_moved_total %llu\n"
               "# HELP sessionlab_redis_cluster_ask_total ASK redirections followed.\n"
               "# TYPE sessionlab_redis_cluster_ask_total counter\n"
               "sessionlab_redis_cluster_ask_total %llu\n"
               "# HELP sessionlab_redis_cluster_refreshes_total Slot maps loaded.\n"
               "# TYPE sessionlab_redis_cluster_refreshes_total counter\n"
               "sessionlab_redis_cluster_refreshes_total %llu\n"
               "# HELP sessionlab_redis_cluster_refresh_failures_total Slot map reloads no node "
               "answered.\n"
               "# TYPE sessionlab_redis_cluster_refresh_failures_total counter\n"
               "sessionlab_redis_cluster_refresh_failures_total %llu\n",
               atomic_get(&cl.moved, RELAXED), atomic_get(&cl.asked, RELAXED),
               atomic_get(&cl.refreshes, RELAXED), atomic_get(&cl.refresh_failures, RELAXED));
    cluster_nodes_render_breakers(b);
    rpipe_render_batches(b);
}

int cluster_init(const struct redis_url *url, int conns, int timeout_ms, char *err, size_t errlen)
{
    cl.conns = conns > 0 ? conns : 1;
    cl.timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
    memset(cl.slot_node, 0, sizeof cl.slot_node);
    cl.last_refresh_ms = 0;
    if (cluster_nodes_init(url, cl.conns, cl.timeout_ms) != 0) {
        cluster_nodes_fini();
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* No map yet: the first request loads it (cluster_init runs before
     * the server ignores SIGPIPE, so it must not write to a socket). */
    return 0;
}

void cluster_fini(void)
{
    cluster_nodes_fini();
    memset(cl.slot_node, 0, sizeof cl.slot_node);
}

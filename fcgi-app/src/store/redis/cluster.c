/*
 * Redis Cluster routing (cluster.h). The map is an array of 16384 bytes,
 * each the index + 1 of the node serving that slot (0: unknown), read and
 * written one byte at a time with atomics: a reader sees either the old
 * or the new owner of a slot, and both answer (the old one with MOVED).
 * Nodes are only ever added (at most CLUSTER_NODES_MAX, under nodes_lock)
 * and stay until cluster_fini, so a node a reader holds never goes away.
 */
#include "cluster.h"
#include "atomic.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "cluster_map.h"
#include "cluster_slot.h"
#include "host.h"
#include "log.h"
#include "redis_conn.h"

struct cluster_node {
    char host[REDIS_HOST_MAX];
    int port;
    char where[REDIS_HOST_MAX + 16]; /* "host:port", for metrics and errors */
    struct redis_conn *conns;
    struct rpipe *pipes;
};

static struct {
    struct redis_url url; /* credentials for every node */
    int conns, timeout_ms;
    pthread_mutex_t nodes_lock; /* adding a node */
    struct cluster_node *nodes[CLUSTER_NODES_MAX];
    int node_n;                                 /* atomic; nodes[0..node_n) are set */
    unsigned char slot_node[CLUSTER_SLOTS];     /* atomic bytes: node index + 1 */
    pthread_mutex_t refresh_lock;               /* one reload at a time; guards below */
    unsigned char fresh[CLUSTER_SLOTS];         /* the map being loaded */
    char last_err[RPIPE_ERR_MAX];               /* why the last reload failed */
    unsigned next_asked;                        /* the node a reload asks first */
    long long last_refresh_ms;                  /* atomic */
    unsigned long long moved, asked, refreshes; /* atomic counters */
} cl = {.nodes_lock = PTHREAD_MUTEX_INITIALIZER, .refresh_lock = PTHREAD_MUTEX_INITIALIZER};

/* A new node for host:port with its connections (not connected). */
static struct cluster_node *node_new(const char *host, int port)
{
    struct cluster_node *n = calloc(1, sizeof *n);
    if (n == NULL)
        return NULL;
    n->conns = calloc((size_t)cl.conns, sizeof *n->conns);
    n->pipes = calloc((size_t)cl.conns, sizeof *n->pipes);
    if (n->conns == NULL || n->pipes == NULL) {
        free(n->conns);
        free(n->pipes);
        free(n);
        return NULL;
    }
    snprintf(n->host, sizeof n->host, "%s", host);
    n->port = port;
    host_port_format(n->where, sizeof n->where, host, REDIS_HOST_MAX, port);
    struct redis_url u = cl.url;
    u.cluster_n = 0;
    snprintf(u.host, sizeof u.host, "%s", host);
    u.port = port;
    /* A queued op waits for the batch in flight and then its own. */
    int wait_ms = 2 * cl.timeout_ms + 50;
    for (int i = 0; i < cl.conns; i++) {
        redis_conn_init(&n->conns[i], &u, cl.timeout_ms);
        rpipe_init(&n->pipes[i], redis_conn_transport(&n->conns[i]), wait_ms);
    }
    return n;
}

static void node_free(struct cluster_node *n)
{
    for (int i = 0; i < cl.conns; i++)
        rpipe_fini(&n->pipes[i]);
    free(n->pipes);
    free(n->conns);
    free(n);
}

/* The index of node host:port, added when new. -1 when the table is full
 * or memory ran out. */
static int node_index(const char *host, int port)
{
    pthread_mutex_lock(&cl.nodes_lock);
    int n = cl.node_n, found = -1;
    for (int i = 0; i < n && found < 0; i++)
        if (cl.nodes[i]->port == port && strcmp(cl.nodes[i]->host, host) == 0)
            found = i;
    if (found < 0 && n < CLUSTER_NODES_MAX && (cl.nodes[n] = node_new(host, port)) != NULL) {
        found = n;
        atomic_set(&cl.node_n, n + 1, RELEASE);
    }
    pthread_mutex_unlock(&cl.nodes_lock);
    return found;
}

static struct cluster_node *node_at(int i)
{
    return i >= 0 && i < atomic_get(&cl.node_n, ACQUIRE) ? cl.nodes[i] : NULL;
}

static int range_seen(void *ctx, unsigned first, unsigned last, const char *host, int port)
{
    (void)ctx;
    int i = node_index(host, port);
    if (i < 0)
        return -1;
    memset(&cl.fresh[first], i + 1, last - first + 1);
    return 0;
}

/* Under refresh_lock: loads the map from node i. 0, or -1 with last_err set. */
static int load_from(int i)
{
    struct cluster_node *node = node_at(i);
    struct rpipe_op op = {.argc = 2, .argv = {"CLUSTER", "SLOTS"}, .lens = {7, 5}};
    if (rpipe_call(&node->pipes[0], &op) != 0) {
        snprintf(cl.last_err, sizeof cl.last_err, "%s", op.err);
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
    unsigned changed = 0;
    bool primary[CLUSTER_NODES_MAX] = {false};
    for (unsigned s = 0; s < CLUSTER_SLOTS; s++) {
        changed += atomic_get(&cl.slot_node[s], RELAXED) != cl.fresh[s];
        atomic_set(&cl.slot_node[s], cl.fresh[s], RELAXED);
        if (cl.fresh[s] != 0)
            primary[cl.fresh[s] - 1] = true;
    }
    if (changed > 0) {
        static struct log_limit lim = LOG_LIMIT_INIT;
        int np = 0;
        for (int k = 0; k < CLUSTER_NODES_MAX; k++)
            np += primary[k];
        log_info_limited(&lim,
                         "redis cluster: slot map from %s: %u slots changed owner, %d primaries",
                         node->where, changed, np);
    }
    return 0;
}

/* Under refresh_lock: asks every known node in turn until one answers. */
static void reload_locked(void)
{
    atomic_set(&cl.last_refresh_ms, clock_mono_ms(), RELAXED);
    int n = atomic_get(&cl.node_n, ACQUIRE);
    for (int k = 0; k < n; k++) {
        int i = (int)((cl.next_asked + (unsigned)k) % (unsigned)n);
        if (load_from(i) == 0) {
            cl.next_asked = (unsigned)i;
            atomic_add(&cl.refreshes, 1, RELAXED);
            return;
        }
    }
    cl.next_asked++;
}

/* Reloads the map unless one was loaded less than CLUSTER_REFRESH_GAP_MS
 * ago or another worker is loading it (that one's result will do). */
static void cluster_refresh_soon(void)
{
    long long last = atomic_get(&cl.last_refresh_ms, RELAXED);
    if (clock_mono_ms() - last < CLUSTER_REFRESH_GAP_MS || pthread_mutex_trylock(&cl.refresh_lock))
        return;
    reload_locked();
    pthread_mutex_unlock(&cl.refresh_lock);
}

/* The node serving slot; when the map does not know, it is loaded first
 * (waiting for a reload in flight). NULL with err set when none serves it. */
static struct cluster_node *node_for(unsigned slot, char *err, size_t errlen)
{
    int i = atomic_get(&cl.slot_node[slot], RELAXED);
    if (i == 0) {
        pthread_mutex_lock(&cl.refresh_lock);
        i = atomic_get(&cl.slot_node[slot], RELAXED);
        long long last = atomic_get(&cl.last_refresh_ms, RELAXED);
        if (i == 0 && (last == 0 || clock_mono_ms() - last >= CLUSTER_REFRESH_GAP_MS))
            reload_locked();
        i = atomic_get(&cl.slot_node[slot], RELAXED);
        if (i == 0)
            snprintf(err, errlen, "redis cluster: no node serves slot %u (%.400s)", slot,
                     cl.last_err[0] ? cl.last_err : "the map is not loaded");
        pthread_mutex_unlock(&cl.refresh_lock);
    }
    return i == 0 ? NULL : node_at(i - 1);
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

/*
 * After a reply from node: follows a MOVED or ASK (setting *next, and
 * *ask for an ASK) and returns 1 to send again; a TRYAGAIN also sends
 * again. 0 when the reply is the answer (CLUSTERDOWN too: the caller
 * fails on it, and the map reloads).
 */
static int redirected(struct rpipe_op *op, const struct cluster_node *node,
                      struct cluster_node **next, bool *ask)
{
    unsigned slot;
    char host[REDIS_HOST_MAX];
    int port;
    enum cluster_redirect kind =
        cluster_map_parse_redirect(op->reply, node->host, &slot, host, sizeof host, &port);
    if (kind == CLUSTER_NO_REDIRECT) {
        if (reply_starts(op->reply, "CLUSTERDOWN"))
            cluster_refresh_soon();
        if (!reply_starts(op->reply, "TRYAGAIN"))
            return 0;
        nap_ms(CLUSTER_TRYAGAIN_MS);
        *next = NULL;
    } else {
        int i = node_index(host, port);
        if (i < 0)
            return 0; /* no room for another node: the redirection is the answer */
        *next = node_at(i);
        *ask = kind == CLUSTER_ASK;
        if (*ask) {
            atomic_add(&cl.asked, 1, RELAXED);
        } else {
            atomic_add(&cl.moved, 1, RELAXED);
            atomic_set(&cl.slot_node[slot], (unsigned char)(i + 1), RELAXED);
            cluster_refresh_soon();
        }
    }
    freeReplyObject(op->reply);
    op->reply = NULL;
    return 1;
}

int cluster_call(unsigned slot, unsigned pick, struct rpipe_op *op)
{
    struct cluster_node *next = NULL;
    bool ask = false;
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
        if (!redirected(op, node, &next, &ask))
            return 0;
    }
    snprintf(op->err, sizeof op->err, "redis cluster: slot %u: more than %d redirections", slot,
             CLUSTER_HOPS_MAX);
    return -1;
}

/* Marks in primary[] the nodes the map names. */
static bool map_primaries(bool *primary)
{
    bool covered = true;
    for (unsigned s = 0; s < CLUSTER_SLOTS; s++) {
        int i = atomic_get(&cl.slot_node[s], RELAXED);
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
    int n = atomic_get(&cl.node_n, ACQUIRE);
    for (int i = 0; i < n; i++) {
        if (!primary[i])
            continue;
        struct rpipe_op op = {.argc = 1, .argv = {"PING"}, .lens = {4}};
        if (rpipe_call(&cl.nodes[i]->pipes[pick % (unsigned)cl.conns], &op) == 0) {
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
               "sessionlab_redis_cluster_refreshes_total %llu\n",
               atomic_get(&cl.moved, RELAXED), atomic_get(&cl.asked, RELAXED),
               atomic_get(&cl.refreshes, RELAXED));
    rpipe_render_breaker_head(b);
    int n = atomic_get(&cl.node_n, ACQUIRE);
    for (int i = 0; i < n; i++)
        rpipe_render_breakers(b, cl.nodes[i]->pipes, cl.conns, cl.nodes[i]->where);
    rpipe_render_batches(b);
}

int cluster_init(const struct redis_url *url, int conns, int timeout_ms, char *err, size_t errlen)
{
    cl.url = *url;
    cl.conns = conns > 0 ? conns : 1;
    cl.timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
    memset(cl.slot_node, 0, sizeof cl.slot_node);
    cl.last_refresh_ms = 0;
    for (int i = 0; i < url->cluster_n; i++) {
        if (node_index(url->cluster_seeds[i].host, url->cluster_seeds[i].port) < 0) {
            cluster_fini();
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    /* No map yet: the first request loads it (cluster_init runs before
     * the server ignores SIGPIPE, so it must not write to a socket). */
    return 0;
}

void cluster_fini(void)
{
    int n = cl.node_n;
    for (int i = 0; i < n; i++)
        node_free(cl.nodes[i]);
    cl.node_n = 0;
    memset(cl.slot_node, 0, sizeof cl.slot_node);
}

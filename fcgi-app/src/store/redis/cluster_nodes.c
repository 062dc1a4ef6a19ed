/* The Redis Cluster node table (cluster_nodes.h). */
#include "cluster_nodes.h"
#include "atomic.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "host.h"
#include "log.h"

static struct {
    struct redis_url url; /* credentials for every node */
    int conns, timeout_ms;
    pthread_mutex_t lock; /* adding, reviving or reusing a node */
    struct cluster_node *nodes[CLUSTER_NODES_MAX];
    int n;           /* atomic; nodes[0..n) are set */
    long long grace; /* ms a retired entry waits before reuse */
} tab = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Points node n at host:port with fresh connections (not connected). */
static void node_setup(struct cluster_node *n, const char *host, int port)
{
    snprintf(n->host, sizeof n->host, "%s", host);
    n->port = port;
    host_port_format(n->where, sizeof n->where, host, REDIS_HOST_MAX, port);
    struct redis_url u = tab.url;
    u.cluster_n = 0;
    snprintf(u.host, sizeof u.host, "%s", host);
    u.port = port;
    /* A queued op waits for the batch in flight and then its own. */
    int wait_ms = 2 * tab.timeout_ms + 50;
    for (int i = 0; i < tab.conns; i++) {
        redis_conn_init(&n->conns[i], &u, tab.timeout_ms);
        rpipe_init(&n->pipes[i], redis_conn_transport(&n->conns[i]), wait_ms);
    }
    atomic_set(&n->retired_ms, 0, RELEASE);
}

static void node_teardown(struct cluster_node *n)
{
    for (int i = 0; i < tab.conns; i++)
        rpipe_fini(&n->pipes[i]);
}

static struct cluster_node *node_new(const char *host, int port)
{
    struct cluster_node *n = calloc(1, sizeof *n);
    if (n == NULL)
        return NULL;
    n->conns = calloc((size_t)tab.conns, sizeof *n->conns);
    n->pipes = calloc((size_t)tab.conns, sizeof *n->pipes);
    if (n->conns == NULL || n->pipes == NULL) {
        free(n->conns);
        free(n->pipes);
        free(n);
        return NULL;
    }
    node_setup(n, host, port);
    return n;
}

/* Under lock: a retired entry out of use long enough to reuse, or -1. */
static int reusable_locked(void)
{
    long long grace = tab.grace, now = clock_mono_ms();
    for (int i = 0; i < tab.n; i++) {
        long long r = atomic_get(&tab.nodes[i]->retired_ms, ACQUIRE);
        if (r != 0 && now - r >= grace)
            return i;
    }
    return -1;
}

/* Under lock: a new entry for host:port. -1 when none is free. */
static int add_locked(const char *host, int port)
{
    int n = tab.n;
    if (n < CLUSTER_NODES_MAX) {
        if ((tab.nodes[n] = node_new(host, port)) == NULL)
            return -1;
        atomic_set(&tab.n, n + 1, RELEASE);
        return n;
    }
    int i = reusable_locked();
    if (i >= 0) {
        node_teardown(tab.nodes[i]);
        node_setup(tab.nodes[i], host, port);
        return i;
    }
    static struct log_limit lim = LOG_LIMIT_INIT;
    log_error_limited(&lim,
                      "redis cluster: every one of %d node entries is in use; %s:%d left out "
                      "until an entry has been unused for %d s",
                      CLUSTER_NODES_MAX, host, port, (int)(tab.grace / 1000));
    return -1;
}

int cluster_nodes_index(const char *host, int port)
{
    pthread_mutex_lock(&tab.lock);
    int found = -1;
    for (int i = 0; i < tab.n && found < 0; i++)
        if (tab.nodes[i]->port == port && strcmp(tab.nodes[i]->host, host) == 0)
            found = i;
    if (found >= 0)
        atomic_set(&tab.nodes[found]->retired_ms, 0, RELEASE);
    else
        found = add_locked(host, port);
    pthread_mutex_unlock(&tab.lock);
    return found;
}

struct cluster_node *cluster_nodes_at(int i)
{
    return i >= 0 && i < atomic_get(&tab.n, ACQUIRE) ? tab.nodes[i] : NULL;
}

int cluster_nodes_count(void)
{
    return atomic_get(&tab.n, ACQUIRE);
}

void cluster_nodes_retire_unmapped(const bool *in_map)
{
    pthread_mutex_lock(&tab.lock);
    long long now = clock_mono_ms();
    for (int i = 0; i < tab.n; i++) {
        struct cluster_node *n = tab.nodes[i];
        bool retired = atomic_get(&n->retired_ms, ACQUIRE) != 0;
        if (!in_map[i] && !n->seed && !retired)
            atomic_set(&n->retired_ms, now, RELEASE);
        else if (in_map[i] && retired)
            atomic_set(&n->retired_ms, 0, RELEASE);
    }
    pthread_mutex_unlock(&tab.lock);
}

void cluster_nodes_render_breakers(struct buf *b)
{
    rpipe_render_breaker_head(b);
    int n = cluster_nodes_count();
    for (int i = 0; i < n; i++)
        if (atomic_get(&tab.nodes[i]->retired_ms, ACQUIRE) == 0)
            rpipe_render_breakers(b, tab.nodes[i]->pipes, tab.conns, tab.nodes[i]->where);
}

int cluster_nodes_init(const struct redis_url *url, int conns, int timeout_ms)
{
    tab.url = *url;
    tab.conns = conns > 0 ? conns : 1;
    tab.timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
    tab.grace = 4LL * tab.timeout_ms + 1000;
    if (tab.grace < CLUSTER_NODE_GRACE_MS)
        tab.grace = CLUSTER_NODE_GRACE_MS;
    for (int i = 0; i < url->cluster_n; i++) {
        int k = cluster_nodes_index(url->cluster_seeds[i].host, url->cluster_seeds[i].port);
        if (k < 0)
            return -1;
        tab.nodes[k]->seed = true;
    }
    return 0;
}

void cluster_nodes_set_grace_ms(long long ms)
{
    tab.grace = ms;
}

void cluster_nodes_fini(void)
{
    for (int i = 0; i < tab.n; i++) {
        node_teardown(tab.nodes[i]);
        free(tab.nodes[i]->pipes);
        free(tab.nodes[i]->conns);
        free(tab.nodes[i]);
    }
    tab.n = 0;
}

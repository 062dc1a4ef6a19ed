/*
 * The Redis Cluster nodes a process talks to (cluster.c), each with its
 * own shared, pipelined connections. A node is added when a slot map, a
 * MOVED or an ASK names a new address; a node the latest slot map no
 * longer names (a pod that got a new IP, a removed primary) is retired,
 * and its entry is reused for a new address once it has been out of use
 * for CLUSTER_NODE_GRACE (or four timeouts, if longer): no request can
 * still hold it then, since a request's Redis call is bounded by its
 * queue wait and timeout. Seeds are never retired.
 */
#ifndef SESSIONLAB_CLUSTER_NODES_H
#define SESSIONLAB_CLUSTER_NODES_H

#include <stdbool.h>

#include "buf.h"
#include "redis_conn.h"
#include "redis_pipe.h"
#include "redis_url.h"

#define CLUSTER_NODES_MAX 32
#define CLUSTER_NODE_GRACE_MS 10000

struct cluster_node {
    char host[REDIS_HOST_MAX];
    int port;
    char where[REDIS_HOST_MAX + 16]; /* "host:port" ("[v6]:port"), for metrics and errors */
    bool seed;
    long long retired_ms; /* atomic; 0: in use */
    struct redis_conn *conns;
    struct rpipe *pipes;
};

/* Keeps url's credentials and sizes for new nodes; adds the seeds. 0, or
 * -1 (out of memory). */
int cluster_nodes_init(const struct redis_url *url, int conns, int timeout_ms);
void cluster_nodes_fini(void);

/* The index of node host:port (revived when retired), added or put in a
 * reusable entry when new. -1 when every entry is in use (logged). */
int cluster_nodes_index(const char *host, int port);

/* Node i (0 <= i < cluster_nodes_count()), or NULL. */
struct cluster_node *cluster_nodes_at(int i);
int cluster_nodes_count(void);

/* After a slot map loaded: in_map[i] says whether it names node i; the
 * others (but seeds) are retired from now. */
void cluster_nodes_retire_unmapped(const bool *in_map);

/* Sets how long a retired entry waits before reuse (the default: the
 * larger of CLUSTER_NODE_GRACE_MS and four timeouts). For the unit tests. */
void cluster_nodes_set_grace_ms(long long ms);

/* The breakers of the nodes in use. */
void cluster_nodes_render_breakers(struct buf *b);

#endif

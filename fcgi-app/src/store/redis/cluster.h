/*
 * Redis Cluster routing for the Redis store: the process's slot map and
 * its nodes, each with its own shared, pipelined connections (redis_pipe.h
 * over redis_conn.h). A command goes to the primary the map names for its
 * key's slot; a MOVED reply updates the map (and reloads it with CLUSTER
 * SLOTS, at most every CLUSTER_REFRESH_GAP_MS) and the command is sent
 * again; an ASK reply sends it once to the named node, preceded by ASKING
 * on the same connection; TRYAGAIN (a multi-key command during a slot's
 * migration) waits a moment and tries again. A failed node's connection
 * fails its commands (the store answers 503) and makes the map reload, so
 * a promoted replica takes over without a restart. The map is loaded on
 * first use, from the seed nodes of the URL, then from any node it knows.
 */
#ifndef SESSIONLAB_CLUSTER_H
#define SESSIONLAB_CLUSTER_H

#include <stddef.h>

#include "buf.h"
#include "redis_pipe.h"
#include "redis_url.h"

/* Redirections followed for one command before it fails. */
#define CLUSTER_HOPS_MAX 5
#define CLUSTER_REFRESH_GAP_MS 100
#define CLUSTER_TRYAGAIN_MS 20

/* Sets up the seed nodes of url (url->cluster_n >= 1), conns connections
 * per node, timeout_ms per connect and reply. Connects nothing yet. 0, or
 * -1 with err set (out of memory). */
int cluster_init(const struct redis_url *url, int conns, int timeout_ms, char *err, size_t errlen);
void cluster_fini(void);

/* Runs op (a command on a key of slot) on the node serving slot, over its
 * connection pick % conns, following redirections. 0 with op->reply set
 * (an error reply too), or -1 with op->err set. */
int cluster_call(unsigned slot, unsigned pick, struct rpipe_op *op);

/* 0 when the map covers every slot and at least one primary answers PING;
 * else -1 with err naming what failed. */
int cluster_ping(unsigned pick, char *err, size_t errlen);

/* Counters of redirections and map reloads (and failed reloads), and the
 * breakers of the nodes in use. */
void cluster_render_metrics(struct buf *b);

#endif

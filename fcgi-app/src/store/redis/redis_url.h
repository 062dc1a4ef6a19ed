/*
 * SESSIONLAB_REDIS_URL parsing:
 *   redis://[[user]:password@]host[:port][/db]   (host may be [v6addr])
 *   unix:/path[?db=N]
 *   redis-sentinel://[[user]:password@]host[:port][,host[:port]...]/master[/db]
 *   redis-cluster://[[user]:password@]host:port[,host:port...]   (seed nodes)
 * Percent-escapes in user and password are decoded. Parsing validates fully:
 * on error it returns -1 and writes one human sentence to err.
 */
#ifndef SESSIONLAB_REDIS_URL_H
#define SESSIONLAB_REDIS_URL_H

#include <stddef.h>

#define REDIS_URL_MAX 1024
#define REDIS_HOST_MAX 256
#define REDIS_CRED_MAX 256
#define REDIS_SENTINELS_MAX 8
#define REDIS_MASTER_NAME_MAX 128
#define REDIS_SENTINEL_DEFAULT_PORT 26379
#define REDIS_SEEDS_MAX 8

/* One sentinel's or cluster seed node's address. */
struct redis_endpoint {
    char host[REDIS_HOST_MAX]; /* name or address, no brackets */
    int port;                  /* 1..65535, default 26379 */
};

enum redis_url_kind { REDIS_URL_TCP, REDIS_URL_UNIX };

struct redis_url {
    enum redis_url_kind kind;
    char host[REDIS_HOST_MAX];     /* TCP: host name or address, no brackets */
    int port;                      /* TCP: 1..65535, default 6379 */
    char path[REDIS_HOST_MAX];     /* UNIX: socket path */
    char user[REDIS_CRED_MAX];     /* empty: none (AUTH password only) */
    char password[REDIS_CRED_MAX]; /* empty: no AUTH */
    int db;                        /* 0..? default 0 */
    /*
     * Sentinel form: kind is REDIS_URL_TCP, sentinel_n >= 1 and host/port
     * hold the first sentinel's address (a reachable TCP address, so code
     * that only knows TCP still sees something valid). The store must not
     * use host/port as the data node then: it asks the sentinels for the
     * address of master_name. user/password/db apply to the master; the
     * sentinels are asked without AUTH. sentinel_n == 0 otherwise.
     */
    int sentinel_n;
    struct redis_endpoint sentinels[REDIS_SENTINELS_MAX];
    char master_name[REDIS_MASTER_NAME_MAX];
    /*
     * Cluster form: kind is REDIS_URL_TCP, cluster_n >= 1 seed nodes (the
     * first also in host/port, as for Sentinel), db 0; the store learns
     * the other nodes from them (cluster.h). cluster_n == 0 otherwise.
     */
    int cluster_n;
    struct redis_endpoint cluster_seeds[REDIS_SEEDS_MAX];
};

int redis_url_parse(const char *text, struct redis_url *out, char *err, size_t errlen);

#endif

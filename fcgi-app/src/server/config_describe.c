/* config_describe: the one-line summary of a configuration the app logs at
 * start (never the Redis password). */
#include <stdio.h>

#include "config.h"
#include "host.h"

/* Appends "h1:p1,h2:p2" of the n endpoints at buf + n0; the new length. */
static size_t describe_list(const struct redis_endpoint *e, int count, char *buf, size_t n0,
                            size_t len)
{
    size_t n = n0;
    char hp[REDIS_HOST_MAX + 16];
    for (int i = 0; i < count && n < len; i++) {
        host_port_format(hp, sizeof hp, e[i].host, REDIS_HOST_MAX, e[i].port);
        n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? "," : "", hp);
    }
    return n;
}

/* "host:port", "unix:/path", "sentinel:master@h1:p1,h2:p2" or
 * "cluster:h1:p1,h2:p2" (the seeds). */
static void describe_redis(const struct redis_url *r, char *buf, size_t len)
{
    if (r->kind == REDIS_URL_UNIX) {
        snprintf(buf, len, "unix:%s", r->path);
    } else if (r->cluster_n > 0) {
        size_t n = (size_t)snprintf(buf, len, "cluster:");
        describe_list(r->cluster_seeds, r->cluster_n, buf, n, len);
    } else if (r->sentinel_n > 0) {
        size_t n = (size_t)snprintf(buf, len, "sentinel:%s@", r->master_name);
        describe_list(r->sentinels, r->sentinel_n, buf, n, len);
    } else {
        snprintf(buf, len, "%s:%d", r->host, r->port);
    }
}

void config_describe(const struct config *cfg, char *buf, size_t len)
{
    const struct redis_url *r = &cfg->redis;
    char where[1024];
    describe_redis(r, where, sizeof where);
    snprintf(buf, len,
             "listen=%s store=%s workers=%d ttl=%lds max_age=%lds cookie=%s secure=%s instance=%s "
             "max_sessions=%ld redis=%s db=%d auth=%s prefix=%s timeout=%dms connections=%d",
             cfg->listen, cfg->store, cfg->workers, cfg->ttl, cfg->max_age, cfg->cookie_name,
             cfg->cookie_secure == COOKIE_SECURE_AUTO     ? "auto"
             : cfg->cookie_secure == COOKIE_SECURE_ALWAYS ? "always"
                                                          : "never",
             cfg->instance, cfg->max_sessions, where, r->db, r->password[0] ? "yes" : "no",
             cfg->redis_prefix, cfg->redis_timeout_ms, cfg->redis_connections);
}

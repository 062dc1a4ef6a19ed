/* config_describe: the one-line summary of a configuration the app logs at
 * start (never the Redis password). */
#include <stdio.h>

#include "config.h"

/* "host:port", "unix:/path" or "sentinel:master@h1:p1,h2:p2". */
static void describe_redis(const struct redis_url *r, char *buf, size_t len)
{
    if (r->kind == REDIS_URL_UNIX) {
        snprintf(buf, len, "unix:%s", r->path);
        return;
    }
    if (r->sentinel_n == 0) {
        snprintf(buf, len, "%s:%d", r->host, r->port);
        return;
    }
    size_t n = (size_t)snprintf(buf, len, "sentinel:%s@", r->master_name);
    for (int i = 0; i < r->sentinel_n && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, "%s%s:%d", i ? "," : "", r->sentinels[i].host,
                              r->sentinels[i].port);
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

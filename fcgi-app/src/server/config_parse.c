/* config_parse: the settings whose check is their own (listen, store,
 * redis-url), and the number and text checks the table's generic setters
 * share with them. */
#include "config_parse.h"

#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

int config_parse_long(const char *val, long lo, long hi, long *out)
{
    if (*val == '\0' || strspn(val, "0123456789") != strlen(val))
        return -1;
    errno = 0;
    long v = strtol(val, NULL, 10);
    if (errno != 0 || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int config_copy_str(char *dst, size_t cap, const char *val)
{
    size_t n = strlen(val);
    if (n == 0 || n >= cap)
        return -1;
    memcpy(dst, val, n + 1);
    return 0;
}

static int parse_port(const char *p)
{
    long port;
    return config_parse_long(p, 1, 65535, &port) == 0 ? (int)port : -1;
}

/* libfcgi binds IPv4 only and exits when it cannot resolve the host, so the
 * name is checked here, where a failure can name the setting. */
static bool resolves_ipv4(const char *host, size_t len)
{
    char name[LISTEN_MAX];
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (len >= sizeof name)
        return false;
    memcpy(name, host, len);
    name[len] = '\0';
    if (getaddrinfo(name, NULL, &hints, &res) != 0)
        return false;
    freeaddrinfo(res);
    return true;
}

/* HOST:PORT or :PORT, HOST an IPv4 name (libfcgi binds IPv4 only). 0, or
 * -1 with why. */
static int check_tcp_listen(const char *val, char *why, size_t len)
{
    const char *colon = strrchr(val, ':');
    size_t hostlen = colon ? (size_t)(colon - val) : 0;
    if (!colon || parse_port(colon + 1) < 0 ||
        strspn(val, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
            hostlen) {
        snprintf(why, len, "'%s' is not HOST:PORT, :PORT or unix:/path (port 1-65535)", val);
        return -1;
    }
    if (hostlen > 0 && !resolves_ipv4(val, hostlen)) {
        snprintf(why, len, "'%.*s' does not resolve to an IPv4 address", (int)hostlen, val);
        return -1;
    }
    return 0;
}

int config_set_listen(struct config *cfg, const char *val, char *why, size_t len)
{
    if (strncmp(val, "unix:", 5) == 0) {
        const char *path = val + 5;
        if (path[0] != '/' || strlen(path) >= 108) {
            snprintf(why, len, "'%s' needs an absolute socket path shorter than 108 bytes", val);
            return -1;
        }
    } else if (check_tcp_listen(val, why, len) < 0) {
        return -1;
    }
    if (config_copy_str(cfg->listen, sizeof cfg->listen, val) < 0) {
        snprintf(why, len, "value is empty or too long");
        return -1;
    }
    return 0;
}

int config_set_store(struct config *cfg, const char *val, char *why, size_t len)
{
    if (store_ops_find(val) == NULL) {
        snprintf(why, len, "'%s' is not a store (use memory or redis)", val);
        return -1;
    }
    snprintf(cfg->store, sizeof cfg->store, "%s", val);
    return 0;
}

int config_set_redis_url(struct config *cfg, const char *val, char *why, size_t len)
{
    char err[256];
    if (redis_url_parse(val, &cfg->redis, err, sizeof err) < 0) {
        snprintf(why, len, "%s", err);
        return -1;
    }
    if (config_copy_str(cfg->redis_url_text, sizeof cfg->redis_url_text, val) < 0) {
        snprintf(why, len, "value is too long");
        return -1;
    }
    return 0;
}

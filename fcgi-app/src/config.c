#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"

/* Default worker threads, by store (bench/results: on 2 CPUs the memory
 * store costs least CPU per request with few workers, the Redis store needs
 * more to keep requests in flight while one waits on its round trip). */
#define DEFAULT_WORKERS_MEMORY 2
#define DEFAULT_WORKERS_REDIS 8

/* One setting: its variable, its flag, and a parser that stores a valid
 * value into cfg or writes the reason into why. */
struct setting {
    const char *env;
    const char *flag;
    const char *help;
    int (*parse)(struct config *cfg, const char *val, char *why, size_t len);
};

static int parse_long(const char *val, long lo, long hi, long *out)
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

static int copy_str(char *dst, size_t cap, const char *val)
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
    return parse_long(p, 1, 65535, &port) == 0 ? (int)port : -1;
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

static int set_listen(struct config *cfg, const char *val, char *why, size_t len)
{
    if (strncmp(val, "unix:", 5) == 0) {
        const char *path = val + 5;
        if (path[0] != '/' || strlen(path) >= 108) {
            snprintf(why, len, "'%s' needs an absolute socket path shorter than 108 bytes", val);
            return -1;
        }
    } else {
        const char *colon = strrchr(val, ':');
        size_t hostlen = colon ? (size_t)(colon - val) : 0;
        if (!colon || parse_port(colon + 1) < 0 ||
            strspn(val, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != hostlen) {
            snprintf(why, len, "'%s' is not HOST:PORT, :PORT or unix:/path (port 1-65535)", val);
            return -1;
        }
        if (hostlen > 0 && !resolves_ipv4(val, hostlen)) {
            snprintf(why, len, "'%.*s' does not resolve to an IPv4 address", (int)hostlen, val);
            return -1;
        }
    }
    if (copy_str(cfg->listen, sizeof cfg->listen, val) < 0) {
        snprintf(why, len, "value is empty or too long");
        return -1;
    }
    return 0;
}

static int set_store(struct config *cfg, const char *val, char *why, size_t len)
{
    if (store_ops_find(val) == NULL) {
        snprintf(why, len, "'%s' is not a store (use memory or redis)", val);
        return -1;
    }
    snprintf(cfg->store, sizeof cfg->store, "%s", val);
    return 0;
}

static int set_redis_url(struct config *cfg, const char *val, char *why, size_t len)
{
    char err[256];
    if (redis_url_parse(val, &cfg->redis, err, sizeof err) < 0) {
        snprintf(why, len, "%s", err);
        return -1;
    }
    if (copy_str(cfg->redis_url_text, sizeof cfg->redis_url_text, val) < 0) {
        snprintf(why, len, "value is too long");
        return -1;
    }
    return 0;
}

/* Parses a whole number from lo to hi into *out; the reason in why. */
static int set_int(int *out, const char *val, long lo, long hi, const char *unit, char *why,
                   size_t len)
{
    long v;
    if (parse_long(val, lo, hi, &v) < 0) {
        snprintf(why, len, "'%s' is not a whole number%s from %ld to %ld", val, unit, lo, hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int set_redis_timeout(struct config *cfg, const char *val, char *why, size_t len)
{
    return set_int(&cfg->redis_timeout_ms, val, 1, 60000, " of milliseconds", why, len);
}

static int set_redis_prefix(struct config *cfg, const char *val, char *why, size_t len)
{
    for (const char *p = val; *p; p++) {
        if (*p <= ' ' || *p > '~') {
            snprintf(why, len, "the prefix may hold printable ASCII only, no spaces");
            return -1;
        }
    }
    if (copy_str(cfg->redis_prefix, sizeof cfg->redis_prefix, val) < 0) {
        snprintf(why, len, "the prefix must be 1 to %d bytes", REDIS_PREFIX_MAX - 1);
        return -1;
    }
    return 0;
}

static int set_max_age(struct config *cfg, const char *val, char *why, size_t len)
{
    if (parse_long(val, 0, 31536000, &cfg->max_age) < 0) {
        snprintf(why, len, "'%s' is not a whole number of seconds from 0 (none) to 31536000", val);
        return -1;
    }
    return 0;
}

static int set_ttl(struct config *cfg, const char *val, char *why, size_t len)
{
    if (parse_long(val, 1, 31536000, &cfg->ttl) < 0) {
        snprintf(why, len, "'%s' is not a whole number of seconds from 1 to 31536000", val);
        return -1;
    }
    return 0;
}

/* RFC 6265 cookie-name: an RFC 2616 token. */
static int set_cookie_name(struct config *cfg, const char *val, char *why, size_t len)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~0123456789"
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    if (strspn(val, tchar) != strlen(val) ||
        copy_str(cfg->cookie_name, sizeof cfg->cookie_name, val) < 0) {
        snprintf(why, len, "'%s' is not a cookie name (1-%d token characters)", val, COOKIE_NAME_MAX);
        return -1;
    }
    return 0;
}

static int set_cookie_secure(struct config *cfg, const char *val, char *why, size_t len)
{
    if (strcmp(val, "auto") == 0)
        cfg->cookie_secure = COOKIE_SECURE_AUTO;
    else if (strcmp(val, "always") == 0)
        cfg->cookie_secure = COOKIE_SECURE_ALWAYS;
    else if (strcmp(val, "never") == 0)
        cfg->cookie_secure = COOKIE_SECURE_NEVER;
    else {
        snprintf(why, len, "'%s' is not auto, always or never", val);
        return -1;
    }
    return 0;
}

static int set_redis_connections(struct config *cfg, const char *val, char *why, size_t len)
{
    return set_int(&cfg->redis_connections, val, 1, 16, "", why, len);
}

static int set_workers(struct config *cfg, const char *val, char *why, size_t len)
{
    return set_int(&cfg->workers, val, 1, 1024, "", why, len);
}

static int set_max_sessions(struct config *cfg, const char *val, char *why, size_t len)
{
    if (parse_long(val, 1, 100000000, &cfg->max_sessions) < 0) {
        snprintf(why, len, "'%s' is not a whole number from 1 to 100000000", val);
        return -1;
    }
    return 0;
}

static int valid_instance(const char *val)
{
    static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
    size_t n = strlen(val);
    return n > 0 && n <= INSTANCE_MAX && strspn(val, ok) == n;
}

static int set_instance(struct config *cfg, const char *val, char *why, size_t len)
{
    if (!valid_instance(val)) {
        snprintf(why, len, "'%s' must be 1-%d characters of A-Z a-z 0-9 . _ -", val, INSTANCE_MAX);
        return -1;
    }
    snprintf(cfg->instance, sizeof cfg->instance, "%s", val);
    return 0;
}

static const struct setting settings[] = {
    {"SESSIONLAB_LISTEN", "listen", "FastCGI socket: HOST:PORT, :PORT or unix:/path [127.0.0.1:9000]", set_listen},
    {"SESSIONLAB_STORE", "store", "session store: memory or redis [memory]", set_store},
    {"SESSIONLAB_REDIS_URL", "redis-url", "redis://[[user]:password@]host[:port][/db], unix:/path[?db=N] or redis-sentinel://host[:port][,host[:port]...]/master[/db] [redis://127.0.0.1:6379/0]", set_redis_url},
    {"SESSIONLAB_REDIS_TIMEOUT_MS", "redis-timeout-ms", "Redis connect and command timeout, ms [200]", set_redis_timeout},
    {"SESSIONLAB_REDIS_CONNECTIONS", "redis-connections", "Redis connections shared by all workers, pipelined [1]", set_redis_connections},
    {"SESSIONLAB_REDIS_PREFIX", "redis-prefix", "Redis key prefix [sessionlab:session:]", set_redis_prefix},
    {"SESSIONLAB_TTL", "ttl", "idle timeout in seconds, sliding [1800]", set_ttl},
    {"SESSIONLAB_MAX_AGE", "max-age", "absolute session lifetime in seconds, however busy; 0 = none [0]", set_max_age},
    {"SESSIONLAB_COOKIE_NAME", "cookie-name", "session cookie name [SESSION]", set_cookie_name},
    {"SESSIONLAB_COOKIE_SECURE", "cookie-secure", "Secure attribute: auto (HTTPS requests), always, never [auto]", set_cookie_secure},
    {"SESSIONLAB_WORKERS", "workers", "FastCGI worker threads: requests served at once [2 with the memory store, 8 with redis]", set_workers},
    {"SESSIONLAB_MAX_SESSIONS", "max-sessions", "memory store cap; least recently used evicted [40000: 75 % of a 256 MiB limit at worst]", set_max_sessions},
    {"SESSIONLAB_INSTANCE", "instance", "name shown as Hostname [gethostname()]", set_instance},
};

#define NSETTINGS (sizeof settings / sizeof settings[0])

static void config_defaults(struct config *cfg)
{
    char why[256];
    memset(cfg, 0, sizeof *cfg);
    set_listen(cfg, "127.0.0.1:9000", why, sizeof why);
    set_store(cfg, "memory", why, sizeof why);
    set_redis_url(cfg, "redis://127.0.0.1:6379/0", why, sizeof why);
    set_redis_prefix(cfg, "sessionlab:session:", why, sizeof why);
    cfg->redis_timeout_ms = 200;
    cfg->redis_connections = 1;
    cfg->ttl = 1800;
    cfg->max_age = 0;
    set_cookie_name(cfg, "SESSION", why, sizeof why);
    cfg->cookie_secure = COOKIE_SECURE_AUTO;
    cfg->workers = 0; /* by store, once the store is known */
    cfg->max_sessions = 40000; /* x mem_budget_session_bytes() <= 75 % of 256 MiB */
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0 || !valid_instance(host))
        snprintf(host, sizeof host, "sessionlab");
    memcpy(cfg->instance, host, strlen(host) + 1); /* valid_instance: fits */
}

static const char *env_get(char **env, const char *name)
{
    size_t n = strlen(name);
    for (char **e = env; e && *e; e++)
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

static void usage(char *out, size_t outlen)
{
    size_t n = (size_t)snprintf(out, outlen,
        "usage: sessionlab-app [--FLAG=VALUE | --FLAG VALUE]...\n"
        "FastCGI responder for sessionlab. Every flag has an environment variable;\n"
        "flags win over variables. Defaults in brackets.\n\n");
    for (size_t i = 0; i < NSETTINGS && n < outlen; i++)
        n += (size_t)snprintf(out + n, outlen - n, "  --%-18s %-28s %s\n",
                              settings[i].flag, settings[i].env, settings[i].help);
    if (n < outlen)
        snprintf(out + n, outlen - n, "  --help, --version\n");
}

static const struct setting *find_flag(const char *name, size_t len)
{
    for (size_t i = 0; i < NSETTINGS; i++)
        if (strlen(settings[i].flag) == len && strncmp(settings[i].flag, name, len) == 0)
            return &settings[i];
    return NULL;
}

static int apply_env(struct config *cfg, char **env, char *err, size_t errlen)
{
    for (size_t i = 0; i < NSETTINGS; i++) {
        const char *val = env_get(env, settings[i].env);
        char why[512];
        if (val && settings[i].parse(cfg, val, why, sizeof why) < 0) {
            snprintf(err, errlen, "%s: %s", settings[i].env, why);
            return -1;
        }
    }
    return 0;
}

/* Applies argv; 1 when --help/--version was handled, -1 on a bad flag. */
static int apply_flags(struct config *cfg, int argc, char **argv,
                       char *out, size_t outlen, char *err, size_t errlen)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage(out, outlen);
            return 1;
        }
        if (strcmp(arg, "--version") == 0) {
            snprintf(out, outlen, "sessionlab-app %s\n", SESSIONLAB_VERSION);
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument '%s' (see --help)", arg);
            return -1;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t namelen = eq ? (size_t)(eq - name) : strlen(name);
        const struct setting *s = find_flag(name, namelen);
        if (!s) {
            snprintf(err, errlen, "unknown flag '%.*s' (see --help)", (int)(namelen + 2), arg);
            return -1;
        }
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        char why[512];
        if (!val) {
            snprintf(err, errlen, "--%s: needs a value", s->flag);
            return -1;
        }
        if (s->parse(cfg, val, why, sizeof why) < 0) {
            snprintf(err, errlen, "--%s: %s", s->flag, why);
            return -1;
        }
    }
    return 0;
}

enum config_result config_load(struct config *cfg, int argc, char **argv,
                               char **env, char *out, size_t outlen,
                               char *err, size_t errlen)
{
    config_defaults(cfg);
    if (apply_env(cfg, env, err, errlen) < 0)
        return CONFIG_ERROR;
    int r = apply_flags(cfg, argc, argv, out, outlen, err, errlen);
    if (r < 0)
        return CONFIG_ERROR;
    if (cfg->workers == 0)
        cfg->workers = strcmp(cfg->store, "redis") == 0 ? DEFAULT_WORKERS_REDIS : DEFAULT_WORKERS_MEMORY;
    return r == 1 ? CONFIG_EXIT_OK : CONFIG_OK;
}

#include "config.h"
#include "config_parse.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Default worker threads, by store (bench/results: on 2 CPUs the memory
 * store costs least CPU per request with few workers, the Redis store needs
 * more to keep requests in flight while one waits on its round trip). */
#define DEFAULT_WORKERS_MEMORY 2
#define DEFAULT_WORKERS_REDIS 8

/*
 * The settings, as a table (nginx's ngx_command_t is the model): one row per
 * setting with its variable, flag, kind, field (offset and size), bounds or
 * allowed bytes, default and help. Generic setters parse each kind; a
 * setting whose check is its own (listen, store, redis-url) has a function
 * (config_parse.c).
 * Defaults are parsed by the same setters, so a default is valid by
 * construction. --help and the README's table (tests/docs/config-table-test)
 * come from these rows.
 */
enum setting_kind {
    SETTING_NUM,  /* a whole number lo..hi in an int or long field */
    SETTING_ENUM, /* one of names ("a|b|c"), stored as its index in an int field */
    SETTING_TEXT, /* 1..size-1 bytes of allowed (NULL: printable ASCII, no space) */
    SETTING_FUNC, /* parse() checks and stores */
};

struct setting {
    const char *env;
    const char *flag;
    enum setting_kind kind;
    size_t offset;       /* of the field in struct config */
    size_t size;         /* of the field */
    long lo, hi;         /* SETTING_NUM */
    const char *allowed; /* SETTING_TEXT: the bytes; SETTING_ENUM: the names */
    const char *what;    /* in messages: the unit, or what allowed means */
    int (*parse)(struct config *cfg, const char *val, char *why, size_t len);
    const char *def;   /* parsed as a value at start; NULL: none */
    const char *shown; /* the default as --help and README show it; NULL: def */
    const char *help;
};

#define FIELD(f) .offset = offsetof(struct config, f), .size = sizeof(((struct config *)0)->f)

static int set_num(const struct setting *s, struct config *cfg, const char *val, char *why,
                   size_t len)
{
    long v;
    if (config_parse_long(val, s->lo, s->hi, &v) < 0) {
        snprintf(why, len, "'%s' is not a whole number%s from %ld to %ld", val, s->what, s->lo,
                 s->hi);
        return -1;
    }
    char *field = (char *)cfg + s->offset;
    if (s->size == sizeof(int)) {
        int iv = (int)v;
        memcpy(field, &iv, sizeof iv);
    } else {
        memcpy(field, &v, sizeof v);
    }
    return 0;
}

static int set_enum(const struct setting *s, struct config *cfg, const char *val, char *why,
                    size_t len)
{
    size_t n = strlen(val);
    int i = 0;
    for (const char *p = s->allowed; *p; i++) {
        size_t w = strcspn(p, "|");
        if (w == n && n > 0 && strncmp(p, val, n) == 0) {
            memcpy((char *)cfg + s->offset, &i, sizeof i);
            return 0;
        }
        p += w + (p[w] == '|');
    }
    snprintf(why, len, "'%s' is not %s", val, s->what);
    return -1;
}

static bool text_allowed(const char *allowed, const char *val)
{
    if (allowed)
        return strspn(val, allowed) == strlen(val);
    for (const char *p = val; *p; p++)
        if (*p <= ' ' || *p > '~')
            return false;
    return true;
}

static int set_text(const struct setting *s, struct config *cfg, const char *val, char *why,
                    size_t len)
{
    if (!text_allowed(s->allowed, val) ||
        config_copy_str((char *)cfg + s->offset, s->size, val) < 0) {
        snprintf(why, len, "'%s' must be 1-%zu bytes of %s", val, s->size - 1, s->what);
        return -1;
    }
    return 0;
}

static int setting_apply(const struct setting *s, struct config *cfg, const char *val, char *why,
                         size_t len)
{
    switch (s->kind) {
    case SETTING_NUM:
        return set_num(s, cfg, val, why, len);
    case SETTING_ENUM:
        return set_enum(s, cfg, val, why, len);
    case SETTING_TEXT:
        return set_text(s, cfg, val, why, len);
    default:
        return s->parse(cfg, val, why, len);
    }
}

/* A Redis key prefix: no '{' or '}', which would change the keys' Redis
 * Cluster hash tag (a session and its rotated successor share one). */
#define PREFIX_BYTES                                                     \
    "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`" \
    "abcdefghijklmnopqrstuvwxyz|~"
#define NAME_BYTES "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
/* RFC 6265 cookie-name: an RFC 2616 token. */
#define TOKEN_BYTES "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

static const struct setting settings[] = {
    {.env = "SESSIONLAB_LISTEN",
     .flag = "listen",
     .kind = SETTING_FUNC,
     .parse = config_set_listen,
     .def = "127.0.0.1:9000",
     .help = "FastCGI socket: HOST:PORT, :PORT or unix:/path"},
    {.env = "SESSIONLAB_STORE",
     .flag = "store",
     .kind = SETTING_FUNC,
     .parse = config_set_store,
     .def = "memory",
     .help = "session store: memory or redis"},
    {.env = "SESSIONLAB_REDIS_URL",
     .flag = "redis-url",
     .kind = SETTING_FUNC,
     .parse = config_set_redis_url,
     .def = "redis://127.0.0.1:6379/0",
     .help = "redis://[[user]:password@]host[:port][/db], unix:/path[?db=N] or "
             "redis-sentinel://host[:port][,host[:port]...]/master[/db] or "
             "redis-cluster://host:port[,host:port...]"},
    {.env = "SESSIONLAB_REDIS_TIMEOUT_MS",
     .flag = "redis-timeout-ms",
     .kind = SETTING_NUM,
     FIELD(redis_timeout_ms),
     .lo = 1,
     .hi = 60000,
     .what = " of milliseconds",
     .def = "200",
     .help = "Redis connect and command timeout, ms"},
    {.env = "SESSIONLAB_REDIS_CONNECTIONS",
     .flag = "redis-connections",
     .kind = SETTING_NUM,
     FIELD(redis_connections),
     .lo = 1,
     .hi = 16,
     .what = "",
     .def = "1",
     .help = "Redis connections shared by all workers, pipelined"},
    {.env = "SESSIONLAB_REDIS_PREFIX",
     .flag = "redis-prefix",
     .kind = SETTING_TEXT,
     FIELD(redis_prefix),
     .allowed = PREFIX_BYTES,
     .what = "printable ASCII but space, { and }",
     .def = "sessionlab:session:",
     .help = "Redis key prefix"},
    {.env = "SESSIONLAB_TTL",
     .flag = "ttl",
     .kind = SETTING_NUM,
     FIELD(ttl),
     .lo = 1,
     .hi = 31536000,
     .what = " of seconds",
     .def = "1800",
     .help = "idle timeout in seconds, sliding"},
    {.env = "SESSIONLAB_MAX_AGE",
     .flag = "max-age",
     .kind = SETTING_NUM,
     FIELD(max_age),
     .lo = 0,
     .hi = 31536000,
     .what = " of seconds (0: none)",
     .def = "0",
     .shown = "0 (none)",
     .help = "absolute session lifetime in seconds, however busy"},
    {.env = "SESSIONLAB_COOKIE_NAME",
     .flag = "cookie-name",
     .kind = SETTING_TEXT,
     FIELD(cookie_name),
     .allowed = TOKEN_BYTES,
     .what = "token characters (RFC 6265)",
     .def = "SESSION",
     .help = "session cookie name"},
    {.env = "SESSIONLAB_COOKIE_SECURE",
     .flag = "cookie-secure",
     .kind = SETTING_ENUM,
     FIELD(cookie_secure),
     .allowed = "auto|always|never",
     .what = "auto, always or never",
     .def = "auto",
     .help = "Secure attribute: auto (HTTPS requests), always, never"},
    {.env = "SESSIONLAB_WORKERS",
     .flag = "workers",
     .kind = SETTING_NUM,
     FIELD(workers),
     .lo = 1,
     .hi = 1024,
     .what = "",
     .shown = "2 (memory), 8 (redis)",
     .help = "FastCGI worker threads: requests served at once"},
    {.env = "SESSIONLAB_MAX_SESSIONS",
     .flag = "max-sessions",
     .kind = SETTING_NUM,
     FIELD(max_sessions),
     .lo = 1,
     .hi = 100000000,
     .what = "",
     .def = "40000",
     .help = "memory store cap, least recently used evicted (75 % of a 256 MiB limit at worst)"},
    {.env = "SESSIONLAB_INSTANCE",
     .flag = "instance",
     .kind = SETTING_TEXT,
     FIELD(instance),
     .allowed = NAME_BYTES,
     .what = "A-Z a-z 0-9 . _ -",
     .shown = "gethostname()",
     .help = "name shown as Hostname and in served_by"},
};

#define NSETTINGS (sizeof settings / sizeof settings[0])

static const struct setting *find_flag(const char *name, size_t len);

/* Every row's default, then the computed ones: workers by store (once the
 * store is known: 0 until then), instance from the host name. */
static void config_defaults(struct config *cfg)
{
    char why[256];
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < NSETTINGS; i++)
        if (settings[i].def)
            setting_apply(&settings[i], cfg, settings[i].def, why, sizeof why);
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) != 0 ||
        setting_apply(find_flag("instance", 8), cfg, host, why, sizeof why) < 0)
        snprintf(cfg->instance, sizeof cfg->instance, "sessionlab");
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
    size_t n = (size_t)snprintf(
        out, outlen,
        "usage: sessionlab-app [--FLAG=VALUE | --FLAG VALUE]...\n"
        "FastCGI responder for sessionlab. Every flag has an environment variable;\n"
        "flags win over variables. Defaults in brackets.\n\n");
    for (size_t i = 0; i < NSETTINGS && n < outlen; i++) {
        const struct setting *s = &settings[i];
        n += (size_t)snprintf(out + n, outlen - n, "  --%-18s %-28s %s [%s]\n", s->flag, s->env,
                              s->help, s->shown ? s->shown : s->def);
    }
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
        if (val && setting_apply(&settings[i], cfg, val, why, sizeof why) < 0) {
            snprintf(err, errlen, "%s: %s", settings[i].env, why);
            return -1;
        }
    }
    return 0;
}

/* --help or --version: its text in out, 1; any other argument: 0. */
static int info_flag(const char *arg, char *out, size_t outlen)
{
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
        usage(out, outlen);
        return 1;
    }
    if (strcmp(arg, "--version") == 0) {
        snprintf(out, outlen, "sessionlab-app %s\n", SESSIONLAB_VERSION);
        return 1;
    }
    return 0;
}

/* Applies argv[*i], --FLAG=VALUE or --FLAG VALUE (then *i moves past the
 * value). 0, or -1 with err. */
static int apply_flag(struct config *cfg, int argc, char **argv, int *i, char *err, size_t errlen)
{
    const char *arg = argv[*i];
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
    const char *val = eq ? eq + 1 : (*i + 1 < argc ? argv[++*i] : NULL);
    char why[512];
    if (!val) {
        snprintf(err, errlen, "--%s: needs a value", s->flag);
        return -1;
    }
    if (setting_apply(s, cfg, val, why, sizeof why) < 0) {
        snprintf(err, errlen, "--%s: %s", s->flag, why);
        return -1;
    }
    return 0;
}

/* Applies argv; 1 when --help/--version was handled, -1 on a bad flag. */
static int apply_flags(struct config *cfg, int argc, char **argv, char *out, size_t outlen,
                       char *err, size_t errlen)
{
    for (int i = 1; i < argc; i++) {
        if (info_flag(argv[i], out, outlen))
            return 1;
        if (apply_flag(cfg, argc, argv, &i, err, errlen) < 0)
            return -1;
    }
    return 0;
}

enum config_result config_load(struct config *cfg, int argc, char **argv, char **env, char *out,
                               size_t outlen, char *err, size_t errlen)
{
    config_defaults(cfg);
    if (apply_env(cfg, env, err, errlen) < 0)
        return CONFIG_ERROR;
    int r = apply_flags(cfg, argc, argv, out, outlen, err, errlen);
    if (r < 0)
        return CONFIG_ERROR;
    if (cfg->workers == 0)
        cfg->workers =
            strcmp(cfg->store, "redis") == 0 ? DEFAULT_WORKERS_REDIS : DEFAULT_WORKERS_MEMORY;
    return r == 1 ? CONFIG_EXIT_OK : CONFIG_OK;
}

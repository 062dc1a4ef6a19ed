/*
 * SESSIONLAB_REDIS_URL parsing (see redis_url.h for the accepted forms).
 *
 * The parser works on a local struct redis_url and copies it to the caller
 * only when the whole text is valid, so *out is never left half-filled.
 * Every field is bounded by the sizes in redis_url.h; anything that does
 * not fit is an error, never a silent truncation.
 */
#include "redis_url.h"
#include "host.h"
#include "text.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

#define REDIS_URL_DEFAULT_PORT 6379
#define REDIS_URL_DB_MAX 1000000L

/* hiredis copies the socket path into sun_path without checking. */
#define REDIS_URL_UNIX_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)

/*
 * Percent-decodes s[0..n) into dst (size dstlen, NUL-terminated). what names
 * the field in messages. Rejects bad escapes, decoded NUL bytes and results
 * that do not fit. 0 or -1.
 */
static int url_decode(const char *s, size_t n, char *dst, size_t dstlen, const char *what,
                      char *err, size_t errlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (n - i < 3 || text_hexval(s[i + 1]) < 0 || text_hexval(s[i + 2]) < 0)
                return text_fail(err, errlen, "%s has a bad percent-escape", what);
            c = text_hexval(s[i + 1]) * 16 + text_hexval(s[i + 2]);
            i += 2;
            if (c == 0)
                return text_fail(err, errlen, "%s must not contain %%00", what);
        }
        if (o + 1 >= dstlen)
            return text_fail(err, errlen, "%s is longer than %zu bytes", what, dstlen - 1);
        dst[o++] = (char)c;
    }
    dst[o] = '\0';
    return 0;
}

/*
 * Parses s[0..n) as a decimal integer in [lo, hi] (digits only, no sign).
 * 0 with *out set, or -1.
 */
static int parse_uint(const char *s, size_t n, long lo, long hi, long *out)
{
    long v = 0;
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
        if (v > hi)
            return -1;
    }
    if (v < lo)
        return -1;
    *out = v;
    return 0;
}

/* Parses the db digits s[0..n); an empty string means db 0. 0 or -1. */
static int parse_db(const char *s, size_t n, struct redis_url *u, char *err, size_t errlen)
{
    long v = 0;
    if (n == 0) {
        u->db = 0;
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return text_fail(err, errlen, "db must be a non-negative integer");
    if (parse_uint(s, n, 0, REDIS_URL_DB_MAX, &v) != 0)
        return text_fail(err, errlen, "db must be an integer from 0 to %ld", REDIS_URL_DB_MAX);
    u->db = (int)v;
    return 0;
}

/*
 * Parses "user:password" in s[0..n) (user may be empty). A userinfo without
 * a colon is refused: the URL form is [[user]:password@].
 */
static int parse_userinfo(const char *s, size_t n, struct redis_url *u, char *err, size_t errlen)
{
    const char *colon = memchr(s, ':', n);
    if (colon == NULL)
        return text_fail(err, errlen, "credentials must be written user:password@ or :password@");
    size_t ulen = (size_t)(colon - s);
    if (url_decode(s, ulen, u->user, sizeof u->user, "user", err, errlen) != 0)
        return -1;
    return url_decode(colon + 1, n - ulen - 1, u->password, sizeof u->password, "password", err,
                      errlen);
}

/* Copies the host s[0..n) into u->host after checking it. 0 or -1. */
static int set_host(const char *s, size_t n, bool v6, struct redis_url *u, char *err, size_t errlen)
{
    if (n == 0)
        return text_fail(err, errlen, "host is missing");
    if (n >= sizeof u->host)
        return text_fail(err, errlen, "host is longer than %zu bytes", sizeof u->host - 1);
    memcpy(u->host, s, n);
    u->host[n] = '\0';
    if (host_valid(s, n, v6))
        return 0;
    if (v6)
        return text_fail(err, errlen, "'[%s]' is not an IPv6 address", u->host);
    return text_fail(err, errlen, "host may contain only letters, digits, '-', '.' and '_'");
}

/*
 * Parses "host[:port]" or "[v6][:port]" in s[0..n) into u->host and
 * u->port; the port defaults to defport.
 */
static int parse_hostport(const char *s, size_t n, int defport, struct redis_url *u, char *err,
                          size_t errlen)
{
    const char *end = s + n;
    const char *hend;
    const char *rest;
    bool v6 = n > 0 && s[0] == '[';
    if (v6) {
        hend = memchr(s, ']', n);
        if (hend == NULL)
            return text_fail(err, errlen, "IPv6 host is missing its closing ']'");
        if (set_host(s + 1, (size_t)(hend - s - 1), true, u, err, errlen) != 0)
            return -1;
        rest = hend + 1;
    } else {
        hend = memchr(s, ':', n);
        if (hend == NULL)
            hend = end;
        if (set_host(s, (size_t)(hend - s), false, u, err, errlen) != 0)
            return -1;
        rest = hend;
    }
    u->port = defport;
    if (rest == end)
        return 0;
    if (*rest != ':')
        return text_fail(err, errlen, "unexpected text after the IPv6 host");
    long port;
    if (parse_uint(rest + 1, (size_t)(end - rest - 1), 1, 65535, &port) != 0)
        return text_fail(err, errlen, "port must be 1-65535");
    u->port = (int)port;
    return 0;
}

/* Parses the optional "userinfo@" that starts the authority s[0..alen) (the
 * last '@' ends it). Returns where the host part starts, or NULL after an
 * error. */
static const char *parse_authority_user(const char *s, size_t alen, struct redis_url *u, char *err,
                                        size_t errlen)
{
    const char *at = NULL;
    for (size_t i = 0; i < alen; i++)
        if (s[i] == '@')
            at = s + i;
    if (at == NULL)
        return s;
    return parse_userinfo(s, (size_t)(at - s), u, err, errlen) == 0 ? at + 1 : NULL;
}

/* Parses what follows "redis://". */
static int parse_tcp(const char *s, struct redis_url *u, char *err, size_t errlen)
{
    u->kind = REDIS_URL_TCP;
    size_t alen = strcspn(s, "/");
    const char *hp = parse_authority_user(s, alen, u, err, errlen);
    if (hp == NULL)
        return -1;
    if (parse_hostport(hp, (size_t)(s + alen - hp), REDIS_URL_DEFAULT_PORT, u, err, errlen) != 0)
        return -1;
    if (s[alen] == '\0')
        return 0;
    const char *db = s + alen + 1;
    return parse_db(db, strlen(db), u, err, errlen);
}

/*
 * Parses the comma-separated list s[0..n) of at most max host[:port]
 * (default defport) into list and *count; the first one is also copied to
 * u->host/u->port (see redis_url.h). what names an entry in messages.
 */
static int parse_endpoints(const char *s, size_t n, int defport, struct redis_endpoint *list,
                           int *count, int max, const char *what, struct redis_url *u, char *err,
                           size_t errlen)
{
    const char *end = s + n;
    const char *p = s;
    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma != NULL ? comma : end;
        if (*count == max)
            return text_fail(err, errlen, "at most %d %ss", max, what);
        if (e == p)
            return text_fail(err, errlen, "%s host is missing", what);
        if (parse_hostport(p, (size_t)(e - p), defport, u, err, errlen) != 0)
            return -1;
        struct redis_endpoint *ep = &list[(*count)++];
        memcpy(ep->host, u->host, sizeof ep->host);
        ep->port = u->port;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    memcpy(u->host, list[0].host, sizeof u->host);
    u->port = list[0].port;
    return 0;
}

/* Parses "master[/db]" (what follows the sentinel list's '/'). */
static int parse_master(const char *s, struct redis_url *u, char *err, size_t errlen)
{
    size_t mlen = strcspn(s, "/");
    if (mlen == 0)
        return text_fail(err, errlen,
                         "master name is missing (redis-sentinel://host:port/master-name)");
    if (mlen >= sizeof u->master_name)
        return text_fail(err, errlen, "master name is longer than %zu bytes",
                         sizeof u->master_name - 1);
    /* A master name takes the bytes of a host name (not an IPv6 address). */
    if (mlen > 0 && !host_valid(s, mlen, false))
        return text_fail(err, errlen,
                         "master name may contain only letters, digits, '-', '.' and '_'");
    memcpy(u->master_name, s, mlen);
    u->master_name[mlen] = '\0';
    if (s[mlen] == '\0')
        return 0;
    const char *db = s + mlen + 1;
    return parse_db(db, strlen(db), u, err, errlen);
}

/* Parses what follows "redis-sentinel://". */
static int parse_sentinel_url(const char *s, struct redis_url *u, char *err, size_t errlen)
{
    u->kind = REDIS_URL_TCP;
    size_t alen = strcspn(s, "/");
    const char *hp = parse_authority_user(s, alen, u, err, errlen);
    if (hp == NULL)
        return -1;
    if (parse_endpoints(hp, (size_t)(s + alen - hp), REDIS_SENTINEL_DEFAULT_PORT, u->sentinels,
                        &u->sentinel_n, REDIS_SENTINELS_MAX, "sentinel", u, err, errlen) != 0)
        return -1;
    if (s[alen] == '\0')
        return text_fail(err, errlen,
                         "master name is missing (redis-sentinel://host:port/master-name)");
    return parse_master(s + alen + 1, u, err, errlen);
}

/* Parses what follows "redis-cluster://": seed nodes, nothing after them
 * (a cluster has only db 0). */
static int parse_cluster_url(const char *s, struct redis_url *u, char *err, size_t errlen)
{
    u->kind = REDIS_URL_TCP;
    size_t alen = strcspn(s, "/?");
    const char *hp = parse_authority_user(s, alen, u, err, errlen);
    if (hp == NULL)
        return -1;
    if (parse_endpoints(hp, (size_t)(s + alen - hp), REDIS_URL_DEFAULT_PORT, u->cluster_seeds,
                        &u->cluster_n, REDIS_SEEDS_MAX, "seed node", u, err, errlen) != 0)
        return -1;
    if (s[alen] != '\0' && strcmp(s + alen, "/") != 0)
        return text_fail(err, errlen,
                         "a Redis Cluster has no databases: nothing may follow the "
                         "seed nodes (redis-cluster://host:port,host:port)");
    return 0;
}

/* Parses what follows "unix:": "/abs/path[?db=N]". */
static int parse_unix(const char *s, struct redis_url *u, char *err, size_t errlen)
{
    u->kind = REDIS_URL_UNIX;
    size_t plen = strcspn(s, "?");
    if (plen == 0 || s[0] != '/')
        return text_fail(err, errlen, "unix socket path must be absolute (unix:/path)");
    if (plen > REDIS_URL_UNIX_PATH_MAX || plen >= sizeof u->path)
        return text_fail(err, errlen, "unix socket path is longer than %zu bytes",
                         REDIS_URL_UNIX_PATH_MAX);
    memcpy(u->path, s, plen);
    u->path[plen] = '\0';
    if (s[plen] == '\0')
        return 0;
    const char *q = s + plen + 1;
    if (strncmp(q, "db=", 3) != 0)
        return text_fail(err, errlen, "unix: URLs accept only ?db=N after the path");
    if (q[3] == '\0')
        return text_fail(err, errlen, "db must be a non-negative integer");
    return parse_db(q + 3, strlen(q + 3), u, err, errlen);
}

/* Names the scheme of an unsupported URL in the error message. */
static int bad_scheme(const char *text, char *err, size_t errlen)
{
    size_t n = strcspn(text, ":");
    if (text[n] == '\0' || n == 0 || isdigit((unsigned char)text[n + 1]))
        return text_fail(
            err, errlen,
            "missing scheme (use redis://, redis-sentinel://, redis-cluster:// or unix:)");
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)text[i]) && strchr("+-.", text[i]) == NULL)
            return text_fail(
                err, errlen,
                "missing scheme (use redis://, redis-sentinel://, redis-cluster:// or unix:)");
    if (n > 32)
        n = 32;
    return text_fail(
        err, errlen,
        "unsupported scheme '%.*s' (use redis://, redis-sentinel://, redis-cluster:// or unix:)",
        (int)n, text);
}

int redis_url_parse(const char *text, struct redis_url *out, char *err, size_t errlen)
{
    struct redis_url u;
    int rc;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (text == NULL || text[0] == '\0')
        return text_fail(err, errlen, "Redis URL is empty");
    if (strnlen(text, REDIS_URL_MAX) >= REDIS_URL_MAX)
        return text_fail(err, errlen, "Redis URL is longer than %d bytes", REDIS_URL_MAX - 1);
    memset(&u, 0, sizeof u);
    if (strncasecmp(text, "redis://", 8) == 0)
        rc = parse_tcp(text + 8, &u, err, errlen);
    else if (strncasecmp(text, "unix:", 5) == 0)
        rc = parse_unix(text + 5, &u, err, errlen);
    else if (strncasecmp(text, "redis-sentinel://", 17) == 0)
        rc = parse_sentinel_url(text + 17, &u, err, errlen);
    else if (strncasecmp(text, "redis-cluster://", 16) == 0)
        rc = parse_cluster_url(text + 16, &u, err, errlen);
    else if (strncasecmp(text, "rediss://", 9) == 0)
        rc = text_fail(err, errlen,
                       "rediss:// (TLS) is not spoken by the app: let the pod's nginx carry TLS "
                       "(docs/containers.md, TLS to managed Redis) and use redis:// to it");
    else if (strncasecmp(text, "redis:", 6) == 0)
        rc = text_fail(err, errlen, "a redis URL must start with redis://");
    else
        rc = bad_scheme(text, err, errlen);
    if (rc != 0)
        return -1;
    *out = u;
    return 0;
}

#include "request.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Sets *slot to the value of param when its name matches exactly. */
static bool take(const char *param, const char *name, size_t namelen, const char **slot)
{
    if (strncmp(param, name, namelen) != 0 || param[namelen] != '=')
        return false;
    *slot = param + namelen + 1;
    return true;
}

#define TAKE(p, lit, slot) take((p), (lit), sizeof(lit) - 1, (slot))

static long long parse_length(const char *v)
{
    if (!v || *v == '\0')
        return 0;
    if (strspn(v, "0123456789") != strlen(v) || strlen(v) > 15)
        return -1;
    return strtoll(v, NULL, 10);
}

static void set_path(struct request *rq, const char *uri)
{
    size_t n = strcspn(uri, "?#");
    if (n >= sizeof rq->path) {
        rq->path_too_long = true;
        n = 0;
    }
    memcpy(rq->path, uri, n);
    rq->path[n] = '\0';
}

void request_parse(struct request *rq, char *const *params)
{
    const char *uri = "", *len = NULL, *https = NULL, *xfp = NULL;
    memset(rq, 0, sizeof *rq);
    rq->method = "";
    /* Most of nginx's ~30 parameters match none of these: the first byte
     * rules them out without a string compare. */
    for (char *const *p = params; p && *p; p++) {
        const char *s = *p;
        switch (s[0]) {
        case 'H':
            if (s[1] == 'T' && s[2] == 'T' && s[3] == 'P')
                (void)(TAKE(s, "HTTP_HOST", &rq->host) || TAKE(s, "HTTP_COOKIE", &rq->cookie) ||
                       TAKE(s, "HTTP_ORIGIN", &rq->origin) ||
                       TAKE(s, "HTTP_SEC_FETCH_SITE", &rq->fetch_site) ||
                       TAKE(s, "HTTP_X_FORWARDED_PROTO", &xfp) || TAKE(s, "HTTPS", &https));
            break;
        case 'R':
            (void)(TAKE(s, "REQUEST_METHOD", &rq->method) || TAKE(s, "REQUEST_URI", &uri));
            break;
        case 'C':
            (void)(TAKE(s, "CONTENT_TYPE", &rq->content_type) || TAKE(s, "CONTENT_LENGTH", &len));
            break;
        default:
            break;
        }
    }
    set_path(rq, uri);
    rq->content_length = parse_length(len);
    rq->secure = (https && strcasecmp(https, "on") == 0) || (xfp && strcasecmp(xfp, "https") == 0);
}

/* Length of the host part of an authority: "[v6]" or up to the ':'. */
static size_t host_part(const char *auth, size_t len)
{
    if (len > 0 && auth[0] == '[') {
        const char *end = memchr(auth, ']', len);
        return end ? (size_t)(end - auth) + 1 : len;
    }
    const char *colon = memchr(auth, ':', len);
    return colon ? (size_t)(colon - auth) : len;
}

/* True when s[0..n) is nothing or ":" and 1 to 5 digits (an authority's
 * port part). */
static bool port_part_ok(const char *s, size_t n)
{
    if (n == 0)
        return true;
    if (s[0] != ':' || n < 2 || n > 6)
        return false;
    for (size_t i = 1; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/*
 * Compares an Origin's authority with Host. The default port may be written
 * in Host but not in Origin. When Host carries no port at all (Debian's stock
 * fastcgi_params passes nginx's $host, which drops it), only host names are
 * compared: other ports of the same host are the same site anyway (the
 * Origin's port must still be a port: "h:80.evil.example" is not h).
 */
static bool same_authority(const char *auth, size_t alen, const char *host, bool tls)
{
    size_t hlen = strlen(host);
    if (alen == hlen && strncasecmp(auth, host, hlen) == 0)
        return true;
    if (host_part(host, hlen) == hlen) {
        size_t ah = host_part(auth, alen);
        return ah == hlen && strncasecmp(auth, host, hlen) == 0 &&
               port_part_ok(auth + ah, alen - ah);
    }
    const char *dflt = tls ? ":443" : ":80";
    size_t dlen = strlen(dflt);
    return hlen == alen + dlen && strncasecmp(auth, host, alen) == 0 &&
           strcmp(host + alen, dflt) == 0;
}

bool request_cross_site(const struct request *rq)
{
    if (rq->fetch_site && strcmp(rq->fetch_site, "cross-site") == 0)
        return true;
    if (!rq->origin)
        return false;
    if (!rq->host)
        return true;
    const char *o = rq->origin;
    bool tls;
    if (strncasecmp(o, "http://", 7) == 0) {
        o += 7;
        tls = false;
    } else if (strncasecmp(o, "https://", 8) == 0) {
        o += 8;
        tls = true;
    } else {
        return true; /* "null" or an unknown scheme */
    }
    return !same_authority(o, strcspn(o, "/"), rq->host, tls);
}

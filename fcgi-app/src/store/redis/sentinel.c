/*
 * Redis Sentinel discovery (see sentinel.h). One short blocking connection
 * per sentinel asked; nothing is kept between calls except the caller's
 * index of the sentinel that answered last.
 */
#include "sentinel.h"

#include "redis_reader.h"
#include "host.h"
#include "resolve.h"
#include "text.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int sentinel_parse_addr(const redisReply *r, char *host, size_t hostlen, int *port, char *err,
                        size_t errlen)
{
    if (r == NULL)
        return text_fail(err, errlen, "no reply");
    if (r->type == REDIS_REPLY_NIL)
        return text_fail(err, errlen, "master unknown to this sentinel");
    if (r->type == REDIS_REPLY_ERROR)
        return text_fail(err, errlen, "%.200s", r->str);
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING)
        return text_fail(err, errlen, "unexpected reply (type %d)", r->type);
    const redisReply *h = r->element[0], *p = r->element[1];
    if (h->len >= hostlen || !host_valid(h->str, h->len, memchr(h->str, ':', h->len) != NULL))
        return text_fail(err, errlen, "bad master host in reply");
    long v = 0;
    if (p->len == 0 || p->len > 5)
        return text_fail(err, errlen, "bad master port in reply");
    for (size_t i = 0; i < p->len; i++) {
        if (!isdigit((unsigned char)p->str[i]))
            return text_fail(err, errlen, "bad master port in reply");
        v = v * 10 + (p->str[i] - '0');
    }
    if (v < 1 || v > 65535)
        return text_fail(err, errlen, "bad master port in reply");
    memcpy(host, h->str, h->len);
    host[h->len] = '\0';
    *port = (int)v;
    return 0;
}

int sentinel_check_role(const redisReply *r, char *err, size_t errlen)
{
    if (r == NULL)
        return text_fail(err, errlen, "ROLE: no reply");
    if (r->type == REDIS_REPLY_ERROR)
        return text_fail(err, errlen, "ROLE: %.200s", r->str);
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
        r->element[0]->type != REDIS_REPLY_STRING)
        return text_fail(err, errlen, "ROLE: unexpected reply (type %d)", r->type);
    const redisReply *role = r->element[0];
    if (role->len == 6 && memcmp(role->str, "master", 6) == 0)
        return 0;
    return text_fail(err, errlen, "not the master (ROLE says %.*s)",
                     (int)(role->len > 32 ? 32 : role->len), role->str);
}

/* Asks one sentinel. 0 with host/port set, or -1 with err. */
static int sn_ask(const struct redis_endpoint *s, const char *master, struct timeval tv, char *host,
                  size_t hostlen, int *port, char *err, size_t errlen)
{
    char addr[RESOLVE_ADDR_MAX];
    int ms = (int)(tv.tv_sec * 1000 + tv.tv_usec / 1000);
    if (resolve_host(s->host, ms, addr, sizeof addr, err, errlen) != 0)
        return -1;
    redisContext *c = redisConnectWithTimeout(addr, s->port, tv);
    if (c == NULL)
        return text_fail(err, errlen, "out of memory");
    int rc = -1;
    if (c->err) {
        text_fail(err, errlen, "%s", c->errstr);
    } else if (redisSetTimeout(c, tv) != REDIS_OK) {
        text_fail(err, errlen, "%s", c->errstr);
    } else {
        int saved;
        redis_reader_bound(c->reader);
        redisReply *r = redisCommand(c, "SENTINEL get-master-addr-by-name %s", master);
        saved = errno;
        if (r == NULL)
            text_fail(err, errlen, "%s",
                      c->err == REDIS_ERR_IO && (saved == EAGAIN || saved == EWOULDBLOCK)
                          ? "timeout"
                          : c->errstr);
        else
            rc = sentinel_parse_addr(r, host, hostlen, port, err, errlen);
        if (r != NULL)
            freeReplyObject(r);
    }
    redisFree(c);
    return rc;
}

int sentinel_master_addr(const struct redis_url *u, int timeout_ms, int *next, char *host,
                         size_t hostlen, int *port, char *err, size_t errlen)
{
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    char why[256] = "no sentinels";
    int n = u->sentinel_n;
    int start = *next >= 0 && *next < n ? *next : 0;

    for (int k = 0; k < n; k++) {
        int i = (start + k) % n;
        const struct redis_endpoint *s = &u->sentinels[i];
        char one[200];
        if (sn_ask(s, u->master_name, tv, host, hostlen, port, one, sizeof one) == 0) {
            *next = i;
            return 0;
        }
        char where[80];
        host_port_format(where, sizeof where, s->host, 64, s->port);
        if (snprintf(why, sizeof why, "sentinel %s: %.160s", where, one) < 0)
            why[0] = '\0';
    }
    return text_fail(err, errlen, "no sentinel named a master '%s' (last: %s)", u->master_name,
                     why);
}

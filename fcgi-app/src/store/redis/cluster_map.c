/* Parsing of CLUSTER SLOTS replies and MOVED/ASK redirections. */
#include "cluster_map.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_slot.h"
#include "host.h"
#include "text.h"

/* Copies host text s[0..n) (empty: asked) into out after checking it. */
static int copy_host(const char *s, size_t n, const char *asked, char *out, size_t outlen)
{
    if (n == 0) {
        s = asked;
        n = strlen(asked);
    }
    bool v6 = memchr(s, ':', n) != NULL;
    if (n == 0 || n >= outlen || !host_valid(s, n, v6))
        return -1;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

/* Reads an integer element in [lo, hi]. 0 or -1. */
static int int_in(const redisReply *e, long long lo, long long hi, long long *out)
{
    if (e->type != REDIS_REPLY_INTEGER || e->integer < lo || e->integer > hi)
        return -1;
    *out = e->integer;
    return 0;
}

/* Checks one {first, last, {host, port, ...}, ...} entry and reports it. */
static int parse_range(const redisReply *e, const char *asked, cluster_range_fn each, void *ctx,
                       char *err, size_t errlen)
{
    long long first, last, port;
    char host[REDIS_HOST_MAX];
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
        int_in(e->element[0], 0, CLUSTER_SLOTS - 1, &first) != 0 ||
        int_in(e->element[1], first, CLUSTER_SLOTS - 1, &last) != 0)
        return text_fail(err, errlen, "CLUSTER SLOTS: malformed slot range");
    const redisReply *node = e->element[2];
    int htype = node->type == REDIS_REPLY_ARRAY && node->elements >= 2 ? node->element[0]->type : 0;
    if ((htype != REDIS_REPLY_STRING && htype != REDIS_REPLY_NIL) ||
        int_in(node->element[1], 1, 65535, &port) != 0)
        return text_fail(err, errlen, "CLUSTER SLOTS: malformed node of slots %lld-%lld", first,
                         last);
    /* nil: the node asked (cluster-preferred-endpoint-type unknown-endpoint);
     * "?": an endpoint nobody knows: the slots stay unknown. */
    const char *h = htype == REDIS_REPLY_NIL ? "" : node->element[0]->str;
    size_t hlen = htype == REDIS_REPLY_NIL ? 0 : node->element[0]->len;
    if (hlen == 1 && h[0] == '?')
        return 0;
    if (copy_host(h, hlen, asked, host, sizeof host) != 0)
        return text_fail(err, errlen, "CLUSTER SLOTS: bad host for slots %lld-%lld", first, last);
    if (each(ctx, (unsigned)first, (unsigned)last, host, (int)port) != 0)
        return text_fail(err, errlen, "CLUSTER SLOTS: too many nodes");
    return 0;
}

int cluster_map_parse_slots(const redisReply *r, const char *asked_host, cluster_range_fn each,
                            void *ctx, char *err, size_t errlen)
{
    if (r->type == REDIS_REPLY_ERROR)
        return text_fail(err, errlen, "CLUSTER SLOTS: %.200s", r->str);
    if (r->type != REDIS_REPLY_ARRAY)
        return text_fail(err, errlen, "CLUSTER SLOTS: not an array");
    for (size_t i = 0; i < r->elements; i++)
        if (parse_range(r->element[i], asked_host, each, ctx, err, errlen) != 0)
            return -1;
    return (int)r->elements;
}

/* Parses "<slot> <host>:<port>" (the text after MOVED/ASK and a space); a
 * host "?" (unknown) is no usable redirection. */
static int parse_target(const char *s, size_t n, const char *asked, unsigned *slot, char *host,
                        size_t hostlen, int *port)
{
    const char *sp = memchr(s, ' ', n);
    if (sp == NULL || sp == s || sp - s > 5)
        return -1;
    long v = 0;
    for (const char *p = s; p < sp; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    const char *addr = sp + 1, *end = s + n;
    const char *colon = NULL;
    for (const char *p = addr; p < end; p++)
        if (*p == ':')
            colon = p;
    if (v >= CLUSTER_SLOTS || colon == NULL || end - colon < 2 || end - colon > 6 ||
        (colon - addr == 1 && addr[0] == '?'))
        return -1;
    long pv = 0;
    for (const char *p = colon + 1; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        pv = pv * 10 + (*p - '0');
    }
    if (pv < 1 || pv > 65535 || copy_host(addr, (size_t)(colon - addr), asked, host, hostlen) != 0)
        return -1;
    *slot = (unsigned)v;
    *port = (int)pv;
    return 0;
}

enum cluster_redirect cluster_map_parse_redirect(const redisReply *r, const char *asked_host,
                                                 unsigned *slot, char *host, size_t hostlen,
                                                 int *port)
{
    if (r == NULL || r->type != REDIS_REPLY_ERROR)
        return CLUSTER_NO_REDIRECT;
    enum cluster_redirect kind;
    size_t skip;
    if (r->len > 6 && strncmp(r->str, "MOVED ", 6) == 0) {
        kind = CLUSTER_MOVED;
        skip = 6;
    } else if (r->len > 4 && strncmp(r->str, "ASK ", 4) == 0) {
        kind = CLUSTER_ASK;
        skip = 4;
    } else {
        return CLUSTER_NO_REDIRECT;
    }
    if (parse_target(r->str + skip, r->len - skip, asked_host, slot, host, hostlen, port) != 0)
        return CLUSTER_NO_REDIRECT;
    return kind;
}

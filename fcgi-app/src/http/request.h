/*
 * The parts of a FastCGI request the routes use, taken from its params in
 * one pass. Strings point into the params (owned by libfcgi, valid until
 * FCGX_Finish_r); absent params are NULL.
 */
#ifndef SESSIONLAB_REQUEST_H
#define SESSIONLAB_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#define REQUEST_PATH_MAX 1024

struct request {
    const char *method;          /* REQUEST_METHOD, "" when absent */
    char path[REQUEST_PATH_MAX]; /* REQUEST_URI up to '?', not decoded */
    bool path_too_long;
    const char *host;         /* HTTP_HOST */
    const char *origin;       /* HTTP_ORIGIN */
    const char *fetch_site;   /* HTTP_SEC_FETCH_SITE */
    const char *cookie;       /* HTTP_COOKIE */
    const char *content_type; /* CONTENT_TYPE */
    long long content_length; /* CONTENT_LENGTH; 0 when absent, -1 invalid */
    bool secure;              /* HTTPS=on or X-Forwarded-Proto: https */
};

/* Fills rq from a NULL-terminated "NAME=value" array; never fails. */
void request_parse(struct request *rq, char *const *params);

/* True when the request is a POST (or other unsafe method) coming from
 * another site: Sec-Fetch-Site says cross-site, or Origin is present and
 * names a different host than Host. */
bool request_cross_site(const struct request *rq);

#endif

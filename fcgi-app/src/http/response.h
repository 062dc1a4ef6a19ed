/* An HTTP response as the routes build it, and its one write to FastCGI. */
#ifndef SESSIONLAB_RESPONSE_H
#define SESSIONLAB_RESPONSE_H

#include <fcgiapp.h>
#include <stdbool.h>

#include "buf.h"

#define SET_COOKIE_MAX 256

struct response {
    int status;
    const char *content_type;
    const char *location;            /* Location header, or NULL */
    const char *allow;               /* Allow header (405), or NULL */
    char set_cookie[SET_COOKIE_MAX]; /* Set-Cookie value, "" for none */
    bool no_store;                   /* Cache-Control: no-store */
    bool retry_after;                /* Retry-After: 1 (503) */
};

/* The reason phrase of a status code the app sends. */
const char *response_reason(int status);

/* Writes status line, headers and (unless head_only) body to out in one
 * buffer handed to libfcgi. 0, or -1 when the client went away. */
int response_write(FCGX_Stream *out, const struct response *r, const struct buf *body,
                   bool head_only);

#endif

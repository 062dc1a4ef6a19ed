/* What the probe client's files share: client.c (the reads and their
 * judging), client_http.c (the curl handle, one request and its retries)
 * and client_post.c (the POSTs: log-in, cart, value). Internal to the
 * probe's client: main.c and report.c include client.h. */
#ifndef SESSIONLAB_PROBE_CLIENT_INTERNAL_H
#define SESSIONLAB_PROBE_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "client.h"

#define URL_MAX 4096

/* A response body, bounded by PROBE_BODY_MAX. */
struct body {
    char *data; /* PROBE_BODY_MAX + 1 bytes */
    size_t len;
    bool overflow;
};

/* One client's run: the handle, its buffers and where the results go. */
struct client_state {
    const struct probe_opts *o;
    struct client_result *r;
    CURL *h;
    struct curl_slist *resolve;
    struct curl_slist *headers;
    struct body body;
    char errbuf[CURL_ERROR_SIZE];
    char api_url[URL_MAX];
    char set_url[URL_MAX];
    char login_url[URL_MAX];
    char cart_url[URL_MAX];
    bool value_set; /* the set succeeded: later reads must show the value */
    bool logged_in; /* the log-in succeeded: every read must show the user */
    bool cart_set;  /* every add succeeded: every read must show r->cart_qty */
};

/* Counts one failed request and keeps the first message (client.c). */
void client_record_error(struct client_result *r, bool transport, const char *fmt, ...);

/* client_http.c */

/* The URLs, the body buffer and the curl handle with its options. 0, or -1
 * with r->first_error saying why. */
int client_http_setup(struct client_state *u);
/* Frees what client_http_setup made (also after it failed). */
void client_http_cleanup(struct client_state *u);
/* Performs the prepared transfer, trying again after PROBE_RETRY_MS, twice
 * that, ... (PROBE_RETRIES times) while there is no HTTP answer or the answer
 * is 502/503/504 -- the way a person reloads a page during a restart -- so a
 * replica restart or failover shows up as retries, and the session facts
 * stay measurable. Returns the final HTTP status, or -1 after recording a
 * transport error. */
long client_http_perform(struct client_state *u, const char *what, double *ms);

/* client_post.c: each sets r->value, r->login or r->cart to VALUE_KEPT when
 * its POSTs succeeded, VALUE_LOST otherwise. */

/* POST /setSession value=V. */
void client_post_value(struct client_state *u);
/* POST /login user=LOGIN-index. */
void client_post_login(struct client_state *u);
/* POST /cart item=I&action=add o->cart times. */
void client_post_cart(struct client_state *u);

#endif

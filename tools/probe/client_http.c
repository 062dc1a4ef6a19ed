/* The probe client's HTTP: one libcurl easy handle per client (its own
 * cookie jar, a fresh connection per request), a bounded body, and the
 * retries of a request without a usable answer. */
#include "client_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONNECT_TIMEOUT_MS 3000L
#define REQUEST_TIMEOUT_MS 15000L

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct body *b = userdata;
    size_t n = size * nmemb;
    if (n > PROBE_BODY_MAX - b->len) {
        b->overflow = true;
        return 0; /* makes curl fail the transfer */
    }
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    return n;
}

/* base + path, with exactly one '/' between them. -1 when it does not fit. */
static int join_url(char *dst, size_t cap, const char *base, const char *path)
{
    size_t n = strlen(base);
    const char *sep = (n > 0 && base[n - 1] == '/') ? "" : "/";
    int w = snprintf(dst, cap, "%s%s%s", base, sep, path);
    return (w < 0 || (size_t)w >= cap) ? -1 : 0;
}

/* The per-client URLs under o->url. -1 when one does not fit. */
static int join_urls(struct client_state *u)
{
    const char *base = u->o->url;
    if (join_url(u->api_url, sizeof u->api_url, base, "api/session") < 0 ||
        join_url(u->set_url, sizeof u->set_url, base, "setSession") < 0 ||
        join_url(u->login_url, sizeof u->login_url, base, "login") < 0 ||
        join_url(u->cart_url, sizeof u->cart_url, base, "cart") < 0)
        return -1;
    return 0;
}

/* The handle's options, but --resolve and --insecure. */
static void set_options(struct client_state *u)
{
    CURL *h = u->h;
    /* The cookie engine, empty: one jar per client, every cookie kept
     * (SESSION and the load balancer's SLROUTE alike). */
    curl_easy_setopt(h, CURLOPT_COOKIEFILE, "");
    /* A fresh connection per request: a connection-level balancer (a
     * kube-proxy Service, a NodePort) decides anew for each request, the way
     * it does for a visitor who comes back later, instead of pinning the
     * whole run to one kept-alive connection. */
    curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, REQUEST_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "sessionlab-probe/" SESSIONLAB_VERSION);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, u->headers);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, u->errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &u->body);
    if (u->o->interface)
        curl_easy_setopt(h, CURLOPT_INTERFACE, u->o->interface);
}

int client_http_setup(struct client_state *u)
{
    const struct probe_opts *o = u->o;
    if (join_urls(u) < 0) {
        snprintf(u->r->first_error, PROBE_ERR_MAX, "URL too long");
        return -1;
    }
    u->body.data = malloc(PROBE_BODY_MAX + 1);
    u->h = curl_easy_init();
    u->headers = curl_slist_append(NULL, "Accept: application/json");
    if (!u->body.data || !u->h || !u->headers) {
        snprintf(u->r->first_error, PROBE_ERR_MAX, "out of memory setting up the client");
        return -1;
    }
    set_options(u);
    if (o->resolve) {
        u->resolve = curl_slist_append(NULL, o->resolve);
        if (!u->resolve) {
            snprintf(u->r->first_error, PROBE_ERR_MAX, "out of memory setting up the client");
            return -1;
        }
        curl_easy_setopt(u->h, CURLOPT_RESOLVE, u->resolve);
    }
    if (o->insecure) {
        curl_easy_setopt(u->h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(u->h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    return 0;
}

void client_http_cleanup(struct client_state *u)
{
    curl_easy_cleanup(u->h);
    curl_slist_free_all(u->resolve);
    curl_slist_free_all(u->headers);
    free(u->body.data);
}

/* Performs the prepared transfer once. Returns the HTTP status, or -1 with
 * msg saying why there was no HTTP answer (*transport false when the body
 * was too large rather than the connection failing). */
static long perform_once(struct client_state *u, double *ms, char *msg, size_t cap, bool *transport)
{
    u->body.len = 0;
    u->body.overflow = false;
    u->errbuf[0] = '\0';
    CURLcode rc = curl_easy_perform(u->h);
    if (rc != CURLE_OK) {
        *transport = !u->body.overflow;
        if (u->body.overflow)
            snprintf(msg, cap, "response larger than %d bytes", PROBE_BODY_MAX);
        else
            snprintf(msg, cap, "%s", u->errbuf[0] ? u->errbuf : curl_easy_strerror(rc));
        return -1;
    }
    long status = 0;
    curl_easy_getinfo(u->h, CURLINFO_RESPONSE_CODE, &status);
    curl_off_t us = 0;
    curl_easy_getinfo(u->h, CURLINFO_TOTAL_TIME_T, &us);
    *ms = (double)us / 1000.0;
    u->body.data[u->body.len] = '\0';
    return status;
}

static bool retryable(long status)
{
    return status < 0 || status == 502 || status == 503 || status == 504;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* What a client without retries would have seen: a 5xx, or no answer. */
static void note_first_try(struct client_result *r, long status, bool transport)
{
    if (status >= 500)
        r->first_try_5xx++;
    else if (status < 0 && transport)
        r->first_try_transport++;
}

/* Performs the prepared transfer, trying again after PROBE_RETRY_MS, twice
 * that, ... (PROBE_RETRIES times) while there is no HTTP answer or the answer
 * is 502/503/504 -- the way a person reloads a page during a restart -- so a
 * replica restart or failover shows up as retries, and the session facts
 * stay measurable. Returns the final HTTP status, or -1 after recording a
 * transport error. */
long client_http_perform(struct client_state *u, const char *what, double *ms)
{
    char msg[PROBE_ERR_MAX];
    bool transport = false;
    long status = -1;
    for (int attempt = 0; attempt <= PROBE_RETRIES; attempt++) {
        if (attempt > 0) {
            u->r->retries++;
            sleep_ms(PROBE_RETRY_MS << (attempt - 1));
        }
        status = perform_once(u, ms, msg, sizeof msg, &transport);
        if (attempt == 0)
            note_first_try(u->r, status, transport);
        if (!retryable(status) || (status < 0 && !transport))
            break;
    }
    if (status < 0)
        client_record_error(u->r, transport, "%s: %s", what, msg);
    return status;
}

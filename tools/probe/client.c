#include "client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <json-c/json.h>

#define CONNECT_TIMEOUT_MS 3000L
#define REQUEST_TIMEOUT_MS 15000L
#define URL_MAX 4096

const char *const probe_cart_items[PROBE_CART_LINES] = {"apple", "bread", "milk", "eggs", "cheese"};

/* A response body, bounded by PROBE_BODY_MAX. */
struct body {
    char *data; /* PROBE_BODY_MAX + 1 bytes */
    size_t len;
    bool overflow;
};

/* One client's run: the handle, its buffers and where the results go. */
struct run {
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

/* Counts one failed request and keeps the first message. */
static void record_error(struct client_result *r, bool transport, const char *fmt, ...)
{
    r->errors++;
    if (transport)
        r->transport_errors++;
    if (r->first_error[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->first_error, sizeof r->first_error, fmt, ap);
    va_end(ap);
}

/* base + path, with exactly one '/' between them. -1 when it does not fit. */
static int join_url(char *dst, size_t cap, const char *base, const char *path)
{
    size_t n = strlen(base);
    const char *sep = (n > 0 && base[n - 1] == '/') ? "" : "/";
    int w = snprintf(dst, cap, "%s%s%s", base, sep, path);
    return (w < 0 || (size_t)w >= cap) ? -1 : 0;
}

static int setup(struct run *u)
{
    const struct probe_opts *o = u->o;
    if (join_url(u->api_url, sizeof u->api_url, o->url, "api/session") < 0 ||
        join_url(u->set_url, sizeof u->set_url, o->url, "setSession") < 0 ||
        join_url(u->login_url, sizeof u->login_url, o->url, "login") < 0 ||
        join_url(u->cart_url, sizeof u->cart_url, o->url, "cart") < 0) {
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
    if (o->interface)
        curl_easy_setopt(h, CURLOPT_INTERFACE, o->interface);
    if (o->resolve) {
        u->resolve = curl_slist_append(NULL, o->resolve);
        if (!u->resolve) {
            snprintf(u->r->first_error, PROBE_ERR_MAX, "out of memory setting up the client");
            return -1;
        }
        curl_easy_setopt(h, CURLOPT_RESOLVE, u->resolve);
    }
    if (o->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    return 0;
}

/* Performs the prepared transfer once. Returns the HTTP status, or -1 with
 * msg saying why there was no HTTP answer (*transport false when the body
 * was too large rather than the connection failing). */
static long perform_once(struct run *u, double *ms, char *msg, size_t cap, bool *transport)
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
static long perform(struct run *u, const char *what, double *ms)
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
        record_error(u->r, transport, "%s: %s", what, msg);
    return status;
}

/* The string field key of obj copied into dst; false when absent, not a
 * string, or too long. */
static bool get_string(json_object *obj, const char *key, char *dst, size_t cap)
{
    json_object *v;
    if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
        return false;
    size_t n = (size_t)json_object_get_string_len(v);
    if (n >= cap)
        return false;
    memcpy(dst, json_object_get_string(v), n + 1);
    return true;
}

/* Counts a read served by host; returns its index in r->hosts, -1 when the
 * list is full. */
static int note_host(struct client_result *r, const char *host)
{
    for (int i = 0; i < r->nhosts; i++) {
        if (strcmp(r->hosts[i].name, host) == 0) {
            r->hosts[i].requests++;
            return i;
        }
    }
    if (r->nhosts == PROBE_HOSTS_MAX) {
        r->hosts_truncated = true;
        return -1;
    }
    snprintf(r->hosts[r->nhosts].name, PROBE_HOST_MAX, "%s", host);
    r->hosts[r->nhosts].requests = 1;
    return r->nhosts++;
}

static long long wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The answer's "cart" ([{"item": str, "qty": int}, ...], catalogue order,
 * qty > 0 only) is exactly want. */
static bool cart_matches(json_object *obj, const int want[PROBE_CART_LINES])
{
    json_object *cart;
    if (!json_object_object_get_ex(obj, "cart", &cart) ||
        !json_object_is_type(cart, json_type_array))
        return false;
    size_t n = json_object_array_length(cart), k = 0;
    for (int i = 0; i < PROBE_CART_LINES; i++) {
        if (want[i] == 0)
            continue;
        if (k >= n)
            return false;
        json_object *line = json_object_array_get_idx(cart, k++), *item, *qty;
        if (!json_object_is_type(line, json_type_object) ||
            !json_object_object_get_ex(line, "item", &item) ||
            !json_object_is_type(item, json_type_string) ||
            strcmp(json_object_get_string(item), probe_cart_items[i]) != 0 ||
            !json_object_object_get_ex(line, "qty", &qty) ||
            !json_object_is_type(qty, json_type_int) || json_object_get_int64(qty) != want[i])
            return false;
    }
    return k == n;
}

/* Judges what a read showed of the value, the log-in and the cart against
 * what the POSTs that succeeded put in. */
static void judge_state(struct run *u, json_object *obj)
{
    struct client_result *r = u->r;
    json_object *v = NULL;
    if (u->value_set) {
        json_object_object_get_ex(obj, "value", &v);
        const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
        if (!s || strcmp(s, u->o->set_value) != 0)
            r->value = VALUE_LOST;
    }
    if (u->logged_in) {
        /* "user" null or absent: logged out (the session the read found is
         * not the one the log-in made). */
        v = NULL;
        json_object_object_get_ex(obj, "user", &v);
        if (!json_object_is_type(v, json_type_string) ||
            strcmp(json_object_get_string(v), r->user) != 0) {
            r->login = VALUE_LOST;
            r->logged_out_reads++;
        }
    }
    if (u->cart_set && !cart_matches(obj, r->cart_qty)) {
        r->cart = VALUE_LOST;
        r->cart_wrong_reads++;
    }
}

/* Books one well-formed answer: host, id continuity, count continuity, and
 * the value, log-in and cart it showed. */
static void observe(struct run *u, long n, const char *id, const char *host, long long count,
                    json_object *obj, double ms)
{
    struct client_result *r = u->r;
    r->ok++;
    r->latency_ms[r->nlatency++] = ms;
    int hi = note_host(r, host);
    if (r->trace)
        r->trace[r->ntrace++] =
            (struct trace_point){.n = n, .count = count, .host = hi, .t_ms = wall_ms()};
    if (r->ok == 1) {
        snprintf(r->first_id, sizeof r->first_id, "%s", id);
        r->count_ok = count == 1;
    } else {
        if (strcmp(id, r->last_id) != 0)
            r->id_changes++;
        if (count != r->final_count + 1)
            r->count_ok = false;
        if (count <= r->final_count)
            r->count_resets++;
    }
    snprintf(r->last_id, sizeof r->last_id, "%s", id);
    r->final_count = count;
    judge_state(u, obj);
}

/* With --rate: waits until read n (1-based) is due, (n - 1) / rate seconds
 * after t0_ns (CLOCK_MONOTONIC), so a slow answer is caught up, not added. */
static void pace(const struct probe_opts *o, long long t0_ns, long n)
{
    if (o->rate <= 0)
        return;
    long long due = t0_ns + (long long)((double)(n - 1) * 1e9 / (double)o->rate);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long left = due - ((long long)now.tv_sec * 1000000000LL + now.tv_nsec);
    struct timespec ts = {.tv_sec = (time_t)(left / 1000000000LL),
                          .tv_nsec = (long)(left % 1000000000LL)};
    while (left > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* One GET /api/session. */
static void read_session(struct run *u, long n)
{
    struct client_result *r = u->r;
    char what[64];
    snprintf(what, sizeof what, "request %ld", n);
    r->requests++;
    curl_easy_setopt(u->h, CURLOPT_URL, u->api_url);
    curl_easy_setopt(u->h, CURLOPT_HTTPGET, 1L);
    double ms = 0;
    long status = perform(u, what, &ms);
    if (status < 0)
        return;
    if (status != 200) {
        record_error(r, false, "%s: HTTP %ld from %s", what, status, u->api_url);
        return;
    }
    json_tokener *tok = json_tokener_new();
    if (!tok) {
        record_error(r, false, "%s: out of memory", what);
        return;
    }
    json_object *obj = json_tokener_parse_ex(tok, u->body.data, (int)u->body.len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    json_tokener_free(tok);
    char id[PROBE_ID_MAX], host[PROBE_HOST_MAX], store[PROBE_STORE_MAX];
    json_object *count, *value;
    if (!obj || jerr != json_tokener_success || !json_object_is_type(obj, json_type_object) ||
        !get_string(obj, "session_id", id, sizeof id) || !id[0] ||
        !get_string(obj, "hostname", host, sizeof host) ||
        !get_string(obj, "store", store, sizeof store) ||
        !json_object_object_get_ex(obj, "access_count", &count) ||
        !json_object_is_type(count, json_type_int) ||
        !json_object_object_get_ex(obj, "value", &value)) {
        record_error(r, false, "%s: not the /api/session JSON (%.60s)", what, u->body.data);
        json_object_put(obj);
        return;
    }
    snprintf(r->store, sizeof r->store, "%s", store);
    observe(u, n, id, host, (long long)json_object_get_int64(count), obj, ms);
    json_object_put(obj);
}

/* POSTs form (application/x-www-form-urlencoded, curl's default) to url;
 * the app answers 303 on success. False after recording the failure. */
static bool post_form(struct run *u, const char *url, const char *what, const char *form)
{
    curl_easy_setopt(u->h, CURLOPT_URL, url);
    curl_easy_setopt(u->h, CURLOPT_POSTFIELDS, form);
    double ms = 0;
    long status = perform(u, what, &ms);
    curl_easy_setopt(u->h, CURLOPT_POSTFIELDS, NULL);
    if (status < 0)
        return false;
    if (status != 303) {
        record_error(u->r, false, "%s: HTTP %ld from %s (expected 303)", what, status, url);
        return false;
    }
    return true;
}

/* POSTs FIELD=escaped(text) to url. */
static bool post_field(struct run *u, const char *url, const char *what, const char *field,
                       const char *text)
{
    char *esc = curl_easy_escape(u->h, text, 0);
    size_t cap = esc ? strlen(field) + strlen(esc) + 2 : 0;
    char *form = esc ? malloc(cap) : NULL;
    if (!form) {
        curl_free(esc);
        record_error(u->r, false, "%s: out of memory", what);
        return false;
    }
    snprintf(form, cap, "%s=%s", field, esc);
    curl_free(esc);
    bool ok = post_form(u, url, what, form);
    free(form);
    return ok;
}

/* POST /setSession value=V. */
static void set_value(struct run *u)
{
    u->r->value = VALUE_LOST;
    if (post_field(u, u->set_url, "set", "value", u->o->set_value)) {
        u->r->value = VALUE_KEPT;
        u->value_set = true;
    }
}

/* POST /login user=LOGIN-index: the answer's Set-Cookie (a new session id:
 * the app rotates it) goes into the jar like any other. */
static void log_in(struct run *u)
{
    struct client_result *r = u->r;
    r->login = VALUE_LOST;
    snprintf(r->user, sizeof r->user, "%s-%d", u->o->login, r->index);
    if (post_field(u, u->login_url, "login", "user", r->user)) {
        r->login = VALUE_KEPT;
        u->logged_in = true;
    }
}

/* POST /cart item=I&action=add o->cart times, I cycling through
 * probe_cart_items; stops at the first add that fails (the cart is then
 * lost: what it should hold is unknown). */
static void fill_cart(struct run *u)
{
    struct client_result *r = u->r;
    r->cart = VALUE_LOST;
    for (long k = 0; k < u->o->cart; k++) {
        int i = (int)(k % PROBE_CART_LINES);
        char form[64], what[32];
        snprintf(form, sizeof form, "item=%s&action=add", probe_cart_items[i]);
        snprintf(what, sizeof what, "cart add %ld", k + 1);
        if (!post_form(u, u->cart_url, what, form))
            return;
        r->cart_qty[i]++;
    }
    r->cart = VALUE_KEPT;
    u->cart_set = true;
}

int client_run(const struct probe_opts *o, int index, struct client_result *r)
{
    memset(r, 0, sizeof *r);
    r->index = index;
    r->value = VALUE_UNSET;
    r->login = VALUE_UNSET;
    r->cart = VALUE_UNSET;
    r->latency_ms = calloc((size_t)o->requests, sizeof *r->latency_ms);
    if (o->trace)
        r->trace = calloc((size_t)o->requests, sizeof *r->trace);
    struct run u = {.o = o, .r = r};
    int rc = -1;
    if (!r->latency_ms || (o->trace && !r->trace)) {
        snprintf(r->first_error, PROBE_ERR_MAX, "out of memory setting up the client");
        goto out;
    }
    if (setup(&u) < 0)
        goto out;
    if (o->login)
        log_in(&u);
    if (o->cart > 0)
        fill_cart(&u);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long long t0_ns = (long long)t0.tv_sec * 1000000000LL + t0.tv_nsec;
    for (long n = 1; n <= o->requests; n++) {
        pace(o, t0_ns, n);
        read_session(&u, n);
        if (n == 1 && o->set_value)
            set_value(&u);
    }
    r->count_ok = r->count_ok && r->ok == o->requests;
    r->continuous = r->errors == 0 && r->id_changes == 0 && r->count_ok && r->value != VALUE_LOST &&
                    r->login != VALUE_LOST && r->cart != VALUE_LOST;
    rc = 0;
out:
    curl_easy_cleanup(u.h);
    curl_slist_free_all(u.resolve);
    curl_slist_free_all(u.headers);
    free(u.body.data);
    return rc;
}

void client_result_free(struct client_result *r)
{
    free(r->latency_ms);
    r->latency_ms = NULL;
    r->nlatency = 0;
    free(r->trace);
    r->trace = NULL;
    r->ntrace = 0;
}

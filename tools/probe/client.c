/* The probe client's run: its reads of /api/session, paced, and the judging
 * of each answer (id, count, host, value, log-in, cart); the POSTs are in
 * client_post.c, the HTTP and its retries in client_http.c. */
#include "client_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

const char *const probe_cart_items[PROBE_CART_LINES] = {"apple", "bread", "milk", "eggs", "cheese"};

/* Counts one failed request and keeps the first message. */
void client_record_error(struct client_result *r, bool transport, const char *fmt, ...)
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
static void judge_state(struct client_state *u, json_object *obj)
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
static void observe(struct client_state *u, long n, const char *id, const char *host,
                    long long count, json_object *obj, double ms)
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
static void read_session(struct client_state *u, long n)
{
    struct client_result *r = u->r;
    char what[64];
    snprintf(what, sizeof what, "request %ld", n);
    r->requests++;
    curl_easy_setopt(u->h, CURLOPT_URL, u->api_url);
    curl_easy_setopt(u->h, CURLOPT_HTTPGET, 1L);
    double ms = 0;
    long status = client_http_perform(u, what, &ms);
    if (status < 0)
        return;
    if (status != 200) {
        client_record_error(r, false, "%s: HTTP %ld from %s", what, status, u->api_url);
        return;
    }
    json_tokener *tok = json_tokener_new();
    if (!tok) {
        client_record_error(r, false, "%s: out of memory", what);
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
        client_record_error(r, false, "%s: not the /api/session JSON (%.60s)", what, u->body.data);
        json_object_put(obj);
        return;
    }
    snprintf(r->store, sizeof r->store, "%s", store);
    observe(u, n, id, host, (long long)json_object_get_int64(count), obj, ms);
    json_object_put(obj);
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
    struct client_state u = {.o = o, .r = r};
    int rc = -1;
    if (!r->latency_ms || (o->trace && !r->trace)) {
        snprintf(r->first_error, PROBE_ERR_MAX, "out of memory setting up the client");
        goto out;
    }
    if (client_http_setup(&u) < 0)
        goto out;
    if (o->login)
        client_post_login(&u);
    if (o->cart > 0)
        client_post_cart(&u);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long long t0_ns = (long long)t0.tv_sec * 1000000000LL + t0.tv_nsec;
    for (long n = 1; n <= o->requests; n++) {
        pace(o, t0_ns, n);
        read_session(&u, n);
        if (n == 1 && o->set_value)
            client_post_value(&u);
    }
    r->count_ok = r->count_ok && r->ok == o->requests;
    r->continuous = r->errors == 0 && r->id_changes == 0 && r->count_ok && r->value != VALUE_LOST &&
                    r->login != VALUE_LOST && r->cart != VALUE_LOST;
    rc = 0;
out:
    client_http_cleanup(&u);
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

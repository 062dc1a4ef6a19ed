#include "report.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "stats.h"

#define TOTAL_HOSTS_MAX 256

/* Everything summed over the clients. Latencies: an owned sorted copy. */
struct totals {
    long requests, ok, errors, transport_errors, retries, id_changes, continuous;
    long first_try_5xx, first_try_transport;
    long logged_in, cart_intact; /* clients whose log-in / cart stayed throughout */
    struct host_seen hosts[TOTAL_HOSTS_MAX];
    int nhosts;
    double *latency_ms;
    long nlatency;
    double p50, p99;
    const char *store;
};

static void add_host(struct totals *t, const struct host_seen *h)
{
    for (int i = 0; i < t->nhosts; i++) {
        if (strcmp(t->hosts[i].name, h->name) == 0) {
            t->hosts[i].requests += h->requests;
            return;
        }
    }
    if (t->nhosts < TOTAL_HOSTS_MAX)
        t->hosts[t->nhosts++] = *h;
}

/* Sums the clients into t and sorts each client's latencies. -1 on out of
 * memory (t->latency_ms is then NULL). */
static int totals_of(struct totals *t, struct client_result *c, int n)
{
    memset(t, 0, sizeof *t);
    long all = 0;
    for (int i = 0; i < n; i++)
        all += c[i].nlatency;
    t->latency_ms = malloc((size_t)(all > 0 ? all : 1) * sizeof *t->latency_ms);
    if (!t->latency_ms)
        return -1;
    for (int i = 0; i < n; i++) {
        struct client_result *r = &c[i];
        t->requests += r->requests;
        t->ok += r->ok;
        t->errors += r->errors;
        t->transport_errors += r->transport_errors;
        t->retries += r->retries;
        t->first_try_5xx += r->first_try_5xx;
        t->first_try_transport += r->first_try_transport;
        t->id_changes += r->id_changes;
        t->continuous += r->continuous;
        t->logged_in += r->login == VALUE_KEPT;
        t->cart_intact += r->cart == VALUE_KEPT;
        if (r->store[0])
            t->store = r->store;
        for (int h = 0; h < r->nhosts; h++)
            add_host(t, &r->hosts[h]);
        stats_sort(r->latency_ms, r->nlatency);
        memcpy(t->latency_ms + t->nlatency, r->latency_ms,
               (size_t)r->nlatency * sizeof *r->latency_ms);
        t->nlatency += r->nlatency;
    }
    stats_sort(t->latency_ms, t->nlatency);
    t->p50 = stats_percentile(t->latency_ms, t->nlatency, 50);
    t->p99 = stats_percentile(t->latency_ms, t->nlatency, 99);
    return 0;
}

static const char *value_word(enum probe_value v)
{
    return v == VALUE_KEPT ? "kept" : v == VALUE_LOST ? "lost" : "-";
}

static void print_hosts(FILE *f, const struct client_result *r)
{
    for (int h = 0; h < r->nhosts; h++)
        fprintf(f, "%s%s", h ? "," : "", r->hosts[h].name);
    if (r->hosts_truncated)
        fputs(",...", f);
}

void report_text(FILE *f, const struct probe_opts *o, struct client_result *c, int n)
{
    struct totals t;
    if (totals_of(&t, c, n) < 0) {
        fputs("sessionlab-probe: out of memory writing the report\n", f);
        return;
    }
    fprintf(f, "sessionlab-probe %s: %d client%s x %ld request%s", o->url, n, n == 1 ? "" : "s",
            o->requests, o->requests == 1 ? "" : "s");
    if (o->set_value)
        fprintf(f, ", value \"%s\" set after the first", o->set_value);
    if (o->login)
        fprintf(f, ", logged in as %s-k first", o->login);
    if (o->cart)
        fprintf(f, ", %ld item%s added first", o->cart, o->cart == 1 ? "" : "s");
    fputc('\n', f);
    fprintf(f, "%6s %11s %6s %7s %10s %-16s %5s %5s %5s %7s %7s %7s  %s\n", "client", "ok/requests",
            "errors", "retries", "id-changes", "count", "value", "login", "cart", "p50 ms",
            "p99 ms", "session", "hosts");
    for (int i = 0; i < n; i++) {
        struct client_result *r = &c[i];
        char okreq[32], count[32];
        snprintf(okreq, sizeof okreq, "%ld/%ld", r->ok, r->requests);
        if (r->count_ok)
            snprintf(count, sizeof count, "1..%lld", r->final_count);
        else
            snprintf(count, sizeof count, "last %lld, %ld reset%s", r->final_count, r->count_resets,
                     r->count_resets == 1 ? "" : "s");
        fprintf(
            f, "%6d %11s %6ld %7ld %10ld %-16s %5s %5s %5s %7.2f %7.2f %7s  ", r->index, okreq,
            r->errors, r->retries, r->id_changes, count, value_word(r->value), value_word(r->login),
            value_word(r->cart), stats_percentile(r->latency_ms, r->nlatency, 50),
            stats_percentile(r->latency_ms, r->nlatency, 99), r->continuous ? "kept" : "BROKEN");
        print_hosts(f, r);
        fputc('\n', f);
        if (r->first_error[0])
            fprintf(f, "%6s first error: %s\n", "", r->first_error);
    }
    fprintf(f, "hosts seen:");
    for (int h = 0; h < t.nhosts; h++)
        fprintf(f, " %s (%ld)", t.hosts[h].name, t.hosts[h].requests);
    fprintf(f, "%s\n", t.nhosts ? "" : " none");
    fprintf(f,
            "total: %ld/%ld requests answered, %ld error%s, %ld retr%s (first tries: %ld 5xx, "
            "%ld unanswered), %ld id change%s, "
            "%ld of %d session%s continuous, store %s, latency p50 %.2f ms p99 %.2f ms\n",
            t.ok, t.requests, t.errors, t.errors == 1 ? "" : "s", t.retries,
            t.retries == 1 ? "y" : "ies", t.first_try_5xx, t.first_try_transport, t.id_changes,
            t.id_changes == 1 ? "" : "s", t.continuous, n, n == 1 ? "" : "s",
            t.store ? t.store : "?", t.p50, t.p99);
    if (o->login || o->cart) {
        fputs("total:", f);
        if (o->login)
            fprintf(f, " %ld of %d logged in throughout%s", t.logged_in, n, o->cart ? "," : "");
        if (o->cart)
            fprintf(f, " %ld of %d cart%s intact throughout", t.cart_intact, n, n == 1 ? "" : "s");
        fputc('\n', f);
    }
    free(t.latency_ms);
}

/* json-c helpers: add and forget (json_object_object_add takes ownership). */
static void put(json_object *o, const char *k, json_object *v)
{
    json_object_object_add(o, k, v);
}

static json_object *hosts_array(const struct host_seen *h, int n)
{
    json_object *a = json_object_new_array();
    for (int i = 0; a && i < n; i++)
        json_object_array_add(a, json_object_new_string(h[i].name));
    return a;
}

static json_object *hosts_counts(const struct host_seen *h, int n)
{
    json_object *m = json_object_new_object();
    for (int i = 0; m && i < n; i++)
        put(m, h[i].name, json_object_new_int64(h[i].requests));
    return m;
}

static json_object *ms(double v)
{
    /* Printed with three decimals (json-c would print 17 digits). */
    char s[32];
    snprintf(s, sizeof s, "%.3f", v);
    return json_object_new_double_s(v, s);
}

/* [[n, count, host index, t_ms], ...]: compact, one entry per answer. */
static json_object *trace_json(const struct client_result *r)
{
    json_object *a = json_object_new_array_ext((int)r->ntrace);
    for (long i = 0; a && i < r->ntrace; i++) {
        const struct trace_point *p = &r->trace[i];
        json_object *e = json_object_new_array_ext(4);
        json_object_array_add(e, json_object_new_int64(p->n));
        json_object_array_add(e, json_object_new_int64(p->count));
        json_object_array_add(e, json_object_new_int(p->host));
        json_object_array_add(e, json_object_new_int64(p->t_ms));
        json_object_array_add(a, e);
    }
    return a;
}

/* true/false for a kept/lost value, null when it was not asked for. */
static json_object *kept_json(enum probe_value v)
{
    return v == VALUE_UNSET ? NULL : json_object_new_boolean(v == VALUE_KEPT);
}

/* What the cart's adds put in, as /api/session lists a cart. */
static json_object *cart_json(const int qty[PROBE_CART_LINES])
{
    json_object *a = json_object_new_array();
    for (int i = 0; a && i < PROBE_CART_LINES; i++) {
        if (qty[i] == 0)
            continue;
        json_object *line = json_object_new_object();
        put(line, "item", json_object_new_string(probe_cart_items[i]));
        put(line, "qty", json_object_new_int(qty[i]));
        json_object_array_add(a, line);
    }
    return a;
}

static json_object *client_json(const struct probe_opts *opts, const struct client_result *r)
{
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    put(o, "client", json_object_new_int(r->index));
    put(o, "requests", json_object_new_int64(r->requests));
    put(o, "ok", json_object_new_int64(r->ok));
    put(o, "errors", json_object_new_int64(r->errors));
    put(o, "transport_errors", json_object_new_int64(r->transport_errors));
    put(o, "retries", json_object_new_int64(r->retries));
    put(o, "first_try_5xx", json_object_new_int64(r->first_try_5xx));
    put(o, "first_try_transport", json_object_new_int64(r->first_try_transport));
    put(o, "first_error", r->first_error[0] ? json_object_new_string(r->first_error) : NULL);
    put(o, "hosts", hosts_array(r->hosts, r->nhosts));
    put(o, "requests_by_host", hosts_counts(r->hosts, r->nhosts));
    put(o, "hosts_truncated", json_object_new_boolean(r->hosts_truncated));
    put(o, "first_session_id", r->first_id[0] ? json_object_new_string(r->first_id) : NULL);
    put(o, "last_session_id", r->last_id[0] ? json_object_new_string(r->last_id) : NULL);
    put(o, "id_changes", json_object_new_int64(r->id_changes));
    put(o, "final_count", json_object_new_int64(r->final_count));
    put(o, "count_ok", json_object_new_boolean(r->count_ok));
    put(o, "count_resets", json_object_new_int64(r->count_resets));
    put(o, "value_kept", kept_json(r->value));
    put(o, "user", r->user[0] ? json_object_new_string(r->user) : NULL);
    put(o, "stayed_logged_in", kept_json(r->login));
    put(o, "logged_out_reads", opts->login ? json_object_new_int64(r->logged_out_reads) : NULL);
    put(o, "cart", opts->cart ? cart_json(r->cart_qty) : NULL);
    put(o, "cart_intact", kept_json(r->cart));
    put(o, "cart_wrong_reads", opts->cart ? json_object_new_int64(r->cart_wrong_reads) : NULL);
    put(o, "p50_ms", ms(stats_percentile(r->latency_ms, r->nlatency, 50)));
    put(o, "p99_ms", ms(stats_percentile(r->latency_ms, r->nlatency, 99)));
    put(o, "continuous", json_object_new_boolean(r->continuous));
    if (r->trace)
        put(o, "trace", trace_json(r));
    return o;
}

int report_json(FILE *f, const struct probe_opts *o, struct client_result *c, int n)
{
    struct totals t;
    if (totals_of(&t, c, n) < 0)
        return -1;
    json_object *root = json_object_new_object();
    json_object *clients = json_object_new_array();
    json_object *total = json_object_new_object();
    if (!root || !clients || !total) {
        json_object_put(root);
        json_object_put(clients);
        json_object_put(total);
        free(t.latency_ms);
        return -1;
    }
    put(root, "url", json_object_new_string(o->url));
    put(root, "clients", json_object_new_int(n));
    put(root, "requests_per_client", json_object_new_int64(o->requests));
    put(root, "set_value", o->set_value ? json_object_new_string(o->set_value) : NULL);
    put(root, "login", o->login ? json_object_new_string(o->login) : NULL);
    put(root, "cart_items", o->cart ? json_object_new_int64(o->cart) : NULL);
    put(root, "interface", o->interface ? json_object_new_string(o->interface) : NULL);
    put(root, "store", t.store ? json_object_new_string(t.store) : NULL);
    put(total, "requests", json_object_new_int64(t.requests));
    put(total, "ok", json_object_new_int64(t.ok));
    put(total, "errors", json_object_new_int64(t.errors));
    put(total, "transport_errors", json_object_new_int64(t.transport_errors));
    put(total, "retries", json_object_new_int64(t.retries));
    put(total, "first_try_5xx", json_object_new_int64(t.first_try_5xx));
    put(total, "first_try_transport", json_object_new_int64(t.first_try_transport));
    put(total, "hosts", hosts_array(t.hosts, t.nhosts));
    put(total, "requests_by_host", hosts_counts(t.hosts, t.nhosts));
    put(total, "id_changes", json_object_new_int64(t.id_changes));
    put(total, "continuous_clients", json_object_new_int64(t.continuous));
    put(total, "logged_in_clients", o->login ? json_object_new_int64(t.logged_in) : NULL);
    put(total, "cart_intact_clients", o->cart ? json_object_new_int64(t.cart_intact) : NULL);
    put(total, "p50_ms", ms(t.p50));
    put(total, "p99_ms", ms(t.p99));
    put(root, "total", total);
    for (int i = 0; i < n; i++)
        json_object_array_add(clients, client_json(o, &c[i]));
    put(root, "per_client", clients);
    put(root, "continuous", json_object_new_boolean(t.continuous == n));
    fprintf(f, "%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
    json_object_put(root);
    free(t.latency_ms);
    return 0;
}

#include "metrics.h"
#include "atomic.h"

#include <stddef.h>

static const char *const route_labels[ROUTE_COUNT] = {
    "/",     "/api/session", "/setSession", "/clearSession", "/login",   "/logout",
    "/cart", "/hello",       "/healthz",    "/readyz",       "/metrics", "other",
};

/* The statuses the app sends; anything else is counted as 500. */
static const int statuses[] = {200, 303, 400, 403, 404, 405, 409, 413, 414, 415, 500, 503};
#define NSTATUS (sizeof statuses / sizeof statuses[0])

/* Store latency buckets, in nanoseconds (upper bounds). */
static const long long bucket_ns[] = {
    100000,   250000,   500000,   1000000,   2500000,   5000000,
    10000000, 25000000, 50000000, 100000000, 250000000, 1000000000,
};
#define NBUCKET (sizeof bucket_ns / sizeof bucket_ns[0])

static unsigned long long requests[ROUTE_COUNT][NSTATUS];
static unsigned long long created, destroyed, store_errors;
static unsigned long long logins, logouts, revoked, rotations;
static unsigned long long conns_opened, conns_closed;
static unsigned long long latency_bucket[NBUCKET + 1]; /* last: +Inf */
static unsigned long long latency_count, latency_sum_ns;

static void add(unsigned long long *p, unsigned long long v)
{
    atomic_add(p, v, RELAXED);
}

static unsigned long long get(const unsigned long long *p)
{
    return atomic_get(p, RELAXED);
}

const char *route_label(enum route_id r)
{
    return route_labels[r < ROUTE_COUNT ? r : ROUTE_OTHER];
}

void metrics_request(enum route_id r, int status)
{
    size_t s = 0;
    while (s < NSTATUS && statuses[s] != status)
        s++;
    if (s == NSTATUS)
        s = NSTATUS - 2; /* 500 */
    add(&requests[r < ROUTE_COUNT ? r : ROUTE_OTHER][s], 1);
}

void metrics_session_created(void)
{
    add(&created, 1);
}
void metrics_session_destroyed(void)
{
    add(&destroyed, 1);
}
void metrics_store_error(void)
{
    add(&store_errors, 1);
}
void metrics_login(void)
{
    add(&logins, 1);
}
void metrics_logout(void)
{
    add(&logouts, 1);
}
void metrics_id_rotation(void)
{
    add(&rotations, 1);
}

void metrics_sessions_revoked(long long n)
{
    if (n > 0)
        add(&revoked, (unsigned long long)n);
}
void metrics_connection_opened(void)
{
    add(&conns_opened, 1);
}
void metrics_connection_closed(void)
{
    add(&conns_closed, 1);
}

void metrics_store_latency(long long ns)
{
    size_t i = 0;
    while (i < NBUCKET && ns > bucket_ns[i])
        i++;
    add(&latency_bucket[i], 1);
    add(&latency_count, 1);
    add(&latency_sum_ns, ns > 0 ? (unsigned long long)ns : 0);
}

static void render_requests(struct buf *b)
{
    buf_puts(b, "# HELP sessionlab_requests_total Requests by route and status.\n"
                "# TYPE sessionlab_requests_total counter\n");
    for (size_t r = 0; r < ROUTE_COUNT; r++)
        for (size_t s = 0; s < NSTATUS; s++) {
            unsigned long long v = get(&requests[r][s]);
            if (v)
                buf_printf(b, "sessionlab_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
                           route_labels[r], statuses[s], v);
        }
}

static void render_latency(struct buf *b)
{
    buf_puts(b, "# HELP sessionlab_store_latency_seconds Time spent in store operations.\n"
                "# TYPE sessionlab_store_latency_seconds histogram\n");
    unsigned long long cum = 0;
    for (size_t i = 0; i < NBUCKET; i++) {
        cum += get(&latency_bucket[i]);
        buf_printf(b, "sessionlab_store_latency_seconds_bucket{le=\"%g\"} %llu\n",
                   (double)bucket_ns[i] / 1e9, cum);
    }
    cum += get(&latency_bucket[NBUCKET]);
    buf_printf(b, "sessionlab_store_latency_seconds_bucket{le=\"+Inf\"} %llu\n", cum);
    buf_printf(b, "sessionlab_store_latency_seconds_sum %.9f\n",
               (double)get(&latency_sum_ns) / 1e9);
    buf_printf(b, "sessionlab_store_latency_seconds_count %llu\n", get(&latency_count));
}

static void render_counter(struct buf *b, const char *name, const char *help, unsigned long long v)
{
    buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name, v);
}

void metrics_render(struct buf *b, const char *store, long long live, bool store_up)
{
    buf_printf(b,
               "# HELP sessionlab_build_info Version and store of this process.\n"
               "# TYPE sessionlab_build_info gauge\n"
               "sessionlab_build_info{version=\"%s\",store=\"%s\"} 1\n",
               SESSIONLAB_VERSION, store);
    buf_printf(
        b,
        "# HELP sessionlab_store_up Whether the session store answered a ping at this scrape.\n"
        "# TYPE sessionlab_store_up gauge\n"
        "sessionlab_store_up{store=\"%s\"} %d\n",
        store, store_up ? 1 : 0);
    render_requests(b);
    render_counter(b, "sessionlab_sessions_created_total", "Sessions created.", get(&created));
    render_counter(b, "sessionlab_sessions_destroyed_total", "Sessions destroyed by /clearSession.",
                   get(&destroyed));
    render_counter(b, "sessionlab_store_errors_total", "Store operations that failed.",
                   get(&store_errors));
    render_counter(b, "sessionlab_logins_total", "Logins (POST /login) done.", get(&logins));
    render_counter(b, "sessionlab_logouts_total", "Logouts (POST /logout) of a live session.",
                   get(&logouts));
    render_counter(b, "sessionlab_sessions_revoked_total",
                   "Sessions ended by log-out-everywhere besides the requester's own.",
                   get(&revoked));
    render_counter(b, "sessionlab_session_id_rotations_total",
                   "Logins that moved a live session to a new id.", get(&rotations));
    render_latency(b);
    unsigned long long opened = get(&conns_opened), closed = get(&conns_closed);
    render_counter(b, "sessionlab_connections_accepted_total", "FastCGI connections accepted.",
                   opened);
    buf_printf(b,
               "# HELP sessionlab_connections_open FastCGI connections open (idle or busy).\n"
               "# TYPE sessionlab_connections_open gauge\n"
               "sessionlab_connections_open %llu\n",
               opened > closed ? opened - closed : 0);
    if (live >= 0)
        buf_printf(b,
                   "# HELP sessionlab_sessions_live Sessions held by the memory store.\n"
                   "# TYPE sessionlab_sessions_live gauge\n"
                   "sessionlab_sessions_live %lld\n",
                   live);
}

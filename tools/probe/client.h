#ifndef SESSIONLAB_PROBE_CLIENT_H
#define SESSIONLAB_PROBE_CLIENT_H

/* One simulated user: its own libcurl easy handle and cookie jar, optionally
 * a log-in (POST /login) and cart adds (POST /cart) first, then N reads of
 * /api/session (optionally a /setSession after the first), and what it saw. */

#include <stdbool.h>

#define PROBE_HOSTS_MAX 32   /* distinct hostnames kept per client */
#define PROBE_HOST_MAX 128   /* bytes of one hostname, NUL included */
#define PROBE_ID_MAX 128     /* bytes of one session id, NUL included */
#define PROBE_ERR_MAX 256    /* bytes of the first error message */
#define PROBE_BODY_MAX 65536 /* largest response body accepted */
#define PROBE_STORE_MAX 16   /* bytes of the store name */
#define PROBE_RETRIES 6      /* extra tries of a request without a usable answer */
#define PROBE_RETRY_MS 50L   /* first pause before a retry; doubles each time */
#define PROBE_USER_MAX 33    /* bytes of a user name, NUL included (the app's USER_MAX 32) */
#define PROBE_CART_LINES 5   /* catalogue items the adds cycle through (the app's CART_LINES_MAX) */
#define PROBE_CART_MAX 495   /* adds per user: PROBE_CART_LINES x the app's CART_QTY_MAX 99 */

/* The items --cart adds, in turn: the first PROBE_CART_LINES of the app's
 * catalogue, in its order (so the expected cart is in the order
 * /api/session lists it). */
extern const char *const probe_cart_items[PROBE_CART_LINES];

struct probe_opts {
    const char *url;       /* base URL, http:// or https:// */
    long requests;         /* reads of /api/session per client */
    int clients;           /* simulated users, run concurrently */
    const char *set_value; /* POSTed after the first read, or NULL */
    const char *login;     /* user k logs in as LOGIN-k before its reads, or NULL */
    long cart;             /* items each user adds before its reads (0: none) */
    const char *interface; /* CURLOPT_INTERFACE, or NULL */
    const char *resolve;   /* CURLOPT_RESOLVE entry HOST:PORT:ADDR, or NULL */
    bool insecure;         /* skip TLS verification */
    bool json;             /* machine-readable report */
    bool trace;            /* keep every answer (for charts): JSON "trace" */
    long rate;             /* reads per second per user at most (0: as fast as answered) */
};

/* A value, a log-in or a cart: not asked for, kept on every read, or lost
 * (the POST failed, or some read did not show it). */
enum probe_value { VALUE_UNSET, VALUE_KEPT, VALUE_LOST };

struct host_seen {
    char name[PROBE_HOST_MAX];
    long requests;
};

/* One answered read, kept with --trace: the request number, the access count
 * it showed, the replica (index into hosts, -1 past PROBE_HOSTS_MAX) and the
 * wall-clock time it was answered (ms since the epoch, to line up with the
 * events a lab script logs). */
struct trace_point {
    long n;
    long long count;
    int host;
    long long t_ms;
};

struct client_result {
    int index;                /* 1-based */
    long requests;            /* reads attempted */
    long ok;                  /* reads answered 200 with well-formed JSON */
    long errors;              /* reads (and the set) that failed, any reason */
    long transport_errors;    /* of those: no HTTP answer (connect, reset, timeout) */
    long retries;             /* extra tries after no answer or 502/503/504 */
    long first_try_5xx;       /* requests whose first try was answered 5xx */
    long first_try_transport; /* requests whose first try got no HTTP answer */
    char first_error[PROBE_ERR_MAX];
    struct host_seen hosts[PROBE_HOSTS_MAX]; /* in order of first sight */
    int nhosts;
    bool hosts_truncated; /* more than PROBE_HOSTS_MAX distinct names */
    char first_id[PROBE_ID_MAX];
    char last_id[PROBE_ID_MAX];
    char store[PROBE_STORE_MAX];
    long id_changes;                /* answers whose id differed from the previous one */
    long long final_count;          /* access_count of the last answer */
    bool count_ok;                  /* answers counted exactly 1, 2, ..., requests */
    long count_resets;              /* answers whose count did not rise */
    enum probe_value value;         /* VALUE_UNSET when no --set-value */
    char user[PROBE_USER_MAX];      /* LOGIN-index with --login, else "" */
    enum probe_value login;         /* VALUE_UNSET when no --login */
    long logged_out_reads;          /* answered reads whose "user" was not ours */
    enum probe_value cart;          /* VALUE_UNSET when no --cart */
    int cart_qty[PROBE_CART_LINES]; /* what the adds that succeeded put in */
    long cart_wrong_reads;          /* answered reads whose "cart" was not that */
    double *latency_ms;             /* one per answered read; owned, see client_result_free */
    long nlatency;
    struct trace_point *trace; /* one per answered read with --trace; owned */
    long ntrace;
    bool continuous; /* no error, one id, count 1..N, value, log-in and cart kept */
};

/* Runs one client to completion. Every failure of a request is recorded in r
 * (errors, first_error), never returned. Returns -1 only when the client
 * could not be set up at all (no memory, no curl handle), with r->first_error
 * saying why. r->latency_ms and r->trace must be released with
 * client_result_free. */
int client_run(const struct probe_opts *o, int index, struct client_result *r);

void client_result_free(struct client_result *r);

#endif

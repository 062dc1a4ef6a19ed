/* sessionlab-probe: plays users against a sessionlab base URL and reports
 * whether their sessions stayed continuous.
 *
 *   sessionlab-probe URL [-n N] [--clients C] [--set-value V] [--login NAME]
 *                    [--cart N] [--interface ADDR] [--resolve HOST:PORT:ADDR]
 *                    [--insecure] [--json] [--trace]
 *
 * Exit: 0 every session continuous; 1 some were not; 2 usage error, or a
 * request that got no HTTP answer at all (connect, reset, timeout). */

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "client.h"
#include "report.h"

#define REQUESTS_MAX 1000000L
#define CLIENTS_MAX 512
#define VALUE_MAX 4096                     /* the app's limit on a session value */
#define USER_NAME_MAX (PROBE_USER_MAX - 1) /* the app's USER_MAX */

enum { EXIT_CONTINUOUS = 0, EXIT_BROKEN = 1, EXIT_USAGE = 2 };

static const char usage_text[] =
    "usage: sessionlab-probe URL [-n N] [--clients C] [--set-value V] [--login NAME]\n"
    "                        [--cart N] [--interface ADDR] [--resolve HOST:PORT:ADDR]\n"
    "                        [--rate R] [--insecure] [--json] [--trace]\n"
    "Plays C users (default 1), each with its own cookie jar, reading URL/api/session\n"
    "N times (default 10), and reports per user and in total: requests, hostnames seen,\n"
    "session id changes, whether the access count ran 1..N, whether a set value\n"
    "survived, whether the user stayed logged in and its cart intact, latency p50/p99.\n"
    "  -n N                   reads of /api/session per user (1..1000000)\n"
    "  --clients C            users, run concurrently (1..512)\n"
    "  --set-value V          POST V to /setSession after the first read; later reads\n"
    "                         must show it (needs N >= 2)\n"
    "  --login NAME           before its reads, user k logs in once as NAME-k (POST\n"
    "                         /login; the new session cookie it sets is kept); every\n"
    "                         read must show \"user\": \"NAME-k\" (NAME: letters, digits,\n"
    "                         '.', '_', '-'; NAME-k at most 32 bytes)\n"
    "  --cart N               before its reads (after --login), each user adds N items\n"
    "                         (POST /cart action=add, cycling apple, bread, milk, eggs,\n"
    "                         cheese; 1..495); every read must show exactly that cart\n"
    "  --rate R               each user starts at most R reads a second (1..100000):\n"
    "                         a run of N reads lasts at least N/R s however fast the\n"
    "                         machine, so it can outlast a rollout (default: no pause)\n"
    "  --interface ADDR       source address or interface for every connection\n"
    "  --resolve H:P:ADDR     connect to ADDR for host H port P (like curl --resolve)\n"
    "  --insecure             do not verify the TLS certificate\n"
    "  --json                 print the report as JSON\n"
    "  --trace                with --json: every answer per user as \"trace\":\n"
    "                         [[request, access_count, host index, unix ms], ...]\n"
    "Every request opens a new connection, so connection-level balancers\n"
    "(Kubernetes Services, NodePorts) choose anew each time. A request without an\n"
    "HTTP answer, or answered 502/503/504, is tried again up to 6 times (after 50,\n"
    "100, 200, 400, 800, 1600 ms), like a person reloading; the report counts the retries,\n"
    "and, apart, the requests whose first try got a 5xx or no answer (what a client\n"
    "without retries would have seen). A session is continuous when every request was\n"
    "answered, the id never changed, the count ran 1..N and the value, the log-in and\n"
    "the cart (those asked for) showed on every answered read.\n"
    "Exit status: 0 every session continuous, 1 some were not, 2 usage or\n"
    "connection errors.\n";

static int usage_error(const char *fmt, const char *arg)
{
    fputs("sessionlab-probe: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\n(sessionlab-probe --help for usage)\n", stderr);
    return EXIT_USAGE;
}

/* Parses a decimal in [min, max]; -1 when it is not one. */
static long parse_count(const char *s, long min, long max)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    return v;
}

static bool valid_resolve(const char *s)
{
    /* HOST:PORT:ADDR; ADDR may be an IPv6 address with colons. */
    const char *a = strchr(s, ':');
    if (!a || a == s)
        return false;
    const char *b = strchr(a + 1, ':');
    if (!b || b == a + 1 || !b[1])
        return false;
    for (const char *p = a + 1; p < b; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

/* A name the app accepts as a user (before the "-k" the probe appends). */
static bool valid_user_name(const char *s)
{
    if (!*s || strlen(s) > USER_NAME_MAX)
        return false;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
           strlen(s);
}

/* Fills o from argv. Returns -1 to exit 0 (help), EXIT_USAGE on a bad
 * command line, 0 to run. */
static int parse_args(int argc, char **argv, struct probe_opts *o)
{
    enum {
        OPT_CLIENTS = 256,
        OPT_SET,
        OPT_LOGIN,
        OPT_CART,
        OPT_IFACE,
        OPT_RESOLVE,
        OPT_INSECURE,
        OPT_JSON,
        OPT_TRACE,
        OPT_RATE
    };
    static const struct option longs[] = {
        {"clients", required_argument, NULL, OPT_CLIENTS},
        {"set-value", required_argument, NULL, OPT_SET},
        {"login", required_argument, NULL, OPT_LOGIN},
        {"cart", required_argument, NULL, OPT_CART},
        {"interface", required_argument, NULL, OPT_IFACE},
        {"resolve", required_argument, NULL, OPT_RESOLVE},
        {"insecure", no_argument, NULL, OPT_INSECURE},
        {"json", no_argument, NULL, OPT_JSON},
        {"trace", no_argument, NULL, OPT_TRACE},
        {"rate", required_argument, NULL, OPT_RATE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (struct probe_opts){.requests = 10, .clients = 1};
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":n:h", longs, NULL)) != -1) {
        switch (c) {
        case 'n':
            o->requests = parse_count(optarg, 1, REQUESTS_MAX);
            if (o->requests < 0)
                return usage_error("-n must be a number from 1 to 1000000, not '%s'", optarg);
            break;
        case OPT_CLIENTS: {
            long v = parse_count(optarg, 1, CLIENTS_MAX);
            if (v < 0)
                return usage_error("--clients must be a number from 1 to 512, not '%s'", optarg);
            o->clients = (int)v;
            break;
        }
        case OPT_SET:
            if (strlen(optarg) > VALUE_MAX)
                return usage_error("--set-value may be at most 4096 bytes%s", "");
            o->set_value = optarg;
            break;
        case OPT_LOGIN:
            if (!valid_user_name(optarg))
                return usage_error(
                    "--login needs a name of letters, digits, '.', '_' or '-', not '%s'", optarg);
            o->login = optarg;
            break;
        case OPT_CART:
            o->cart = parse_count(optarg, 1, PROBE_CART_MAX);
            if (o->cart < 0)
                return usage_error("--cart must be a number from 1 to 495, not '%s'", optarg);
            break;
        case OPT_IFACE:
            if (!*optarg)
                return usage_error("--interface needs an address or interface name%s", "");
            o->interface = optarg;
            break;
        case OPT_RESOLVE:
            if (!valid_resolve(optarg))
                return usage_error("--resolve must be HOST:PORT:ADDR, not '%s'", optarg);
            o->resolve = optarg;
            break;
        case OPT_INSECURE:
            o->insecure = true;
            break;
        case OPT_JSON:
            o->json = true;
            break;
        case OPT_TRACE:
            o->trace = true;
            break;
        case OPT_RATE:
            o->rate = parse_count(optarg, 1, 100000);
            if (o->rate < 0)
                return usage_error("--rate must be a number from 1 to 100000, not '%s'", optarg);
            break;
        case 'h':
            fputs(usage_text, stdout);
            return -1;
        case ':':
            return usage_error("%s needs a value", argv[optind - 1]);
        default:
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return usage_error(optind >= argc ? "missing URL%s"
                                          : "exactly one URL expected, got extra '%s'",
                           optind >= argc ? "" : argv[optind + 1]);
    o->url = argv[optind];
    if (strncmp(o->url, "http://", 7) != 0 && strncmp(o->url, "https://", 8) != 0)
        return usage_error("URL must start with http:// or https://, not '%s'", o->url);
    if (strpbrk(o->url, "?#"))
        return usage_error("URL must be a base URL without query or fragment, not '%s'", o->url);
    if (o->login && strlen(o->login) + (size_t)snprintf(NULL, 0, "-%d", o->clients) > USER_NAME_MAX)
        return usage_error(
            "--login NAME too long: NAME-k (k up to --clients) must fit in 32 bytes, '%s' does not",
            o->login);
    if (o->set_value && o->requests < 2)
        return usage_error("--set-value needs -n 2 or more (the value is checked on later reads)%s",
                           "");
    return 0;
}

struct job {
    const struct probe_opts *o;
    int index;
    struct client_result r;
    int rc;
};

static void *job_main(void *arg)
{
    struct job *j = arg;
    j->rc = client_run(j->o, j->index, &j->r);
    return NULL;
}

/* Runs every client on its own thread (the first on this one when thread
 * creation fails, so a tight limit still gets a result). */
static int run_clients(const struct probe_opts *o, struct job *jobs)
{
    pthread_t *th = calloc((size_t)o->clients, sizeof *th);
    bool *started = calloc((size_t)o->clients, sizeof *started);
    if (!th || !started) {
        free(th);
        free(started);
        return -1;
    }
    for (int i = 0; i < o->clients; i++) {
        jobs[i] = (struct job){.o = o, .index = i + 1};
        started[i] = pthread_create(&th[i], NULL, job_main, &jobs[i]) == 0;
        if (!started[i])
            job_main(&jobs[i]);
    }
    for (int i = 0; i < o->clients; i++)
        if (started[i])
            pthread_join(th[i], NULL);
    free(th);
    free(started);
    return 0;
}

int main(int argc, char **argv)
{
    struct probe_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fputs("sessionlab-probe: libcurl failed to initialise\n", stderr);
        return EXIT_USAGE;
    }
    struct job *jobs = calloc((size_t)o.clients, sizeof *jobs);
    struct client_result *res = calloc((size_t)o.clients, sizeof *res);
    if (!jobs || !res || run_clients(&o, jobs) < 0) {
        fputs("sessionlab-probe: out of memory\n", stderr);
        free(jobs);
        free(res);
        curl_global_cleanup();
        return EXIT_USAGE;
    }

    long transport = 0, requests = 0, setup_failed = 0, continuous = 0;
    const char *first_transport = NULL;
    for (int i = 0; i < o.clients; i++) {
        res[i] = jobs[i].r;
        if (jobs[i].rc < 0) {
            setup_failed++;
            fprintf(stderr, "sessionlab-probe: client %d: %s\n", i + 1, res[i].first_error);
        }
        transport += res[i].transport_errors;
        requests += res[i].requests;
        continuous += res[i].continuous;
        if (res[i].transport_errors && !first_transport)
            first_transport = res[i].first_error;
    }

    if (o.json) {
        if (report_json(stdout, &o, res, o.clients) < 0)
            fputs("sessionlab-probe: out of memory writing the report\n", stderr);
    } else {
        report_text(stdout, &o, res, o.clients);
    }
    fflush(stdout);

    if (setup_failed) {
        rc = EXIT_USAGE;
    } else if (transport) {
        fprintf(stderr,
                "sessionlab-probe: %ld of %ld requests to %s got no HTTP answer; first: %s\n",
                transport, requests, o.url, first_transport);
        rc = EXIT_USAGE;
    } else {
        rc = continuous == o.clients ? EXIT_CONTINUOUS : EXIT_BROKEN;
    }
    for (int i = 0; i < o.clients; i++)
        client_result_free(&res[i]);
    free(jobs);
    free(res);
    curl_global_cleanup();
    return rc;
}

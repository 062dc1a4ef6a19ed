/* sessionlab-probe's command line: the usage text, one checking setter per
 * option (a table drives getopt_long), and the checks of the options
 * against each other. */
#include "args.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUESTS_MAX 1000000L
#define CLIENTS_MAX 512
#define VALUE_MAX 4096                     /* the app's limit on a session value */
#define USER_NAME_MAX (PROBE_USER_MAX - 1) /* the app's USER_MAX */

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

/* Each option's check and effect: 0, or EXIT_USAGE after the message. */
static int set_requests(struct probe_opts *o, const char *arg)
{
    o->requests = parse_count(arg, 1, REQUESTS_MAX);
    if (o->requests < 0)
        return usage_error("-n must be a number from 1 to 1000000, not '%s'", arg);
    return 0;
}

static int set_clients(struct probe_opts *o, const char *arg)
{
    long v = parse_count(arg, 1, CLIENTS_MAX);
    if (v < 0)
        return usage_error("--clients must be a number from 1 to 512, not '%s'", arg);
    o->clients = (int)v;
    return 0;
}

static int set_value(struct probe_opts *o, const char *arg)
{
    if (strlen(arg) > VALUE_MAX)
        return usage_error("--set-value may be at most 4096 bytes%s", "");
    o->set_value = arg;
    return 0;
}

static int set_login(struct probe_opts *o, const char *arg)
{
    if (!valid_user_name(arg))
        return usage_error("--login needs a name of letters, digits, '.', '_' or '-', not '%s'",
                           arg);
    o->login = arg;
    return 0;
}

static int set_cart(struct probe_opts *o, const char *arg)
{
    o->cart = parse_count(arg, 1, PROBE_CART_MAX);
    if (o->cart < 0)
        return usage_error("--cart must be a number from 1 to 495, not '%s'", arg);
    return 0;
}

static int set_interface(struct probe_opts *o, const char *arg)
{
    if (!*arg)
        return usage_error("--interface needs an address or interface name%s", "");
    o->interface = arg;
    return 0;
}

static int set_resolve(struct probe_opts *o, const char *arg)
{
    if (!valid_resolve(arg))
        return usage_error("--resolve must be HOST:PORT:ADDR, not '%s'", arg);
    o->resolve = arg;
    return 0;
}

static int set_rate(struct probe_opts *o, const char *arg)
{
    o->rate = parse_count(arg, 1, 100000);
    if (o->rate < 0)
        return usage_error("--rate must be a number from 1 to 100000, not '%s'", arg);
    return 0;
}

/* The long options but --help, in getopt_long's order: option i comes back
 * as OPT_BASE + i. */
#define OPT_BASE 256

static const struct probe_flag {
    const char *name;
    int has_arg;
    int (*set)(struct probe_opts *o, const char *arg); /* NULL: a switch */
    size_t offset;                                     /* a switch's bool in struct probe_opts */
} flags[] = {
    {"clients", required_argument, set_clients, 0},
    {"set-value", required_argument, set_value, 0},
    {"login", required_argument, set_login, 0},
    {"cart", required_argument, set_cart, 0},
    {"interface", required_argument, set_interface, 0},
    {"resolve", required_argument, set_resolve, 0},
    {"insecure", no_argument, NULL, offsetof(struct probe_opts, insecure)},
    {"json", no_argument, NULL, offsetof(struct probe_opts, json)},
    {"trace", no_argument, NULL, offsetof(struct probe_opts, trace)},
    {"rate", required_argument, set_rate, 0},
};

#define NFLAGS (sizeof flags / sizeof flags[0])

/* getopt_long's table: flags[], then --help, then the end. */
static void long_options(struct option longs[NFLAGS + 2])
{
    for (size_t i = 0; i < NFLAGS; i++)
        longs[i] = (struct option){flags[i].name, flags[i].has_arg, NULL, OPT_BASE + (int)i};
    longs[NFLAGS] = (struct option){"help", no_argument, NULL, 'h'};
    longs[NFLAGS + 1] = (struct option){NULL, 0, NULL, 0};
}

/* Applies one getopt_long answer c. 0 to go on, -1 to exit 0 (help),
 * EXIT_USAGE on a bad option. */
static int apply_option(int c, char **argv, struct probe_opts *o)
{
    if (c >= OPT_BASE) {
        const struct probe_flag *f = &flags[c - OPT_BASE];
        if (f->set)
            return f->set(o, optarg);
        *(bool *)((char *)o + f->offset) = true;
        return 0;
    }
    switch (c) {
    case 'n':
        return set_requests(o, optarg);
    case 'h':
        fputs(usage_text, stdout);
        return -1;
    case ':':
        return usage_error("%s needs a value", argv[optind - 1]);
    default:
        return usage_error("unknown option '%s'", argv[optind - 1]);
    }
}

/* After the options: the one URL, and what the options need of each other.
 * 0, or EXIT_USAGE after the message. */
static int check_args(int argc, char **argv, struct probe_opts *o)
{
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

/* Fills o from argv. Returns -1 to exit 0 (help), EXIT_USAGE on a bad
 * command line, 0 to run. */
int args_parse(int argc, char **argv, struct probe_opts *o)
{
    struct option longs[NFLAGS + 2];
    long_options(longs);
    *o = (struct probe_opts){.requests = 10, .clients = 1};
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":n:h", longs, NULL)) != -1) {
        int rc = apply_option(c, argv, o);
        if (rc != 0)
            return rc;
    }
    return check_args(argc, argv, o);
}

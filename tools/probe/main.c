/* sessionlab-probe: plays users against a sessionlab base URL and reports
 * whether their sessions stayed continuous.
 *
 *   sessionlab-probe URL [-n N] [--clients C] [--set-value V] [--login NAME]
 *                    [--cart N] [--interface ADDR] [--resolve HOST:PORT:ADDR]
 *                    [--insecure] [--json] [--trace]
 *
 * Exit: 0 every session continuous; 1 some were not; 2 usage error, or a
 * request that got no HTTP answer at all (connect, reset, timeout). */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <curl/curl.h>

#include "args.h"
#include "client.h"
#include "report.h"

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

/* What the clients' results add up to, for the exit status. */
struct tally {
    long transport, requests, setup_failed, continuous;
    const char *first_transport;
};

/* Copies each job's result into res[] and adds it up; says which clients
 * could not be set up. */
static void tally_results(const struct probe_opts *o, const struct job *jobs,
                          struct client_result *res, struct tally *t)
{
    *t = (struct tally){0};
    for (int i = 0; i < o->clients; i++) {
        res[i] = jobs[i].r;
        if (jobs[i].rc < 0) {
            t->setup_failed++;
            fprintf(stderr, "sessionlab-probe: client %d: %s\n", i + 1, res[i].first_error);
        }
        t->transport += res[i].transport_errors;
        t->requests += res[i].requests;
        t->continuous += res[i].continuous;
        if (res[i].transport_errors && !t->first_transport)
            t->first_transport = res[i].first_error;
    }
}

/* The exit status (see the top of this file), with a line on stderr when
 * requests got no HTTP answer. */
static int exit_status(const struct probe_opts *o, const struct tally *t)
{
    if (t->setup_failed)
        return EXIT_USAGE;
    if (t->transport) {
        fprintf(stderr,
                "sessionlab-probe: %ld of %ld requests to %s got no HTTP answer; first: %s\n",
                t->transport, t->requests, o->url, t->first_transport);
        return EXIT_USAGE;
    }
    return t->continuous == o->clients ? EXIT_CONTINUOUS : EXIT_BROKEN;
}

int main(int argc, char **argv)
{
    struct probe_opts o;
    int rc = args_parse(argc, argv, &o);
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

    struct tally t;
    tally_results(&o, jobs, res, &t);
    if (o.json) {
        if (report_json(stdout, &o, res, o.clients) < 0)
            fputs("sessionlab-probe: out of memory writing the report\n", stderr);
    } else {
        report_text(stdout, &o, res, o.clients);
    }
    fflush(stdout);
    rc = exit_status(&o, &t);
    for (int i = 0; i < o.clients; i++)
        client_result_free(&res[i]);
    free(jobs);
    free(res);
    curl_global_cleanup();
    return rc;
}

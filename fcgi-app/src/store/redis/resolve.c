#include "resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "text.h"

/*
 * One lookup. getaddrinfo_a runs it on glibc's helper thread (created with
 * every signal blocked); completion is polled with gai_suspend, never
 * signalled (SIGEV_THREAD's notification thread would run with every
 * signal unblocked, so a SIGTERM could take the process's default action
 * there instead of reaching the main thread's sigwait).
 */
struct lookup {
    struct gaicb cb;
    struct addrinfo hints;
    struct lookup *next; /* on the abandoned list */
    char name[];
};

/* Lookups that outlived their caller's deadline: freed once glibc is done. */
static pthread_mutex_t abandoned_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lookup *abandoned;

static void lookup_free(struct lookup *l)
{
    if (l->cb.ar_result)
        freeaddrinfo(l->cb.ar_result);
    free(l);
}

static void abandon(struct lookup *l)
{
    pthread_mutex_lock(&abandoned_lock);
    l->next = abandoned;
    abandoned = l;
    pthread_mutex_unlock(&abandoned_lock);
}

static void reap_abandoned(void)
{
    pthread_mutex_lock(&abandoned_lock);
    for (struct lookup **pp = &abandoned; *pp;) {
        struct lookup *l = *pp;
        if (gai_error(&l->cb) == EAI_INPROGRESS) {
            pp = &l->next;
            continue;
        }
        *pp = l->next;
        lookup_free(l);
    }
    pthread_mutex_unlock(&abandoned_lock);
}

static bool is_numeric(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* The first IPv4 address, else the first IPv6 one (hiredis's own order). */
static int copy_addr(const struct addrinfo *list, char *out, size_t outlen)
{
    const struct addrinfo *pick = NULL;
    for (const struct addrinfo *ai = list; ai; ai = ai->ai_next)
        if (ai->ai_family == AF_INET || (!pick && ai->ai_family == AF_INET6)) {
            pick = ai;
            if (ai->ai_family == AF_INET)
                break;
        }
    if (!pick)
        return -1;
    const void *a = pick->ai_family == AF_INET6
                        ? (const void *)&((const struct sockaddr_in6 *)pick->ai_addr)->sin6_addr
                        : (const void *)&((const struct sockaddr_in *)pick->ai_addr)->sin_addr;
    return inet_ntop(pick->ai_family, a, out, (socklen_t)outlen) ? 0 : -1;
}

static struct lookup *lookup_start(const char *host, char *err, size_t errlen)
{
    size_t n = strlen(host);
    struct lookup *l = calloc(1, sizeof *l + n + 1);
    if (!l) {
        text_fail(err, errlen, "out of memory resolving %s", host);
        return NULL;
    }
    memcpy(l->name, host, n + 1);
    l->hints.ai_socktype = SOCK_STREAM;
    l->cb.ar_name = l->name;
    l->cb.ar_request = &l->hints;
    struct gaicb *list[1] = {&l->cb};
    int rc = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL);
    if (rc != 0) {
        text_fail(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
        free(l);
        return NULL;
    }
    return l;
}

/* Waits for l until deadline_ms (CLOCK_MONOTONIC); its gai_error after. */
static int lookup_wait(struct lookup *l, long long deadline_ms)
{
    const struct gaicb *list[1] = {&l->cb};
    int rc;
    while ((rc = gai_error(&l->cb)) == EAI_INPROGRESS) {
        long long left = deadline_ms - clock_mono_ms();
        if (left <= 0)
            break;
        struct timespec ts = {.tv_sec = left / 1000, .tv_nsec = (left % 1000) * 1000000L};
        gai_suspend(list, 1, &ts); /* EAI_AGAIN on timeout, EAI_INTR: look again */
    }
    return rc;
}

int resolve_host(const char *host, int timeout_ms, char *out, size_t outlen, char *err,
                 size_t errlen)
{
    if (is_numeric(host))
        return snprintf(out, outlen, "%s", host) < (int)outlen
                   ? 0
                   : text_fail(err, errlen, "address too long: %s", host);
    reap_abandoned();
    struct lookup *l = lookup_start(host, err, errlen);
    if (!l)
        return -1;
    int rc = lookup_wait(l, clock_mono_ms() + timeout_ms);
    if (rc == EAI_INPROGRESS) {
        abandon(l);
        return text_fail(err, errlen, "resolving %s took longer than %d ms", host, timeout_ms);
    }
    int res = rc != 0 ? text_fail(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc))
              : copy_addr(l->cb.ar_result, out, outlen) != 0
                  ? text_fail(err, errlen, "cannot resolve %s: no usable address", host)
                  : 0;
    lookup_free(l);
    return res;
}

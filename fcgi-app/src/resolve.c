#include "resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "text.h"

/* One lookup, shared by the caller and glibc's notification thread; the
 * last of the two to let go frees it. */
struct lookup {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    bool abandoned;             /* the caller gave up waiting */
    struct gaicb cb;
    struct addrinfo hints;
    char name[];
};

static void lookup_free(struct lookup *l)
{
    if (l->cb.ar_result)
        freeaddrinfo(l->cb.ar_result);
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->cond);
    free(l);
}

static void lookup_done(union sigval v)
{
    struct lookup *l = v.sival_ptr;
    pthread_mutex_lock(&l->lock);
    l->done = true;
    bool abandoned = l->abandoned;
    pthread_cond_signal(&l->cond);
    pthread_mutex_unlock(&l->lock);
    if (abandoned)
        lookup_free(l);
}

static bool is_numeric(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static int copy_addr(const struct addrinfo *ai, char *out, size_t outlen)
{
    const void *a = ai->ai_family == AF_INET6
                        ? (const void *)&((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
                        : (const void *)&((const struct sockaddr_in *)ai->ai_addr)->sin_addr;
    return inet_ntop(ai->ai_family, a, out, (socklen_t)outlen) ? 0 : -1;
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
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->cond, NULL);
    l->hints.ai_socktype = SOCK_STREAM;
    l->cb.ar_name = l->name;
    l->cb.ar_request = &l->hints;
    struct gaicb *list[1] = {&l->cb};
    struct sigevent sev = {.sigev_notify = SIGEV_THREAD, .sigev_notify_function = lookup_done,
                           .sigev_value.sival_ptr = l};
    int rc = getaddrinfo_a(GAI_NOWAIT, list, 1, &sev);
    if (rc != 0) {
        text_fail(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
        lookup_free(l);
        return NULL;
    }
    return l;
}

int resolve_host(const char *host, int timeout_ms, char *out, size_t outlen,
                 char *err, size_t errlen)
{
    if (is_numeric(host))
        return snprintf(out, outlen, "%s", host) < (int)outlen ? 0
               : text_fail(err, errlen, "address too long: %s", host);
    struct lookup *l = lookup_start(host, err, errlen);
    if (!l)
        return -1;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&l->lock);
    while (!l->done && pthread_cond_timedwait(&l->cond, &l->lock, &until) != ETIMEDOUT)
        ;
    if (!l->done) {
        l->abandoned = true; /* lookup_done frees it */
        pthread_mutex_unlock(&l->lock);
        return text_fail(err, errlen, "resolving %s took longer than %d ms", host, timeout_ms);
    }
    pthread_mutex_unlock(&l->lock);
    int rc = gai_error(&l->cb);
    int res = rc != 0 ? text_fail(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc))
              : !l->cb.ar_result || copy_addr(l->cb.ar_result, out, outlen) != 0
                  ? text_fail(err, errlen, "cannot resolve %s: no usable address", host)
                  : 0;
    lookup_free(l);
    return res;
}

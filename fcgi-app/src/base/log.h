/* Logging: one line per event on stderr, "ts level message". */
#ifndef SESSIONLAB_LOG_H
#define SESSIONLAB_LOG_H

#include <pthread.h>
#include <time.h>

#if defined(__GNUC__)
#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LOG_PRINTF(a, b)
#endif

void log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void log_error(const char *fmt, ...) LOG_PRINTF(1, 2);

/*
 * One call site's budget: at most one line a second. A line that follows
 * dropped ones says how many were dropped. Declare one per site:
 *     static struct log_limit lim = LOG_LIMIT_INIT;
 */
struct log_limit {
    pthread_mutex_t lock;
    long long second;      /* CLOCK_MONOTONIC second of the last line */
    unsigned long dropped; /* lines not written since */
};
#define LOG_LIMIT_INIT                   \
    {                                    \
        PTHREAD_MUTEX_INITIALIZER, -1, 0 \
    }

/* log_error or log_info through lim. */
void log_error_limited(struct log_limit *lim, const char *fmt, ...) LOG_PRINTF(2, 3);
void log_info_limited(struct log_limit *lim, const char *fmt, ...) LOG_PRINTF(2, 3);

#endif

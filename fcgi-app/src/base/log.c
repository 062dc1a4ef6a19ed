#include "log.h"
#include "clock.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

/* Formats "2026-11-27T12:00:00Z level message\n" into one buffer and writes
 * it with a single fputs, so lines from different threads never interleave. */
static void log_line(const char *level, const char *fmt, va_list ap)
{
    char line[1024];
    const size_t room = sizeof line - 1; /* keep a byte for the newline */
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%SZ ", &tm);
    int m = snprintf(line + n, room - n, "%s ", level);
    if (m > 0 && (size_t)m < room - n)
        n += (size_t)m;
    vsnprintf(line + n, room - n, fmt, ap);
    /* Keep one event on one line whatever the message held. */
    char *p = line;
    for (; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    p[0] = '\n';
    p[1] = '\0';
    fputs(line, stderr);
}

void log_info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line("info", fmt, ap);
    va_end(ap);
}

void log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line("error", fmt, ap);
    va_end(ap);
}

/* true when lim allows a line now; *dropped is how many it held back. */
static bool limit_take(struct log_limit *lim, unsigned long *dropped)
{
    long long second = clock_mono_ms() / 1000;
    pthread_mutex_lock(&lim->lock);
    bool ok = lim->second != second;
    if (ok) {
        lim->second = second;
        *dropped = lim->dropped;
        lim->dropped = 0;
    } else {
        lim->dropped++;
    }
    pthread_mutex_unlock(&lim->lock);
    return ok;
}

static void log_fmt(const char *level, const char *fmt, ...) LOG_PRINTF(2, 3);
static void log_fmt(const char *level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line(level, fmt, ap);
    va_end(ap);
}

static void log_limited(struct log_limit *lim, const char *level, const char *fmt, va_list ap)
{
    unsigned long dropped;
    if (!limit_take(lim, &dropped))
        return;
    char msg[900];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (dropped)
        log_fmt(level, "%s (%lu more like it not logged)", msg, dropped);
    else
        log_fmt(level, "%s", msg);
}

void log_error_limited(struct log_limit *lim, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_limited(lim, "error", fmt, ap);
    va_end(ap);
}

void log_info_limited(struct log_limit *lim, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_limited(lim, "info", fmt, ap);
    va_end(ap);
}

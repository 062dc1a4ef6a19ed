#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

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

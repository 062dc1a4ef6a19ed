/* The monotonic clock, in the units the callers count in. */
#ifndef SESSIONLAB_CLOCK_H
#define SESSIONLAB_CLOCK_H

#include <time.h>

long long clock_mono_ns(void);
long long clock_mono_ms(void);

/* *ts = now + ms on CLOCK_MONOTONIC (for pthread_cond_timedwait with a
 * CLOCK_MONOTONIC condattr). */
void clock_mono_deadline(struct timespec *ts, int ms);

#endif

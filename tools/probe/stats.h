#ifndef SESSIONLAB_PROBE_STATS_H
#define SESSIONLAB_PROBE_STATS_H

/* Sorts v[0..n) ascending in place. */
void stats_sort(double *v, long n);

/* Nearest-rank percentile (1 <= pct <= 100) of sorted v[0..n): the smallest
 * value with at least pct% of the values at or below it; 0 when n == 0. */
double stats_percentile(const double *sorted, long n, int pct);

#endif

#ifndef SESSIONLAB_PROBE_REPORT_H
#define SESSIONLAB_PROBE_REPORT_H

/* The probe's report: a text table for people, JSON for scripts. Both read
 * the finished clients; latencies get sorted in place. */

#include <stdio.h>

#include "client.h"

/* Writes the text report. */
void report_text(FILE *f, const struct probe_opts *o, struct client_result *c, int n);

/* Writes the JSON report (one object, one line). -1 on out of memory. */
int report_json(FILE *f, const struct probe_opts *o, struct client_result *c, int n);

#endif

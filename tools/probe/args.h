#ifndef SESSIONLAB_PROBE_ARGS_H
#define SESSIONLAB_PROBE_ARGS_H

/* sessionlab-probe's command line: its options, their checks and --help. */

#include "client.h"

/* The probe's exit statuses. */
enum { EXIT_CONTINUOUS = 0, EXIT_BROKEN = 1, EXIT_USAGE = 2 };

/* Fills o from argv. Returns -1 to exit 0 (help printed), EXIT_USAGE on a
 * bad command line (the message on stderr), 0 to run. */
int args_parse(int argc, char **argv, struct probe_opts *o);

#endif

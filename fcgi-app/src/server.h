/*
 * The FastCGI server: a listening socket, cfg->workers threads each with
 * its own FCGX_Request and route_ctx, and a graceful stop on SIGTERM/SIGINT.
 */
#ifndef SESSIONLAB_SERVER_H
#define SESSIONLAB_SERVER_H

#include "config.h"
#include "store.h"

/* Serves until SIGTERM or SIGINT, then stops accepting, finishes the
 * requests in flight and returns 0. Returns 1 when it cannot start
 * (socket, threads, memory), after logging why. */
int server_run(const struct config *cfg, const struct store_ops *ops);

#endif

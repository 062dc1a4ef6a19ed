/*
 * The FastCGI server: cfg->workers threads, each with its own FCGX_Request
 * and route_ctx, serving requests from the connection set (conns.h), where
 * idle kept-alive connections wait without holding a thread; signals taken
 * by the main thread; a graceful drain on SIGTERM/SIGINT.
 */
#ifndef SESSIONLAB_SERVER_H
#define SESSIONLAB_SERVER_H

#include "config.h"
#include "store.h"

/* Serves until SIGTERM or SIGINT (SIGHUP, SIGUSR1, SIGUSR2 are logged and
 * ignored), then drains: /readyz answers 503, the listener closes, requests
 * in flight and on kept connections finish, and it returns 0. Returns 1 when it cannot start
 * (socket, threads, memory), after logging why. */
int server_run(const struct config *cfg, const struct store_ops *ops);

#endif

/*
 * The HTTP routes of sessionlab-app. A route_ctx belongs to one worker
 * thread: it holds that worker's store handle and its scratch buffers, so a
 * request allocates nothing.
 */
#ifndef SESSIONLAB_ROUTES_H
#define SESSIONLAB_ROUTES_H

#include <fcgiapp.h>

#include "buf.h"
#include "config.h"
#include "bounds.h"
#include "request.h"
#include "session.h"
#include "store.h"

struct route_ctx {
    const struct config *cfg;
    const struct store_ops *ops;
    struct store *st;
    long long t0; /* start of the store call in progress (ns) */
    struct session sess;
    char id[SID_LEN + 1];
    struct buf body;
    char body_mem[RESPONSE_MAX];
    char in[BODY_MAX + 1];
    char value[VALUE_MAX + 2];
};

/* Sets up ctx for one worker; opens its store handle. 0 or -1 (no memory). */
int routes_ctx_init(struct route_ctx *ctx, const struct config *cfg, const struct store_ops *ops);
void routes_ctx_fini(struct route_ctx *ctx);

/* From now on /readyz answers 503 "shutting down" (process-wide, once). */
void routes_begin_drain(void);

/* Answers one request: reads its body from in, writes the response to out. */
void routes_handle(struct route_ctx *ctx, const struct request *rq, FCGX_Stream *in,
                   FCGX_Stream *out);

#endif

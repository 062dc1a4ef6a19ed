/* Dispatch, the replies every route uses, the store call's bookkeeping and
 * the simple routes (/hello, /healthz, /readyz, /metrics). The session
 * routes are in routes_session.c, the form POSTs in routes_form.c. */
#include "routes_internal.h"
#include "atomic.h"

#include <stdbool.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "render.h"

#define CT_METRICS "text/plain; version=0.0.4; charset=utf-8"

/* Process-wide: is the store failing? Flips log one line each way. */
static int store_failing;
/* Process-wide: set once when the server starts draining (SIGTERM). */
static int draining;

void routes_begin_drain(void)
{
    atomic_set(&draining, 1, RELEASE);
}

int routes_ctx_init(struct route_ctx *ctx, const struct config *cfg, const struct store_ops *ops)
{
    ctx->cfg = cfg;
    ctx->ops = ops;
    buf_init(&ctx->body, ctx->body_mem, sizeof ctx->body_mem);
    ctx->st = ops->open(cfg);
    return ctx->st ? 0 : -1;
}

void routes_ctx_fini(struct route_ctx *ctx)
{
    if (ctx->st)
        ctx->ops->close(ctx->st);
    ctx->st = NULL;
}

/* Marks the start of a store call (STORE_CALL). Returns 0. */
int routes_store_start(struct route_ctx *ctx)
{
    ctx->t0 = clock_mono_ns();
    return 0;
}

/* Books a finished store call: latency, errors, and one log line when the
 * store starts or stops failing. Returns rc. */
int routes_store_done(struct route_ctx *ctx, int rc)
{
    /* A store that flaps on every request still writes a line a second. */
    static struct log_limit lim_down = LOG_LIMIT_INIT, lim_up = LOG_LIMIT_INIT;
    metrics_store_latency(clock_mono_ns() - ctx->t0);
    if (rc < 0) {
        metrics_store_error();
        if (atomic_swap(&store_failing, 1, RELAXED) == 0)
            log_error_limited(&lim_down, "store %s unavailable: %s", ctx->ops->name,
                              ctx->ops->error(ctx->st));
    } else if (atomic_get(&store_failing, RELAXED) &&
               atomic_swap(&store_failing, 0, RELAXED) == 1) {
        log_info_limited(&lim_up, "store %s answers again", ctx->ops->name);
    }
    return rc;
}

bool routes_is_get(const struct request *rq)
{
    return strcmp(rq->method, "GET") == 0 || strcmp(rq->method, "HEAD") == 0;
}

void routes_reply(struct route_ctx *ctx, struct response *resp, int status, const char *title,
                  const char *text)
{
    resp->status = status;
    resp->content_type = CT_HTML;
    buf_reset(&ctx->body);
    render_message(&ctx->body, title, text);
}

static void reply_text(struct route_ctx *ctx, struct response *resp, int status, const char *text)
{
    resp->status = status;
    resp->content_type = CT_TEXT;
    buf_reset(&ctx->body);
    buf_puts(&ctx->body, text);
}

void routes_method_not_allowed(struct route_ctx *ctx, struct response *resp, const char *allow)
{
    routes_reply(ctx, resp, 405, "Method Not Allowed", "This address does not accept that method.");
    resp->allow = allow;
}

void routes_store_unavailable(struct route_ctx *ctx, struct response *resp, bool json)
{
    resp->status = 503;
    resp->retry_after = true;
    resp->no_store = true;
    buf_reset(&ctx->body);
    if (json) {
        resp->content_type = CT_JSON;
        buf_puts(&ctx->body, "{\"error\":\"session store unavailable\"}\n");
        return;
    }
    resp->content_type = CT_HTML;
    render_message(&ctx->body, "Session store unavailable",
                   "The session store does not answer right now. Your session is "
                   "kept; please try again in a moment.");
}

void routes_redirect_home(struct response *resp)
{
    resp->status = 303;
    resp->content_type = CT_TEXT;
    resp->location = "/";
}

/* Readiness is this process's own: ready while it serves, 503 from the
 * first moment of a drain. The store's state is not part of it (every pod
 * shares the store: a Redis blip must not empty the Service); it goes to
 * sessionlab_store_up and to the pages' 503 + Retry-After. */
static void route_readyz(struct route_ctx *ctx, struct response *resp)
{
    if (atomic_get(&draining, ACQUIRE)) {
        reply_text(ctx, resp, 503, "not ready: shutting down\n");
        return;
    }
    reply_text(ctx, resp, 200, "ready\n");
}

/* /metrics asks the store once (through the breaker: at once while it is
 * open) so sessionlab_store_up is the state at scrape time. */
static void route_metrics(struct route_ctx *ctx, struct response *resp)
{
    bool up = STORE_CALL(ctx, ctx->ops->ping(ctx->st)) >= 0;
    reply_text(ctx, resp, 200, "");
    resp->content_type = CT_METRICS;
    metrics_render(&ctx->body, ctx->ops->name, ctx->ops->live(ctx->st), up);
    if (ctx->ops->metrics)
        ctx->ops->metrics(ctx->st, &ctx->body);
}

static void route_simple(struct route_ctx *ctx, enum route_id r, struct response *resp)
{
    switch (r) {
    case ROUTE_HELLO:
        reply_text(ctx, resp, 200, "Hello from ");
        buf_puts(&ctx->body, ctx->cfg->instance);
        buf_putc(&ctx->body, '\n');
        break;
    case ROUTE_HEALTHZ:
        reply_text(ctx, resp, 200, "ok\n");
        break;
    case ROUTE_READYZ:
        route_readyz(ctx, resp);
        break;
    default:
        route_metrics(ctx, resp);
        break;
    }
}

static enum route_id route_find(const char *path)
{
    for (int r = 0; r < ROUTE_OTHER; r++)
        if (strcmp(path, route_label((enum route_id)r)) == 0)
            return (enum route_id)r;
    return ROUTE_OTHER;
}

static void dispatch(struct route_ctx *ctx, enum route_id r, const struct request *rq,
                     FCGX_Stream *in, struct response *resp)
{
    switch (r) {
    case ROUTE_ROOT:
    case ROUTE_API:
        route_view(ctx, rq, resp, r == ROUTE_API);
        break;
    case ROUTE_SET:
        route_set(ctx, rq, in, resp);
        break;
    case ROUTE_CLEAR:
        route_clear(ctx, rq, resp);
        break;
    case ROUTE_LOGIN:
        route_login(ctx, rq, in, resp);
        break;
    case ROUTE_LOGOUT:
        route_logout(ctx, rq, in, resp);
        break;
    case ROUTE_CART:
        route_cart(ctx, rq, in, resp);
        break;
    case ROUTE_OTHER:
        routes_reply(ctx, resp, rq->path_too_long ? 414 : 404, "Not Found",
                     "There is nothing at this address.");
        break;
    default:
        if (!routes_is_get(rq)) {
            routes_method_not_allowed(ctx, resp, ALLOW_GET);
            return;
        }
        route_simple(ctx, r, resp);
        break;
    }
}

void routes_handle(struct route_ctx *ctx, const struct request *rq, FCGX_Stream *in,
                   FCGX_Stream *out)
{
    struct response resp = {.status = 500, .content_type = CT_TEXT};
    enum route_id r = route_find(rq->path);
    buf_reset(&ctx->body);
    dispatch(ctx, r, rq, in, &resp);
    if (ctx->body.overflow) {
        static struct log_limit lim = LOG_LIMIT_INIT;
        log_error_limited(&lim, "response for %s overflowed its %d-byte buffer", route_label(r),
                          RESPONSE_MAX);
        reply_text(ctx, &resp, 500, "internal error\n");
    }
    metrics_request(r, resp.status);
    response_write(out, &resp, &ctx->body, strcmp(rq->method, "HEAD") == 0);
}

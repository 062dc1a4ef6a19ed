/* The session routes: the session id in the cookie, the page view (GET /
 * and /api/session: touch or create) and /clearSession. */
#include "routes_internal.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cookie.h"
#include "log.h"
#include "metrics.h"
#include "render.h"
#include "sid.h"

bool routes_cookie_session_id(struct route_ctx *ctx, const struct request *rq)
{
    if (!rq->cookie || strnlen(rq->cookie, COOKIE_HEADER_MAX + 1) > COOKIE_HEADER_MAX)
        return false;
    const char *cur = rq->cookie, *val;
    size_t len;
    while (cookie_next(&cur, ctx->cfg->cookie_name, &val, &len)) {
        if (sid_valid(val, len)) {
            memcpy(ctx->id, val, SID_LEN);
            ctx->id[SID_LEN] = '\0';
            return true;
        }
    }
    return false;
}

void routes_set_session_cookie(struct route_ctx *ctx, const struct request *rq,
                               struct response *resp, bool expire)
{
    enum cookie_secure mode = ctx->cfg->cookie_secure;
    bool secure = mode == COOKIE_SECURE_ALWAYS || (mode == COOKIE_SECURE_AUTO && rq->secure);
    snprintf(resp->set_cookie, sizeof resp->set_cookie, "%s=%s; Path=/;%s HttpOnly; SameSite=Lax%s",
             ctx->cfg->cookie_name, expire ? "" : ctx->id, expire ? " Max-Age=0;" : "",
             secure ? "; Secure" : "");
}

/* A fresh id in ctx->id: a sibling of old (same first SID_TAG_LEN digits,
 * the Redis hash tag) when old is not NULL. 0, or -1 (logged). */
int routes_new_session_id(struct route_ctx *ctx, const char *old)
{
    if ((old ? sid_generate_sibling(old, ctx->id) : sid_generate(ctx->id)) == 0)
        return 0;
    static struct log_limit lim = LOG_LIMIT_INIT;
    log_error_limited(&lim, "getrandom failed: cannot make a session id");
    return -1;
}

void routes_log_collisions(void)
{
    static struct log_limit lim = LOG_LIMIT_INIT;
    log_error_limited(&lim, "%d session id collisions in a row", CREATE_TRIES);
}

/* Creates a session under a fresh id; ctx->id and ctx->sess hold it.
 * 0, or -1 on a store failure. */
static int session_create(struct route_ctx *ctx)
{
    for (int i = 0; i < CREATE_TRIES; i++) {
        if (routes_new_session_id(ctx, NULL) < 0)
            return -1;
        int rc =
            STORE_CALL(ctx, ctx->ops->create(ctx->st, ctx->id, ctx->cfg->instance, &ctx->sess));
        if (rc < 0)
            return -1;
        if (rc == 1) {
            ctx->sess.is_new = true;
            metrics_session_created();
            return 0;
        }
    }
    routes_log_collisions();
    return -1;
}

/* One page view: touches the cookie's session or creates one (strict mode:
 * unknown ids are never adopted). 0, or -1 on a store failure. */
static int session_view(struct route_ctx *ctx, const struct request *rq, struct response *resp)
{
    memset(&ctx->sess, 0, offsetof(struct session, value));
    if (routes_cookie_session_id(ctx, rq)) {
        int rc = STORE_CALL(ctx, ctx->ops->touch(ctx->st, ctx->id, ctx->cfg->instance, &ctx->sess));
        if (rc < 0)
            return -1;
        if (rc == 1) {
            ctx->sess.is_new = false;
            return 0;
        }
    }
    if (session_create(ctx) < 0)
        return -1;
    routes_set_session_cookie(ctx, rq, resp, false);
    return 0;
}

void route_view(struct route_ctx *ctx, const struct request *rq, struct response *resp, bool json)
{
    if (!routes_is_get(rq)) {
        routes_method_not_allowed(ctx, resp, ALLOW_GET);
        return;
    }
    if (session_view(ctx, rq, resp) < 0) {
        routes_store_unavailable(ctx, resp, json);
        return;
    }
    resp->status = 200;
    resp->no_store = true;
    resp->content_type = json ? CT_JSON : CT_HTML;
    if (json)
        render_json(&ctx->body, &ctx->sess, ctx->cfg->instance, ctx->ops->name);
    else
        render_page(&ctx->body, &ctx->sess, ctx->cfg->instance, ctx->ops->name);
}

void route_clear(struct route_ctx *ctx, const struct request *rq, struct response *resp)
{
    if (!routes_is_get(rq) && strcmp(rq->method, "POST") != 0) {
        routes_method_not_allowed(ctx, resp, "GET, HEAD, POST");
        return;
    }
    if (request_cross_site(rq)) {
        routes_reply(ctx, resp, 403, "Forbidden",
                     "Cross-site requests may not change the session.");
        return;
    }
    if (routes_cookie_session_id(ctx, rq)) {
        int rc = STORE_CALL(ctx, ctx->ops->destroy(ctx->st, ctx->id));
        if (rc < 0) {
            routes_store_unavailable(ctx, resp, false);
            return;
        }
        if (rc == 1)
            metrics_session_destroyed();
    }
    routes_set_session_cookie(ctx, rq, resp, true);
    routes_redirect_home(resp);
}

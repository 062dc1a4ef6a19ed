/*
 * What the route files share (routes.c: dispatch, replies and the simple
 * routes; routes_session.c: the session cookie, the page view and
 * /clearSession; routes_form.c: the form POSTs). Internal to http/: other
 * modules include routes.h.
 */
#ifndef SESSIONLAB_ROUTES_INTERNAL_H
#define SESSIONLAB_ROUTES_INTERNAL_H

#include <stdbool.h>

#include "response.h"
#include "routes.h"

#define CT_HTML "text/html; charset=utf-8"
#define CT_JSON "application/json"
#define CT_TEXT "text/plain; charset=utf-8"
#define ALLOW_GET "GET, HEAD"
#define CREATE_TRIES 3
#define STR_(x) #x
#define STR(x) STR_(x)

/* Marks the start of a store call (STORE_CALL). Returns 0. */
int routes_store_start(struct route_ctx *ctx);
/* Books a finished store call: latency, errors, and one log line when the
 * store starts or stops failing. Returns rc. */
int routes_store_done(struct route_ctx *ctx, int rc);

/* One store call, timed and booked: the comma operator starts the clock
 * before the call is evaluated. */
#define STORE_CALL(ctx, call) routes_store_done((ctx), (routes_store_start(ctx), (call)))

/* GET or HEAD. */
bool routes_is_get(const struct request *rq);
/* An HTML message page with status in ctx->body. */
void routes_reply(struct route_ctx *ctx, struct response *resp, int status, const char *title,
                  const char *text);
/* 405 with an Allow header of allow. */
void routes_method_not_allowed(struct route_ctx *ctx, struct response *resp, const char *allow);
/* 503 + Retry-After, as JSON or as an HTML page. */
void routes_store_unavailable(struct route_ctx *ctx, struct response *resp, bool json);
/* 303 to /. */
void routes_redirect_home(struct response *resp);

/* routes_session.c */

/* Copies the first well-formed session id among the request's cookies into
 * ctx->id. Malformed ids are skipped: they never reach the store. */
bool routes_cookie_session_id(struct route_ctx *ctx, const struct request *rq);
/* Set-Cookie for ctx->id, or one that expires the cookie. */
void routes_set_session_cookie(struct route_ctx *ctx, const struct request *rq,
                               struct response *resp, bool expire);
/* A fresh id in ctx->id: a sibling of old (same first SID_TAG_LEN digits,
 * the Redis hash tag) when old is not NULL. 0, or -1 (logged). */
int routes_new_session_id(struct route_ctx *ctx, const char *old);
/* Logs (rate-limited) CREATE_TRIES id collisions in a row. */
void routes_log_collisions(void);
/* GET / and /api/session (json). */
void route_view(struct route_ctx *ctx, const struct request *rq, struct response *resp, bool json);
/* /clearSession. */
void route_clear(struct route_ctx *ctx, const struct request *rq, struct response *resp);

/* routes_form.c: the form POSTs. */
void route_set(struct route_ctx *ctx, const struct request *rq, FCGX_Stream *in,
               struct response *resp);
void route_login(struct route_ctx *ctx, const struct request *rq, FCGX_Stream *in,
                 struct response *resp);
void route_logout(struct route_ctx *ctx, const struct request *rq, FCGX_Stream *in,
                  struct response *resp);
void route_cart(struct route_ctx *ctx, const struct request *rq, FCGX_Stream *in,
                struct response *resp);

#endif

#include "routes.h"
#include "atomic.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cart.h"
#include "clock.h"
#include "cookie.h"
#include "form.h"
#include "log.h"
#include "metrics.h"
#include "render.h"
#include "response.h"
#include "sid.h"
#include "user.h"

#define CT_HTML "text/html; charset=utf-8"
#define CT_JSON "application/json"
#define CT_TEXT "text/plain; charset=utf-8"
#define CT_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define ALLOW_GET "GET, HEAD"
#define CREATE_TRIES 3
#define STR_(x) #x
#define STR(x) STR_(x)
#define USER_RULE "A user name is 1 to " STR(USER_MAX) " letters, digits, '.', '_' or '-'."
#define BAD_ESCAPE "The form holds a malformed percent escape."

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
static int store_start(struct route_ctx *ctx)
{
    ctx->t0 = clock_mono_ns();
    return 0;
}

/* Books a finished store call: latency, errors, and one log line when the
 * store starts or stops failing. Returns rc. */
static int store_done(struct route_ctx *ctx, int rc)
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

/* One store call, timed and booked: the comma operator starts the clock
 * before the call is evaluated. */
#define STORE_CALL(ctx, call) store_done((ctx), (store_start(ctx), (call)))

static bool is_get(const struct request *rq)
{
    return strcmp(rq->method, "GET") == 0 || strcmp(rq->method, "HEAD") == 0;
}

static void reply(struct route_ctx *ctx, struct response *resp, int status, const char *title,
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

static void method_not_allowed(struct route_ctx *ctx, struct response *resp, const char *allow)
{
    reply(ctx, resp, 405, "Method Not Allowed", "This address does not accept that method.");
    resp->allow = allow;
}

static void store_unavailable(struct route_ctx *ctx, struct response *resp, bool json)
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

/* Copies the first well-formed session id among the request's cookies into
 * ctx->id. Malformed ids are skipped: they never reach the store. */
static bool cookie_session_id(struct route_ctx *ctx, const struct request *rq)
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

static void set_session_cookie(struct route_ctx *ctx, const struct request *rq,
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
static int new_session_id(struct route_ctx *ctx, const char *old)
{
    if ((old ? sid_generate_sibling(old, ctx->id) : sid_generate(ctx->id)) == 0)
        return 0;
    static struct log_limit lim = LOG_LIMIT_INIT;
    log_error_limited(&lim, "getrandom failed: cannot make a session id");
    return -1;
}

static void log_collisions(void)
{
    static struct log_limit lim = LOG_LIMIT_INIT;
    log_error_limited(&lim, "%d session id collisions in a row", CREATE_TRIES);
}

/* Creates a session under a fresh id; ctx->id and ctx->sess hold it.
 * 0, or -1 on a store failure. */
static int session_create(struct route_ctx *ctx)
{
    for (int i = 0; i < CREATE_TRIES; i++) {
        if (new_session_id(ctx, NULL) < 0)
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
    log_collisions();
    return -1;
}

/* One page view: touches the cookie's session or creates one (strict mode:
 * unknown ids are never adopted). 0, or -1 on a store failure. */
static int session_view(struct route_ctx *ctx, const struct request *rq, struct response *resp)
{
    memset(&ctx->sess, 0, offsetof(struct session, value));
    if (cookie_session_id(ctx, rq)) {
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
    set_session_cookie(ctx, rq, resp, false);
    return 0;
}

static void route_view(struct route_ctx *ctx, const struct request *rq, struct response *resp,
                       bool json)
{
    if (!is_get(rq)) {
        method_not_allowed(ctx, resp, ALLOW_GET);
        return;
    }
    if (session_view(ctx, rq, resp) < 0) {
        store_unavailable(ctx, resp, json);
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

/* Reads the request body into ctx->in. Its length; -1 when it is larger
 * than BODY_MAX; -2 when it ended before CONTENT_LENGTH said (the peer
 * closed, or its stream broke). */
static long read_body(struct route_ctx *ctx, const struct request *rq, FCGX_Stream *in)
{
    long total = 0;
    int n;
    while (total <= BODY_MAX &&
           (n = FCGX_GetStr(ctx->in + total, (int)(sizeof ctx->in - (size_t)total), in)) > 0)
        total += n;
    if (total > BODY_MAX)
        return -1;
    if (FCGX_GetError(in) != 0 || (rq->content_length > 0 && total != rq->content_length))
        return -2;
    return total;
}

static bool is_form(const char *ct)
{
    static const char form[] = "application/x-www-form-urlencoded";
    size_t n = sizeof form - 1;
    return ct && strncasecmp(ct, form, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static void redirect_home(struct response *resp)
{
    resp->status = 303;
    resp->content_type = CT_TEXT;
    resp->location = "/";
}

/* Stores the value into the cookie's session, or a new session when the
 * cookie names none. 0, or -1 on a store failure. */
static int store_value(struct route_ctx *ctx, const struct request *rq, struct response *resp,
                       size_t len)
{
    long long now = (long long)time(NULL);
    if (cookie_session_id(ctx, rq)) {
        int rc =
            STORE_CALL(ctx, ctx->ops->set_value(ctx->st, ctx->id, ctx->value, len, now, false));
        if (rc != 0)
            return rc < 0 ? -1 : 0;
    }
    if (new_session_id(ctx, NULL) < 0)
        return -1;
    if (STORE_CALL(ctx, ctx->ops->set_value(ctx->st, ctx->id, ctx->value, len, now, true)) < 0)
        return -1;
    metrics_session_created();
    set_session_cookie(ctx, rq, resp, false);
    return 0;
}

/* reply() for the preamble below: then -1. */
static long refuse(struct route_ctx *ctx, struct response *resp, int status, const char *title,
                   const char *text)
{
    reply(ctx, resp, status, title, text);
    return -1;
}

/* What every form POST checks first: POST only (405), same-site (403), a
 * form body (415; when body_optional, only once a body is sent), at most
 * BODY_MAX (413), whole (400). Reads the body into ctx->in: its length, or
 * -1 when a reply was made. */
static long form_post_begin(struct route_ctx *ctx, const struct request *rq, FCGX_Stream *in,
                            struct response *resp, bool body_optional)
{
    static const char not_form[] = "Send the form as application/x-www-form-urlencoded.";
    if (strcmp(rq->method, "POST") != 0) {
        method_not_allowed(ctx, resp, "POST");
        return -1;
    }
    if (request_cross_site(rq))
        return refuse(ctx, resp, 403, "Forbidden",
                      "Cross-site requests may not change the session.");
    bool form = is_form(rq->content_type);
    if (!form && !(body_optional && rq->content_length == 0))
        return refuse(ctx, resp, 415, "Unsupported Media Type", not_form);
    long len = rq->content_length > BODY_MAX ? -1 : read_body(ctx, rq, in);
    if (len == -2)
        return refuse(ctx, resp, 400, "Bad Request", "The request body ended before its length.");
    if (len < 0)
        return refuse(ctx, resp, 413, "Content Too Large",
                      "The request body is larger than 16 KiB.");
    if (len > 0 && !form)
        return refuse(ctx, resp, 415, "Unsupported Media Type", not_form);
    return len;
}

static void route_set(struct route_ctx *ctx, const struct request *rq, FCGX_Stream *in,
                      struct response *resp)
{
    long len = form_post_begin(ctx, rq, in, resp, false);
    if (len < 0)
        return;
    size_t vlen = 0;
    enum form_result fr =
        form_get(ctx->in, (size_t)len, "value", ctx->value, sizeof ctx->value, &vlen);
    if (fr == FORM_TOO_LONG || (fr == FORM_FOUND && vlen > VALUE_MAX)) {
        reply(ctx, resp, 413, "Value Too Large", "A session value may be at most 4096 bytes.");
        return;
    }
    if (fr != FORM_FOUND) {
        reply(ctx, resp, 400, "Bad Request",
              fr == FORM_ABSENT ? "The form has no field named value." : BAD_ESCAPE);
        return;
    }
    if (store_value(ctx, rq, resp, vlen) < 0) {
        store_unavailable(ctx, resp, false);
        return;
    }
    redirect_home(resp);
}

/* Logs in as user under a new id, ctx->id: a rotation of the cookie's
 * session when it names a live one, else a fresh logged-in session.
 * 0, or -1 on a store failure. */
static int session_login(struct route_ctx *ctx, const struct request *rq, const char *user)
{
    char old[SID_LEN + 1];
    bool has_old = cookie_session_id(ctx, rq);
    if (has_old)
        memcpy(old, ctx->id, sizeof old);
    for (int i = 0; i < CREATE_TRIES; i++) {
        if (new_session_id(ctx, has_old ? old : NULL) < 0)
            return -1;
        int rc = STORE_CALL(ctx, ctx->ops->login(ctx->st, has_old ? old : NULL, ctx->id, user));
        if (rc < 0)
            return -1;
        if (rc > 0) {
            metrics_login();
            if (rc == 1)
                metrics_id_rotation();
            else
                metrics_session_created();
            return 0;
        }
    }
    log_collisions();
    return -1;
}

static void route_login(struct route_ctx *ctx, const struct request *rq, FCGX_Stream *in,
                        struct response *resp)
{
    long len = form_post_begin(ctx, rq, in, resp, false);
    if (len < 0)
        return;
    char user[USER_MAX + 2];
    size_t ulen = 0;
    enum form_result fr = form_get(ctx->in, (size_t)len, "user", user, sizeof user, &ulen);
    if (fr == FORM_MALFORMED) {
        reply(ctx, resp, 400, "Bad Request", BAD_ESCAPE);
        return;
    }
    if (fr != FORM_FOUND || !user_name_valid(user, ulen)) {
        reply(ctx, resp, 400, "Bad Request", USER_RULE);
        return;
    }
    if (session_login(ctx, rq, user) < 0) {
        store_unavailable(ctx, resp, false);
        return;
    }
    set_session_cookie(ctx, rq, resp, false);
    redirect_home(resp);
}

static void route_logout(struct route_ctx *ctx, const struct request *rq, FCGX_Stream *in,
                         struct response *resp)
{
    long len = form_post_begin(ctx, rq, in, resp, true);
    if (len < 0)
        return;
    char all[4];
    size_t alen = 0;
    enum form_result fr = form_get(ctx->in, (size_t)len, "all", all, sizeof all, &alen);
    if (fr == FORM_MALFORMED) {
        reply(ctx, resp, 400, "Bad Request", BAD_ESCAPE);
        return;
    }
    if (fr == FORM_TOO_LONG ||
        (fr == FORM_FOUND && (alen != 1 || (all[0] != '0' && all[0] != '1')))) {
        reply(ctx, resp, 400, "Bad Request", "The field all is 1 (log out everywhere) or 0.");
        return;
    }
    bool everywhere = fr == FORM_FOUND && all[0] == '1';
    if (cookie_session_id(ctx, rq)) {
        long long ended = 0;
        int rc = STORE_CALL(ctx, ctx->ops->logout(ctx->st, ctx->id, everywhere, &ended));
        if (rc < 0) {
            store_unavailable(ctx, resp, false);
            return;
        }
        if (rc == 1) {
            metrics_logout();
            metrics_sessions_revoked(ended - 1);
        }
    }
    set_session_cookie(ctx, rq, resp, true);
    redirect_home(resp);
}

/* The /cart form's item and action (+1 add, -1 remove). 0, or -1 when a
 * 400 reply was made. */
static int cart_form(struct route_ctx *ctx, struct response *resp, size_t len, int *item,
                     int *delta)
{
    char name[16], action[8];
    size_t nlen = 0, alen = 0;
    enum form_result fi = form_get(ctx->in, len, "item", name, sizeof name, &nlen);
    enum form_result fa = form_get(ctx->in, len, "action", action, sizeof action, &alen);
    if (fi == FORM_MALFORMED || fa == FORM_MALFORMED)
        return (int)refuse(ctx, resp, 400, "Bad Request", BAD_ESCAPE);
    *item = fi == FORM_FOUND ? cart_item_find(name, nlen) : -1;
    if (*item < 0)
        return (int)refuse(ctx, resp, 400, "Bad Request",
                           "The item is one of apple, bread, milk, eggs, cheese, coffee.");
    bool add = fa == FORM_FOUND && alen == 3 && memcmp(action, "add", 3) == 0;
    bool remove = fa == FORM_FOUND && alen == 6 && memcmp(action, "remove", 6) == 0;
    if (!add && !remove)
        return (int)refuse(ctx, resp, 400, "Bad Request", "The action is add or remove.");
    *delta = add ? 1 : -1;
    return 0;
}

/* Changes the cart of the cookie's session, or of a new session when the
 * cookie names none. The cart op's code (1 done, 2 refused), -1 failure. */
static int cart_change(struct route_ctx *ctx, const struct request *rq, struct response *resp,
                       int item, int delta)
{
    if (cookie_session_id(ctx, rq)) {
        int rc = STORE_CALL(ctx, ctx->ops->cart(ctx->st, ctx->id, item, delta, false));
        if (rc != 0)
            return rc;
    }
    if (new_session_id(ctx, NULL) < 0)
        return -1;
    int rc = STORE_CALL(ctx, ctx->ops->cart(ctx->st, ctx->id, item, delta, true));
    if (rc < 0)
        return -1;
    metrics_session_created();
    set_session_cookie(ctx, rq, resp, false);
    return rc;
}

static void route_cart(struct route_ctx *ctx, const struct request *rq, FCGX_Stream *in,
                       struct response *resp)
{
    int item, delta;
    long len = form_post_begin(ctx, rq, in, resp, false);
    if (len < 0 || cart_form(ctx, resp, (size_t)len, &item, &delta) < 0)
        return;
    int rc = cart_change(ctx, rq, resp, item, delta);
    if (rc < 0) {
        store_unavailable(ctx, resp, false);
        return;
    }
    if (rc == 2) {
        reply(ctx, resp, 409, "Conflict",
              "A cart holds at most " STR(CART_LINES_MAX) " different items and " STR(
                  CART_QTY_MAX) " of each; nothing was changed.");
        return;
    }
    redirect_home(resp);
}

static void route_clear(struct route_ctx *ctx, const struct request *rq, struct response *resp)
{
    if (!is_get(rq) && strcmp(rq->method, "POST") != 0) {
        method_not_allowed(ctx, resp, "GET, HEAD, POST");
        return;
    }
    if (request_cross_site(rq)) {
        reply(ctx, resp, 403, "Forbidden", "Cross-site requests may not change the session.");
        return;
    }
    if (cookie_session_id(ctx, rq)) {
        int rc = STORE_CALL(ctx, ctx->ops->destroy(ctx->st, ctx->id));
        if (rc < 0) {
            store_unavailable(ctx, resp, false);
            return;
        }
        if (rc == 1)
            metrics_session_destroyed();
    }
    set_session_cookie(ctx, rq, resp, true);
    redirect_home(resp);
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
        reply(ctx, resp, rq->path_too_long ? 414 : 404, "Not Found",
              "There is nothing at this address.");
        break;
    default:
        if (!is_get(rq)) {
            method_not_allowed(ctx, resp, ALLOW_GET);
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

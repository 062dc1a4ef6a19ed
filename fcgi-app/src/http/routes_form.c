/* The form POSTs: /setSession, /login, /logout and /cart, and the checks
 * every one of them makes first (form_post_begin). */
#include "routes_internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cart.h"
#include "form.h"
#include "metrics.h"
#include "user.h"

#define USER_RULE "A user name is 1 to " STR(USER_MAX) " letters, digits, '.', '_' or '-'."
#define BAD_ESCAPE "The form holds a malformed percent escape."

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

/* Stores the value into the cookie's session, or a new session when the
 * cookie names none. 0, or -1 on a store failure. */
static int store_value(struct route_ctx *ctx, const struct request *rq, struct response *resp,
                       size_t len)
{
    long long now = (long long)time(NULL);
    if (routes_cookie_session_id(ctx, rq)) {
        int rc =
            STORE_CALL(ctx, ctx->ops->set_value(ctx->st, ctx->id, ctx->value, len, now, false));
        if (rc != 0)
            return rc < 0 ? -1 : 0;
    }
    if (routes_new_session_id(ctx, NULL) < 0)
        return -1;
    if (STORE_CALL(ctx, ctx->ops->set_value(ctx->st, ctx->id, ctx->value, len, now, true)) < 0)
        return -1;
    metrics_session_created();
    routes_set_session_cookie(ctx, rq, resp, false);
    return 0;
}

/* routes_reply() for the preamble below: then -1. */
static long refuse(struct route_ctx *ctx, struct response *resp, int status, const char *title,
                   const char *text)
{
    routes_reply(ctx, resp, status, title, text);
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
        routes_method_not_allowed(ctx, resp, "POST");
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

void route_set(struct route_ctx *ctx, const struct request *rq, FCGX_Stream *in,
               struct response *resp)
{
    long len = form_post_begin(ctx, rq, in, resp, false);
    if (len < 0)
        return;
    size_t vlen = 0;
    enum form_result fr =
        form_get(ctx->in, (size_t)len, "value", ctx->value, sizeof ctx->value, &vlen);
    if (fr == FORM_TOO_LONG || (fr == FORM_FOUND && vlen > VALUE_MAX)) {
        routes_reply(ctx, resp, 413, "Value Too Large",
                     "A session value may be at most 4096 bytes.");
        return;
    }
    if (fr != FORM_FOUND) {
        routes_reply(ctx, resp, 400, "Bad Request",
                     fr == FORM_ABSENT ? "The form has no field named value." : BAD_ESCAPE);
        return;
    }
    if (store_value(ctx, rq, resp, vlen) < 0) {
        routes_store_unavailable(ctx, resp, false);
        return;
    }
    routes_redirect_home(resp);
}

/* Logs in as user under a new id, ctx->id: a rotation of the cookie's
 * session when it names a live one, else a fresh logged-in session.
 * 0, or -1 on a store failure. */
static int session_login(struct route_ctx *ctx, const struct request *rq, const char *user)
{
    char old[SID_LEN + 1];
    bool has_old = routes_cookie_session_id(ctx, rq);
    if (has_old)
        memcpy(old, ctx->id, sizeof old);
    for (int i = 0; i < CREATE_TRIES; i++) {
        if (routes_new_session_id(ctx, has_old ? old : NULL) < 0)
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
    routes_log_collisions();
    return -1;
}

void route_login(struct route_ctx *ctx, const struct request *rq, FCGX_Stream *in,
                 struct response *resp)
{
    long len = form_post_begin(ctx, rq, in, resp, false);
    if (len < 0)
        return;
    char user[USER_MAX + 2];
    size_t ulen = 0;
    enum form_result fr = form_get(ctx->in, (size_t)len, "user", user, sizeof user, &ulen);
    if (fr == FORM_MALFORMED) {
        routes_reply(ctx, resp, 400, "Bad Request", BAD_ESCAPE);
        return;
    }
    if (fr != FORM_FOUND || !user_name_valid(user, ulen)) {
        routes_reply(ctx, resp, 400, "Bad Request", USER_RULE);
        return;
    }
    if (session_login(ctx, rq, user) < 0) {
        routes_store_unavailable(ctx, resp, false);
        return;
    }
    routes_set_session_cookie(ctx, rq, resp, false);
    routes_redirect_home(resp);
}

/* The /logout form's field all: 1 to log out everywhere, 0 or absent for
 * this session only. 1 or 0, or -1 when a 400 reply was made. */
static int logout_form(struct route_ctx *ctx, struct response *resp, size_t len)
{
    char all[4];
    size_t alen = 0;
    enum form_result fr = form_get(ctx->in, len, "all", all, sizeof all, &alen);
    if (fr == FORM_MALFORMED)
        return (int)refuse(ctx, resp, 400, "Bad Request", BAD_ESCAPE);
    if (fr == FORM_TOO_LONG ||
        (fr == FORM_FOUND && (alen != 1 || (all[0] != '0' && all[0] != '1'))))
        return (int)refuse(ctx, resp, 400, "Bad Request",
                           "The field all is 1 (log out everywhere) or 0.");
    return fr == FORM_FOUND && all[0] == '1';
}

void route_logout(struct route_ctx *ctx, const struct request *rq, FCGX_Stream *in,
                  struct response *resp)
{
    long len = form_post_begin(ctx, rq, in, resp, true);
    int all = len < 0 ? -1 : logout_form(ctx, resp, (size_t)len);
    if (all < 0)
        return;
    bool everywhere = all == 1;
    if (routes_cookie_session_id(ctx, rq)) {
        long long ended = 0;
        int rc = STORE_CALL(ctx, ctx->ops->logout(ctx->st, ctx->id, everywhere, &ended));
        if (rc < 0) {
            routes_store_unavailable(ctx, resp, false);
            return;
        }
        if (rc == 1) {
            metrics_logout();
            metrics_sessions_revoked(ended - 1);
        }
    }
    routes_set_session_cookie(ctx, rq, resp, true);
    routes_redirect_home(resp);
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
    if (routes_cookie_session_id(ctx, rq)) {
        int rc = STORE_CALL(ctx, ctx->ops->cart(ctx->st, ctx->id, item, delta, false));
        if (rc != 0)
            return rc;
    }
    if (routes_new_session_id(ctx, NULL) < 0)
        return -1;
    int rc = STORE_CALL(ctx, ctx->ops->cart(ctx->st, ctx->id, item, delta, true));
    if (rc < 0)
        return -1;
    metrics_session_created();
    routes_set_session_cookie(ctx, rq, resp, false);
    return rc;
}

void route_cart(struct route_ctx *ctx, const struct request *rq, FCGX_Stream *in,
                struct response *resp)
{
    int item, delta;
    long len = form_post_begin(ctx, rq, in, resp, false);
    if (len < 0 || cart_form(ctx, resp, (size_t)len, &item, &delta) < 0)
        return;
    int rc = cart_change(ctx, rq, resp, item, delta);
    if (rc < 0) {
        routes_store_unavailable(ctx, resp, false);
        return;
    }
    if (rc == 2) {
        routes_reply(ctx, resp, 409, "Conflict",
                     "A cart holds at most " STR(CART_LINES_MAX) " different items and " STR(
                         CART_QTY_MAX) " of each; nothing was changed.");
        return;
    }
    routes_redirect_home(resp);
}

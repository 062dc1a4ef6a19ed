/* The probe client's POSTs: the log-in and the cart adds before the reads,
 * the value after the first read. */
#include "client_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* POSTs form (application/x-www-form-urlencoded, curl's default) to url;
 * the app answers 303 on success. False after recording the failure. */
static bool post_form(struct client_state *u, const char *url, const char *what, const char *form)
{
    curl_easy_setopt(u->h, CURLOPT_URL, url);
    curl_easy_setopt(u->h, CURLOPT_POSTFIELDS, form);
    double ms = 0;
    long status = client_http_perform(u, what, &ms);
    curl_easy_setopt(u->h, CURLOPT_POSTFIELDS, NULL);
    if (status < 0)
        return false;
    if (status != 303) {
        client_record_error(u->r, false, "%s: HTTP %ld from %s (expected 303)", what, status, url);
        return false;
    }
    return true;
}

/* POSTs FIELD=escaped(text) to url. */
static bool post_field(struct client_state *u, const char *url, const char *what, const char *field,
                       const char *text)
{
    char *esc = curl_easy_escape(u->h, text, 0);
    size_t cap = esc ? strlen(field) + strlen(esc) + 2 : 0;
    char *form = esc ? malloc(cap) : NULL;
    if (!form) {
        curl_free(esc);
        client_record_error(u->r, false, "%s: out of memory", what);
        return false;
    }
    snprintf(form, cap, "%s=%s", field, esc);
    curl_free(esc);
    bool ok = post_form(u, url, what, form);
    free(form);
    return ok;
}

/* POST /setSession value=V. */
void client_post_value(struct client_state *u)
{
    u->r->value = VALUE_LOST;
    if (post_field(u, u->set_url, "set", "value", u->o->set_value)) {
        u->r->value = VALUE_KEPT;
        u->value_set = true;
    }
}

/* POST /login user=LOGIN-index: the answer's Set-Cookie (a new session id:
 * the app rotates it) goes into the jar like any other. */
void client_post_login(struct client_state *u)
{
    struct client_result *r = u->r;
    r->login = VALUE_LOST;
    snprintf(r->user, sizeof r->user, "%s-%d", u->o->login, r->index);
    if (post_field(u, u->login_url, "login", "user", r->user)) {
        r->login = VALUE_KEPT;
        u->logged_in = true;
    }
}

/* POST /cart item=I&action=add o->cart times, I cycling through
 * probe_cart_items; stops at the first add that fails (the cart is then
 * lost: what it should hold is unknown). */
void client_post_cart(struct client_state *u)
{
    struct client_result *r = u->r;
    r->cart = VALUE_LOST;
    for (long k = 0; k < u->o->cart; k++) {
        int i = (int)(k % PROBE_CART_LINES);
        char form[64], what[32];
        snprintf(form, sizeof form, "item=%s&action=add", probe_cart_items[i]);
        snprintf(what, sizeof what, "cart add %ld", k + 1);
        if (!post_form(u, u->cart_url, what, form))
            return;
        r->cart_qty[i]++;
    }
    r->cart = VALUE_KEPT;
    u->cart_set = true;
}

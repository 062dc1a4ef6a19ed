#include "render.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cart.h"
#include "escape.h"

#define STR_(x) #x
#define STR(x) STR_(x)

static const char page_style[] =
    "<style>"
    "body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:42rem;"
    "padding:0 1rem;color:#222;line-height:1.4}"
    "h1{font-size:1.4rem}"
    "dl{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1rem}"
    "dt{font-weight:600}dd{margin:0;font-family:ui-monospace,monospace;"
    "overflow-wrap:anywhere}"
    "ol{margin:0;padding-left:0;list-style-position:inside}"
    "form{margin:1.2rem 0}input[type=text]{width:18rem;padding:.3rem}"
    "button{padding:.3rem .8rem}"
    "ul#cart{margin:0;padding-left:1.2rem}"
    "table.shop td{padding:.1rem .6rem .1rem 0}table.shop form{margin:0;display:inline}"
    ".note{font-size:.9rem;color:#555}"
    "</style>";

void render_date(long long unix_seconds, char out[20])
{
    struct tm tm;
    time_t t = (time_t)unix_seconds;
    if (!localtime_r(&t, &tm) || strftime(out, 20, "%Y/%m/%d %H:%M:%S", &tm) == 0)
        snprintf(out, 20, "-");
}

static const char *store_title(const char *store)
{
    return store[0] == 'r' ? "Session Sample - Redis" : "Session Sample - in Memory";
}

static void page_head(struct buf *b, const char *title)
{
    buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                "<title>");
    escape_html(b, title, strlen(title));
    buf_puts(b, "</title>");
    buf_puts(b, page_style);
    buf_puts(b, "</head><body>\n<h1>");
    escape_html(b, title, strlen(title));
    buf_puts(b, "</h1>\n");
}

static void page_field(struct buf *b, const char *label, const char *id, const char *text,
                       size_t len)
{
    buf_puts(b, "<dt>");
    buf_puts(b, label);
    buf_puts(b, "</dt><dd id=\"");
    buf_puts(b, id);
    buf_puts(b, "\">");
    escape_html(b, text, len);
    buf_puts(b, "</dd>\n");
}

static void page_served_by(struct buf *b, const struct session *s)
{
    buf_puts(b, "<dt>Served by</dt><dd><ol id=\"served-by\">");
    for (int i = 0; i < s->served_n && i < SERVED_MAX; i++) {
        buf_puts(b, "<li>");
        escape_html(b, s->served_by[i], strlen(s->served_by[i]));
        buf_puts(b, "</li>");
    }
    buf_puts(b, "</ol></dd>\n");
}

/* The cart as a list: one <li data-item> per line, catalogue order. */
static void page_cart(struct buf *b, const struct session *s)
{
    buf_puts(b, "<dt>Cart</dt><dd><ul id=\"cart\">");
    bool empty = true;
    for (int i = 0; i < CART_ITEMS; i++) {
        if (s->cart[i] <= 0)
            continue;
        buf_printf(b, "<li data-item=\"%s\">%s \xc3\x97 %d</li>", cart_catalogue[i],
                   cart_catalogue[i], s->cart[i]);
        empty = false;
    }
    if (empty)
        buf_puts(b, "<li class=\"empty\">empty</li>");
    buf_puts(b, "</ul></dd>\n");
}

/* "Logged in as NAME" with the two logout buttons, or the login form. */
static void page_account(struct buf *b, const struct session *s, const char *store)
{
    if (!s->user[0]) {
        buf_puts(b, "<form id=\"login-form\" method=\"post\" action=\"/login\">"
                    "<input type=\"text\" name=\"user\" maxlength=\"" STR(
                        USER_MAX) "\" "
                                  "pattern=\"[A-Za-z0-9._\\-]+\" required aria-label=\"User name\" "
                                  "autocomplete=\"username\"> "
                                  "<button type=\"submit\">Log in</button>"
                                  "<span class=\"note\"> A demo: no password.</span></form>\n");
        return;
    }
    buf_puts(
        b, "<form id=\"logout-form\" method=\"post\" action=\"/logout\"><p>Logged in as <strong>");
    escape_html(b, s->user, strlen(s->user));
    buf_puts(b, "</strong></p><button type=\"submit\">Log out</button> "
                "<button type=\"submit\" name=\"all\" value=\"1\">Log out everywhere</button>");
    if (store[0] != 'r')
        buf_puts(b, "<p class=\"note\" id=\"logout-note\">With the memory store this ends only "
                    "the sessions this replica holds.</p>");
    buf_puts(b, "</form>\n");
}

/* Add and remove buttons per catalogue item, each a form posting to /cart. */
static void page_shop(struct buf *b)
{
    buf_puts(b, "<table class=\"shop\" id=\"shop\">");
    for (int i = 0; i < CART_ITEMS; i++) {
        const char *n = cart_catalogue[i];
        buf_printf(
            b,
            "<tr><td>%s</td><td><form method=\"post\" action=\"/cart\">"
            "<input type=\"hidden\" name=\"item\" value=\"%s\">"
            "<button type=\"submit\" name=\"action\" value=\"add\" id=\"add-%s\">Add</button> "
            "<button type=\"submit\" name=\"action\" value=\"remove\" id=\"remove-%s\">"
            "Remove</button></form></td></tr>",
            n, n, n, n);
    }
    buf_puts(b, "</table>\n");
}

void render_page(struct buf *b, const struct session *s, const char *instance, const char *store)
{
    char count[32], date[20] = "";
    struct buf cb;
    buf_init(&cb, count, sizeof count);
    buf_put_ll(&cb, s->count);
    if (s->has_value)
        render_date(s->value_time, date);
    page_head(b, store_title(store));
    buf_puts(b, "<dl>\n");
    page_field(b, "Session ID", "session-id", s->id, strlen(s->id));
    page_field(b, "Hostname", "hostname", instance, strlen(instance));
    page_field(b, "Access Count", "access-count", count, cb.len);
    page_field(b, "User", "user", s->user[0] ? s->user : "-", s->user[0] ? strlen(s->user) : 1);
    page_field(b, "Value", "value", s->has_value ? s->value : "", s->has_value ? s->value_len : 0);
    page_field(b, "Date", "date", date, strlen(date));
    page_field(b, "Store", "store", store, strlen(store));
    page_served_by(b, s);
    page_cart(b, s);
    buf_puts(b, "</dl>\n");
    page_account(b, s, store);
    page_shop(b);
    buf_puts(b, "<form method=\"post\" action=\"/setSession\">"
                "<input type=\"text\" name=\"value\" maxlength=\"4096\" "
                "aria-label=\"Value\" autocomplete=\"off\"> "
                "<button type=\"submit\">Set Session</button></form>\n"
                "<p><a href=\"/clearSession\">Clear Session</a></p>\n"
                "</body></html>\n");
}

static void json_string(struct buf *b, const char *s, size_t n)
{
    buf_putc(b, '"');
    escape_json(b, s, n);
    buf_putc(b, '"');
}

/* "user" and "cart" (catalogue order, qty > 0 only). */
static void json_account(struct buf *b, const struct session *s)
{
    buf_puts(b, ",\"user\":");
    if (s->user[0])
        json_string(b, s->user, strlen(s->user));
    else
        buf_puts(b, "null");
    buf_puts(b, ",\"cart\":[");
    bool first = true;
    for (int i = 0; i < CART_ITEMS; i++) {
        if (s->cart[i] <= 0)
            continue;
        buf_printf(b, "%s{\"item\":\"%s\",\"qty\":%d}", first ? "" : ",", cart_catalogue[i],
                   s->cart[i]);
        first = false;
    }
    buf_putc(b, ']');
}

void render_json(struct buf *b, const struct session *s, const char *instance, const char *store)
{
    buf_puts(b, "{\"session_id\":");
    json_string(b, s->id, strlen(s->id));
    buf_puts(b, ",\"hostname\":");
    json_string(b, instance, strlen(instance));
    buf_puts(b, ",\"access_count\":");
    buf_put_ll(b, s->count);
    buf_puts(b, ",\"value\":");
    if (s->has_value) {
        char date[20];
        render_date(s->value_time, date);
        json_string(b, s->value, s->value_len);
        buf_puts(b, ",\"date\":");
        json_string(b, date, strlen(date));
    } else {
        buf_puts(b, "null,\"date\":null");
    }
    json_account(b, s);
    buf_puts(b, ",\"store\":");
    json_string(b, store, strlen(store));
    buf_puts(b, s->is_new ? ",\"new\":true,\"served_by\":[" : ",\"new\":false,\"served_by\":[");
    for (int i = 0; i < s->served_n && i < SERVED_MAX; i++) {
        if (i)
            buf_putc(b, ',');
        json_string(b, s->served_by[i], strlen(s->served_by[i]));
    }
    buf_puts(b, "]}\n");
}

void render_message(struct buf *b, const char *title, const char *text)
{
    page_head(b, title);
    buf_puts(b, "<p>");
    escape_html(b, text, strlen(text));
    buf_puts(b, "</p>\n<p><a href=\"/\">Back to the session page</a></p>\n</body></html>\n");
}

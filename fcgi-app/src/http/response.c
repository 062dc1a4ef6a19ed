#include "response.h"

#include <string.h>

#define HEAD_MAX 1024

const char *response_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 303:
        return "See Other";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 503:
        return "Service Unavailable";
    default:
        return "Internal Server Error";
    }
}

/* Appends "Name: value\r\n". */
static void put_header(struct buf *h, const char *name, const char *value)
{
    buf_puts(h, name);
    buf_puts(h, value);
    buf_puts(h, "\r\n");
}

static void write_headers(struct buf *h, const struct response *r, size_t body_len)
{
    buf_puts(h, "Status: ");
    buf_put_ll(h, r->status);
    buf_putc(h, ' ');
    buf_puts(h, response_reason(r->status));
    buf_puts(h, "\r\nContent-Type: ");
    buf_puts(h, r->content_type);
    buf_puts(h, "\r\nContent-Length: ");
    buf_put_ll(h, (long long)body_len);
    buf_puts(h, "\r\nX-Content-Type-Options: nosniff\r\n");
    if (strncmp(r->content_type, "text/html", 9) == 0)
        buf_puts(h, "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; "
                    "form-action 'self'; frame-ancestors 'none'\r\n"
                    "Referrer-Policy: same-origin\r\n");
    if (r->no_store)
        buf_puts(h, "Cache-Control: no-store\r\n");
    if (r->set_cookie[0])
        put_header(h, "Set-Cookie: ", r->set_cookie);
    if (r->location)
        put_header(h, "Location: ", r->location);
    if (r->allow)
        put_header(h, "Allow: ", r->allow);
    if (r->retry_after)
        buf_puts(h, "Retry-After: 1\r\n");
    buf_puts(h, "\r\n");
}

int response_write(FCGX_Stream *out, const struct response *r, const struct buf *body,
                   bool head_only)
{
    char mem[HEAD_MAX];
    struct buf h;
    buf_init(&h, mem, sizeof mem);
    write_headers(&h, r, body->len);
    if (FCGX_PutStr(h.data, (int)h.len, out) < 0)
        return -1;
    if (!head_only && body->len > 0 && FCGX_PutStr(body->data, (int)body->len, out) < 0)
        return -1;
    return 0;
}

#include "response.h"

#include <string.h>

#define HEAD_MAX 1024

const char *response_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 303: return "See Other";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 503: return "Service Unavailable";
    default: return "Internal Server Error";
    }
}

static void write_headers(struct buf *h, const struct response *r, size_t body_len)
{
    buf_printf(h, "Status: %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n",
               r->status, response_reason(r->status), r->content_type, body_len);
    buf_puts(h, "X-Content-Type-Options: nosniff\r\n");
    if (strncmp(r->content_type, "text/html", 9) == 0)
        buf_puts(h, "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; "
                    "form-action 'self'; frame-ancestors 'none'\r\n"
                    "Referrer-Policy: same-origin\r\n");
    if (r->no_store)
        buf_puts(h, "Cache-Control: no-store\r\n");
    if (r->set_cookie[0])
        buf_printf(h, "Set-Cookie: %s\r\n", r->set_cookie);
    if (r->location)
        buf_printf(h, "Location: %s\r\n", r->location);
    if (r->allow)
        buf_printf(h, "Allow: %s\r\n", r->allow);
    if (r->retry_after)
        buf_puts(h, "Retry-After: 1\r\n");
    buf_puts(h, "\r\n");
}

int response_write(FCGX_Stream *out, const struct response *r,
                   const struct buf *body, bool head_only)
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

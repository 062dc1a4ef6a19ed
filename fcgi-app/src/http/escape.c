#include "escape.h"

#include <stdbool.h>
#include <stdint.h>

/* U+FFFD REPLACEMENT CHARACTER, written for each invalid byte and NUL. */
#define ESCAPE_REPLACEMENT "\xef\xbf\xbd"

/* Writes an escape for cp into b and returns true, or returns false when
 * cp needs none (the caller then copies its bytes unchanged). */
typedef bool (*escape_fn)(struct buf *b, uint32_t cp);

static bool escape_is_cont(unsigned char c)
{
    return (c & 0xc0) == 0x80;
}

/*
 * Bounds of the second byte of a sequence starting with lead byte c, per
 * the Unicode well-formed table: this is what rules out overlongs (E0, F0),
 * surrogates (ED) and code points over U+10FFFF (F4). Returns the sequence
 * length, or 0 when c cannot start a multibyte sequence.
 */
static size_t escape_lead(unsigned char c, unsigned char *lo, unsigned char *hi)
{
    *lo = 0x80;
    *hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        return 2;
    if (c == 0xe0)
        *lo = 0xa0;
    else if (c == 0xed)
        *hi = 0x9f;
    if (c >= 0xe0 && c <= 0xef)
        return 3;
    if (c == 0xf0)
        *lo = 0x90;
    else if (c == 0xf4)
        *hi = 0x8f;
    if (c >= 0xf0 && c <= 0xf4)
        return 4;
    return 0;
}

/*
 * Decodes one well-formed UTF-8 sequence at s[0..n) into *cp. Returns its
 * length (1..4), or 0 when s[0] does not start a well-formed sequence.
 */
static size_t escape_utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char lo, hi;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t k = escape_lead(s[0], &lo, &hi);
    if (k == 0 || n < k || s[1] < lo || s[1] > hi)
        return 0;
    *cp = s[0] & (0x7f >> k);
    for (size_t i = 1; i < k; i++) {
        if (!escape_is_cont(s[i]))
            return 0;
        *cp = *cp << 6 | (s[i] & 0x3f);
    }
    return k;
}

/*
 * Walks s[0..n) as UTF-8: each invalid byte and each NUL becomes U+FFFD,
 * each code point esc declines is copied through unchanged. Runs of bytes
 * that plain accepts (ASCII that esc would decline) are copied in one
 * append instead of one per byte.
 */
static void escape_run(struct buf *b, const char *s, size_t n, escape_fn esc,
                       bool (*plain)(unsigned char))
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        size_t j = i;
        while (j < n && plain(u[j]))
            j++;
        if (j > i) {
            buf_add(b, s + i, j - i);
            i = j;
            continue;
        }
        uint32_t cp;
        size_t k = escape_utf8_next(u + i, n - i, &cp);

        if (k == 0 || cp == 0) {
            buf_add(b, ESCAPE_REPLACEMENT, 3);
            i++;
            continue;
        }
        if (!esc(b, cp))
            buf_add(b, s + i, k);
        i += k;
    }
}

static bool escape_html_cp(struct buf *b, uint32_t cp)
{
    switch (cp) {
    case '&':
        buf_puts(b, "&amp;");
        return true;
    case '<':
        buf_puts(b, "&lt;");
        return true;
    case '>':
        buf_puts(b, "&gt;");
        return true;
    case '"':
        buf_puts(b, "&quot;");
        return true;
    case '\'':
        buf_puts(b, "&#39;");
        return true;
    default:
        return false;
    }
}

static bool escape_json_cp(struct buf *b, uint32_t cp)
{
    switch (cp) {
    case '"':
        buf_puts(b, "\\\"");
        return true;
    case '\\':
        buf_puts(b, "\\\\");
        return true;
    case '\b':
        buf_puts(b, "\\b");
        return true;
    case '\f':
        buf_puts(b, "\\f");
        return true;
    case '\n':
        buf_puts(b, "\\n");
        return true;
    case '\r':
        buf_puts(b, "\\r");
        return true;
    case '\t':
        buf_puts(b, "\\t");
        return true;
    case 0x2028:
        buf_puts(b, "\\u2028");
        return true;
    case 0x2029:
        buf_puts(b, "\\u2029");
        return true;
    default:
        break;
    }
    if (cp < 0x20 || cp == 0x7f) {
        buf_printf(b, "\\u%04x", (unsigned)cp);
        return true;
    }
    return false;
}

/* ASCII bytes each escaper copies unchanged: printable, minus its specials
 * (HTML would pass controls too; they just take the slow path). */
static bool html_plain(unsigned char c)
{
    return c >= 0x20 && c < 0x7f && c != '&' && c != '<' && c != '>' && c != '"' && c != '\'';
}

static bool json_plain(unsigned char c)
{
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

void escape_html(struct buf *b, const char *s, size_t n)
{
    escape_run(b, s, n, escape_html_cp, html_plain);
}

void escape_json(struct buf *b, const char *s, size_t n)
{
    escape_run(b, s, n, escape_json_cp, json_plain);
}

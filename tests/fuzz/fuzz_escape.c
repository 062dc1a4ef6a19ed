/*
 * escape_html and escape_json over any bytes, into a bounded buffer. Byte 0:
 * bit 0 picks HTML or JSON, the other bits the buffer size (0..127). Whether
 * the buffer overflowed or not, the output must be valid UTF-8 with no NUL,
 * and safe in its context: for HTML no raw < > " ' and every & starts an
 * entity; for JSON a well-formed string body with no control characters
 * and no raw U+2028/U+2029. With 6 bytes of room per input byte it must not
 * overflow at all.
 */
#include "escape.h"
#include "fuzz_check.h"

/* Worst case: '"' -> "&quot;" or "\u001f" -> 6 bytes per input byte. */
#define ESCAPE_GROWTH 6

static bool html_safe(const char *s, size_t n)
{
    static const char *const entities[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"};
    for (size_t i = 0; i < n; i++) {
        if (strchr("<>\"'", s[i]) != NULL)
            return false;
        if (s[i] != '&')
            continue;
        bool ok = false;
        for (size_t e = 0; e < sizeof entities / sizeof entities[0]; e++)
            ok |= strncmp(s + i, entities[e], strlen(entities[e])) == 0;
        if (!ok)
            return false;
    }
    return true;
}

static bool json_safe(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n; i++) {
        if (u[i] < 0x20 || u[i] == 0x7f || u[i] == '"')
            return false;
        if (u[i] == 0xe2 && i + 2 < n && u[i + 1] == 0x80 &&
            (u[i + 2] == 0xa8 || u[i + 2] == 0xa9))
            return false;
        if (u[i] != '\\')
            continue;
        if (++i >= n || strchr("\"\\/bfnrtu", u[i]) == NULL || u[i] == '\0')
            return false;
        if (u[i] == 'u') {
            if (n - i < 5)
                return false;
            for (size_t k = 1; k <= 4; k++)
                if (strchr("0123456789abcdefABCDEF", u[i + k]) == NULL || u[i + k] == '\0')
                    return false;
            i += 4;
        }
    }
    return true;
}

static void check(const struct buf *b, bool html)
{
    FUZZ_CHECK(b->len <= b->cap);
    if (b->cap == 0)
        return;
    FUZZ_CHECK(b->len < b->cap && b->data[b->len] == '\0');
    FUZZ_CHECK(strlen(b->data) == b->len);
    FUZZ_CHECK(fuzz_utf8_valid((const unsigned char *)b->data, b->len));
    FUZZ_CHECK(html ? html_safe(b->data, b->len) : json_safe(b->data, b->len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool html = data[0] & 1;
    size_t cap = data[0] >> 1;
    size_t n = size - 1;
    char *src = malloc(n ? n : 1);
    char *small = malloc(cap ? cap : 1);
    size_t bigcap = n * ESCAPE_GROWTH + 1;
    char *big = malloc(bigcap);
    if (src == NULL || small == NULL || big == NULL)
        abort();
    memcpy(src, data + 1, n);
    void (*esc)(struct buf *, const char *, size_t) = html ? escape_html : escape_json;
    struct buf b;

    buf_init(&b, small, cap);
    esc(&b, src, n);
    check(&b, html);

    buf_init(&b, big, bigcap);
    esc(&b, src, n);
    FUZZ_CHECK(!b.overflow);
    check(&b, html);

    free(big);
    free(small);
    free(src);
    return 0;
}

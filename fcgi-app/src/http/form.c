#include "form.h"
#include "text.h"

#include <limits.h>

#include <string.h>

/* Longest field name (decoded) that form_get compares; longer ones never match. */
#define FORM_NAME_MAX 64

/*
 * Decodes the byte at src[*i] (a plain byte, '+', or a "%XX" escape) into
 * *out and advances *i past it. -1 for a malformed or truncated escape.
 */
static int form_decode_byte(const char *src, size_t len, size_t *i, bool plus_is_space, char *out)
{
    char c = src[*i];

    if (c == '+' && plus_is_space) {
        *out = ' ';
        (*i)++;
        return 0;
    }
    if (c != '%') {
        *out = c;
        (*i)++;
        return 0;
    }
    if (len - *i < 3)
        return -1;
    int hi = text_hexval((unsigned char)src[*i + 1]);
    int lo = text_hexval((unsigned char)src[*i + 2]);
    if (hi < 0 || lo < 0)
        return -1;
    *out = (char)(hi << 4 | lo);
    *i += 3;
    return 0;
}

#define FORM_LONG_MAX ((size_t)LONG_MAX)

/* Bytes of payload dst can hold: dstcap - 1 (room for the NUL), capped so
 * the length always fits pct_decode's long result. */
static size_t form_room(size_t dstcap)
{
    if (dstcap == 0)
        return 0;
    return dstcap - 1 > FORM_LONG_MAX ? FORM_LONG_MAX : dstcap - 1;
}

/*
 * The whole source is scanned even once dst is full, so a malformed escape
 * anywhere wins over "too long". On error dst holds "" (if dstcap > 0).
 */
long pct_decode(const char *src, size_t len, char *dst, size_t dstcap, bool plus_is_space)
{
    size_t room = form_room(dstcap);
    size_t i = 0, n = 0;
    bool full = dstcap == 0;

    while (i < len) {
        char c;
        if (form_decode_byte(src, len, &i, plus_is_space, &c) != 0) {
            if (dstcap > 0)
                dst[0] = '\0';
            return -1;
        }
        if (n < room)
            dst[n++] = c;
        else
            full = true;
    }
    if (full) {
        if (dstcap > 0)
            dst[0] = '\0';
        return -2;
    }
    dst[n] = '\0';
    return (long)n;
}

/*
 * True when the urlencoded field name raw[0..rlen) decodes to exactly
 * name[0..nlen). Names that are malformed or over FORM_NAME_MAX never match.
 */
static bool form_name_is(const char *raw, size_t rlen, const char *name, size_t nlen)
{
    char key[FORM_NAME_MAX + 1];
    long k = pct_decode(raw, rlen, key, sizeof key, true);

    return k >= 0 && (size_t)k == nlen && memcmp(key, name, nlen) == 0;
}

/* Decodes the field value v[0..vlen) into dst and maps pct_decode's result. */
static enum form_result form_take(const char *v, size_t vlen, char *dst, size_t dstcap,
                                  size_t *outlen)
{
    long n = pct_decode(v, vlen, dst, dstcap, true);

    if (n == -1)
        return FORM_MALFORMED;
    if (n < 0)
        return FORM_TOO_LONG;
    *outlen = (size_t)n;
    return FORM_FOUND;
}

/*
 * Pairs are separated by '&'; a pair without '=' is a name with an empty
 * value. Empty pairs are skipped. Never reads past body[len).
 */
enum form_result form_get(const char *body, size_t len, const char *name, char *dst, size_t dstcap,
                          size_t *outlen)
{
    size_t nlen = strlen(name);
    size_t i = 0;

    *outlen = 0;
    if (dstcap > 0)
        dst[0] = '\0';
    if (body == NULL || nlen > FORM_NAME_MAX)
        return FORM_ABSENT;
    while (i < len) {
        const char *pair = body + i;
        const char *amp = memchr(pair, '&', len - i);
        size_t plen = amp ? (size_t)(amp - pair) : len - i;
        const char *eq = memchr(pair, '=', plen);
        size_t klen = eq ? (size_t)(eq - pair) : plen;

        i += plen + 1;
        if (plen == 0 || !form_name_is(pair, klen, name, nlen))
            continue;
        if (eq == NULL)
            return form_take(pair, 0, dst, dstcap, outlen);
        return form_take(eq + 1, plen - klen - 1, dst, dstcap, outlen);
    }
    return FORM_ABSENT;
}

/*
 * pct_decode and form_get over any bytes. Input: byte 0 picks dstcap
 * (0..255, so the "too long" path is hit), byte 1 picks plus_is_space and
 * the field name, the rest is the encoded text / urlencoded body (not
 * NUL-terminated: ASan catches any read past it).
 */
#include "form.h"
#include "fuzz_check.h"

static const char *const names[] = {"value", "a", "", "x+y", "k%3D"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t dstcap = data[0];
    bool plus = data[1] & 1;
    const char *name = names[(data[1] >> 1) % (sizeof names / sizeof names[0])];
    size_t len = size - 2;
    char *src = malloc(len ? len : 1);
    char *dst = malloc(dstcap ? dstcap : 1);
    if (src == NULL || dst == NULL)
        abort();
    memcpy(src, data + 2, len);

    long n = pct_decode(src, len, dst, dstcap, plus);
    FUZZ_CHECK(n >= -2);
    if (n >= 0) {
        FUZZ_CHECK((size_t)n < dstcap && (size_t)n <= len && dst[n] == '\0');
    } else if (dstcap > 0) {
        FUZZ_CHECK(dst[0] == '\0');
    }
    /* With room for everything, only a malformed escape can fail. */
    char *big = malloc(len + 1);
    if (big == NULL)
        abort();
    long m = pct_decode(src, len, big, len + 1, plus);
    FUZZ_CHECK(m == -1 || (m >= 0 && (size_t)m <= len));
    FUZZ_CHECK((n == -1) == (m == -1));
    if (n >= 0)
        FUZZ_CHECK(m == n && memcmp(dst, big, (size_t)n) == 0);

    size_t outlen = 12345;
    enum form_result r = form_get(src, len, name, dst, dstcap, &outlen);
    FUZZ_CHECK(r >= FORM_TOO_LONG && r <= FORM_FOUND);
    if (r == FORM_FOUND)
        FUZZ_CHECK(outlen < dstcap && outlen <= len && dst[outlen] == '\0');
    else
        FUZZ_CHECK(outlen == 0);
    free(big);
    free(dst);
    free(src);
    return 0;
}

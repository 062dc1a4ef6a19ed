/*
 * request_parse and request_cross_site over any FastCGI params: the input
 * is split on '\n' into a NULL-terminated "NAME=value" array. Every string
 * the request keeps must point into a param, the path must fit and hold no
 * '?' or '#', and the content length must be -1 or a non-negative number.
 */
#include "fuzz_check.h"
#include "request.h"

/* True when p points into one of the params (or is the "" default). */
static bool in_params(const char *p, char *const *params, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *s = params[i];
        if (p >= s && p <= s + strlen(s))
            return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = fuzz_strdup(data, size);
    size_t n;
    char **params = fuzz_split(in, '\n', &n);
    struct request rq;

    request_parse(&rq, params);
    FUZZ_CHECK(rq.method != NULL);
    FUZZ_CHECK(rq.method[0] == '\0' || in_params(rq.method, params, n));
    const char *slots[] = {rq.host, rq.origin, rq.fetch_site, rq.cookie,
                           rq.content_type};
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++)
        FUZZ_CHECK(slots[i] == NULL || in_params(slots[i], params, n));
    size_t plen = strnlen(rq.path, sizeof rq.path);
    FUZZ_CHECK(plen < sizeof rq.path);
    FUZZ_CHECK(strpbrk(rq.path, "?#") == NULL);
    FUZZ_CHECK(!rq.path_too_long || plen == 0);
    FUZZ_CHECK(rq.content_length >= -1 && rq.content_length < 1000000000000000LL);

    bool cross = request_cross_site(&rq);
    /* No Origin and no cross-site Sec-Fetch-Site: never cross-site. */
    if (rq.origin == NULL && rq.fetch_site == NULL)
        FUZZ_CHECK(!cross);

    request_parse(&rq, NULL);
    FUZZ_CHECK(rq.method[0] == '\0' && rq.path[0] == '\0' && !rq.secure);
    free(params);
    free(in);
    return 0;
}

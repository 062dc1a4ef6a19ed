/*
 * redis_url_parse over any text. Byte 0 picks the error buffer size (0..63,
 * with 0 meaning err == NULL); the rest is the URL. On success every field
 * must be NUL-terminated within its array and in range; on failure *out is
 * untouched and err holds a sentence.
 */
#include "fuzz_check.h"
#include "redis_url.h"

static bool terminated(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

/* A sentinel URL: 1..REDIS_SENTINELS_MAX valid addresses and a master name. */
static void check_sentinels(const struct redis_url *u)
{
    FUZZ_CHECK(u->sentinel_n >= 0 && u->sentinel_n <= REDIS_SENTINELS_MAX);
    if (u->sentinel_n == 0)
        return;
    FUZZ_CHECK(u->kind == REDIS_URL_TCP);
    FUZZ_CHECK(terminated(u->master_name, sizeof u->master_name) && u->master_name[0] != '\0');
    for (int i = 0; i < u->sentinel_n; i++) {
        const struct redis_endpoint *e = &u->sentinels[i];
        FUZZ_CHECK(terminated(e->host, sizeof e->host) && e->host[0] != '\0');
        FUZZ_CHECK(e->port >= 1 && e->port <= 65535);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t errlen = data[0] % 64;
    char *text = fuzz_strdup(data + 1, size - 1);
    char *err = errlen ? malloc(errlen) : NULL;
    struct redis_url out, before;

    memset(&out, 0xa5, sizeof out);
    memcpy(&before, &out, sizeof out);
    int rc = redis_url_parse(text, &out, err, errlen);
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (rc == 0) {
        FUZZ_CHECK(terminated(out.host, sizeof out.host));
        FUZZ_CHECK(terminated(out.path, sizeof out.path));
        FUZZ_CHECK(terminated(out.user, sizeof out.user));
        FUZZ_CHECK(terminated(out.password, sizeof out.password));
        FUZZ_CHECK(out.db >= 0);
        if (out.kind == REDIS_URL_TCP) {
            FUZZ_CHECK(out.host[0] != '\0');
            FUZZ_CHECK(out.port >= 1 && out.port <= 65535);
        } else {
            FUZZ_CHECK(out.kind == REDIS_URL_UNIX && out.path[0] == '/');
        }
        check_sentinels(&out);
        if (err != NULL)
            FUZZ_CHECK(err[0] == '\0');
    } else {
        FUZZ_CHECK(memcmp(&out, &before, sizeof out) == 0);
        if (err != NULL) {
            FUZZ_CHECK(terminated(err, errlen));
            FUZZ_CHECK(errlen == 1 || err[0] != '\0');
        }
    }
    free(err);
    free(text);
    return 0;
}

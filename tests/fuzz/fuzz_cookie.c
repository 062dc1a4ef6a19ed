/*
 * cookie_next over any Cookie header. Input: "NAME\nHEADER" (no newline:
 * the whole input is the header and NAME is SESSION). Every value must lie
 * inside the header, hold no ';', and the cursor must only move forward.
 */
#include "cookie.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = fuzz_strdup(data, size);
    const char *name = "SESSION";
    char *header = in;
    char *nl = strchr(in, '\n');

    if (nl != NULL) {
        *nl = '\0';
        name = in;
        header = nl + 1;
    }
    const char *end = header + strlen(header);
    const char *cur = header, *val;
    size_t len, found = 0;

    while (cookie_next(&cur, name, &val, &len)) {
        FUZZ_CHECK(val >= header && val + len <= end);
        FUZZ_CHECK(memchr(val, ';', len) == NULL);
        FUZZ_CHECK(cur > header && cur <= end);
        FUZZ_CHECK(++found <= (size_t)(end - header));
    }
    FUZZ_CHECK(cur == end || name[0] == '\0');
    free(in);
    return 0;
}

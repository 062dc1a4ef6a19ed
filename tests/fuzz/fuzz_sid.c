/*
 * sid_valid over any bytes (not NUL-terminated), checked against a plain
 * restatement of the rule: exactly SID_LEN characters of [0-9a-f]. Also
 * checks that a generated id is always valid.
 */
#include "fuzz_check.h"
#include "sid.h"

static bool reference_valid(const uint8_t *s, size_t n)
{
    if (n != SID_LEN)
        return false;
    for (size_t i = 0; i < n; i++)
        if (strchr("0123456789abcdef", s[i]) == NULL || s[i] == '\0')
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size ? size : 1);
    if (copy == NULL)
        abort();
    memcpy(copy, data, size);
    FUZZ_CHECK(sid_valid(copy, size) == reference_valid(data, size));
    FUZZ_CHECK(!sid_valid(NULL, size));
    free(copy);

    static unsigned calls;
    if (calls++ % 1024 == 0) {
        char id[SID_LEN + 1];
        FUZZ_CHECK(sid_generate(id) == 0);
        FUZZ_CHECK(strlen(id) == SID_LEN && sid_valid(id, SID_LEN));
    }
    return 0;
}

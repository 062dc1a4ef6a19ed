/*
 * user_name_valid over any bytes (not NUL-terminated), checked against a
 * plain restatement of the rule: 1..USER_MAX bytes of [A-Za-z0-9._-].
 */
#include "fuzz_check.h"
#include "user.h"

static bool reference_valid(const uint8_t *s, size_t n)
{
    static const char allowed[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
    if (n < 1 || n > USER_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\0' || strchr(allowed, s[i]) == NULL)
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size ? size : 1);
    if (copy == NULL)
        abort();
    memcpy(copy, data, size);
    FUZZ_CHECK(user_name_valid(copy, size) == reference_valid(data, size));
    FUZZ_CHECK(!user_name_valid(NULL, size));
    free(copy);
    return 0;
}

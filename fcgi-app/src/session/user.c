#include "user.h"

static bool user_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

bool user_name_valid(const char *s, size_t len)
{
    if (s == NULL || len == 0 || len > USER_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!user_char_ok((unsigned char)s[i]))
            return false;
    return true;
}

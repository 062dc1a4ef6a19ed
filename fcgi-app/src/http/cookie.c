#include "cookie.h"

#include <stdbool.h>
#include <string.h>

/* One "name=value" piece of the header, as pointers into it. */
struct cookie_pair {
    const char *name;
    size_t name_len;
    const char *val;
    size_t val_len;
    bool has_eq;
};

static bool cookie_is_ws(char c)
{
    return c == ' ' || c == '\t';
}

/* Shrinks [*p, *p + *n) past leading and trailing spaces and tabs. */
static void cookie_trim(const char **p, size_t *n)
{
    while (*n > 0 && cookie_is_ws(**p)) {
        (*p)++;
        (*n)--;
    }
    while (*n > 0 && cookie_is_ws((*p)[*n - 1]))
        (*n)--;
}

/* Drops one pair of DQUOTEs around the value, if both are there. */
static void cookie_unquote(const char **p, size_t *n)
{
    if (*n >= 2 && (*p)[0] == '"' && (*p)[*n - 1] == '"') {
        (*p)++;
        *n -= 2;
    }
}

/*
 * Splits the piece s[0..n) (no ';' inside) at its first '='. Name and value
 * are trimmed; the value is unquoted. has_eq is false when there is no '='.
 */
static void cookie_split(const char *s, size_t n, struct cookie_pair *pr)
{
    const char *eq = memchr(s, '=', n);

    pr->has_eq = eq != NULL;
    if (!pr->has_eq)
        return;
    pr->name = s;
    pr->name_len = (size_t)(eq - s);
    pr->val = eq + 1;
    pr->val_len = n - pr->name_len - 1;
    cookie_trim(&pr->name, &pr->name_len);
    cookie_trim(&pr->val, &pr->val_len);
    cookie_unquote(&pr->val, &pr->val_len);
}

int cookie_next(const char **cursor, const char *name, const char **val, size_t *len)
{
    if (cursor == NULL || *cursor == NULL || name == NULL || name[0] == '\0')
        return 0;
    size_t want = strlen(name);
    const char *p = *cursor;

    while (*p != '\0') {
        size_t n = strcspn(p, ";");
        struct cookie_pair pr;

        cookie_split(p, n, &pr);
        p += n;
        if (*p == ';')
            p++;
        if (pr.has_eq && pr.name_len == want && memcmp(pr.name, name, want) == 0) {
            *cursor = p;
            *val = pr.val;
            *len = pr.val_len;
            return 1;
        }
    }
    *cursor = p;
    return 0;
}

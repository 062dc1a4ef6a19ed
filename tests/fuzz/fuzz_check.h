/*
 * Shared helpers for the libFuzzer targets: a failed check traps, so
 * libFuzzer reports it as a crash and keeps the input.
 */
#ifndef SESSIONLAB_FUZZ_CHECK_H
#define SESSIONLAB_FUZZ_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond))                                                           \
            __builtin_trap();                                                  \
    } while (0)

/* A NUL-terminated heap copy of data[0..size), so ASan sees every overread.
 * The copy may hold earlier NULs; C-string parsers stop at the first. */
static inline char *fuzz_strdup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/*
 * Splits the NUL-terminated s in place at each sep into a NULL-terminated
 * array (caller frees the array, not the strings). *count gets the number
 * of pieces.
 */
static inline char **fuzz_split(char *s, char sep, size_t *count)
{
    size_t n = 1;
    for (const char *p = s; *p; p++)
        n += *p == sep;
    char **v = malloc((n + 1) * sizeof *v);
    if (v == NULL)
        abort();
    size_t i = 0;
    v[i++] = s;
    for (char *p = s; *p; p++) {
        if (*p == sep) {
            *p = '\0';
            v[i++] = p + 1;
        }
    }
    v[i] = NULL;
    *count = i;
    return v;
}

/* True when s[0..n) is well-formed UTF-8 (no overlongs, surrogates or code
 * points over U+10FFFF). Written independently of escape.c on purpose. */
static inline bool fuzz_utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            k = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            k = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            k = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n - i < k)
            return false;
        for (size_t j = 1; j < k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k;
    }
    return true;
}

#endif

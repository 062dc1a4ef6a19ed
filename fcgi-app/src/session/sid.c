#include "sid.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>

/*
 * Fills p[0..n) from the kernel CSPRNG, retrying on EINTR and short reads.
 * 0 on success, -1 on any other error (p is then unspecified).
 */
static int sid_random(unsigned char *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(p + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

/* Writes n random hex digits (n even) to out. 0, or -1 if getrandom failed. */
static int sid_random_hex(char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[SID_BYTES];

    if (sid_random(raw, n / 2) != 0)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 0x0f];
    }
    return 0;
}

int sid_generate(char out[SID_LEN + 1])
{
    if (sid_random_hex(out, SID_LEN) != 0) {
        out[0] = '\0';
        return -1;
    }
    out[SID_LEN] = '\0';
    return 0;
}

_Static_assert(SID_TAG_LEN % 2 == 0 && SID_TAG_LEN < SID_LEN, "the tag is whole bytes of the id");

int sid_generate_sibling(const char old[SID_LEN + 1], char out[SID_LEN + 1])
{
    char tag[SID_TAG_LEN];
    memcpy(tag, old, SID_TAG_LEN); /* old may be out itself */
    if (sid_random_hex(out + SID_TAG_LEN, SID_LEN - SID_TAG_LEN) != 0) {
        out[0] = '\0';
        return -1;
    }
    memcpy(out, tag, SID_TAG_LEN);
    out[SID_LEN] = '\0';
    return 0;
}

static bool sid_is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool sid_valid(const char *s, size_t len)
{
    if (s == NULL || len != SID_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!sid_is_hex(s[i]))
            return false;
    return true;
}

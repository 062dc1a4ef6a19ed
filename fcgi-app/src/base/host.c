#include "host.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

bool host_valid(const char *s, size_t n, bool v6)
{
    if (n == 0)
        return false;
    if (v6) {
        char buf[INET6_ADDRSTRLEN];
        struct in6_addr a;
        if (n >= sizeof buf)
            return false;
        memcpy(buf, s, n);
        buf[n] = '\0';
        return inet_pton(AF_INET6, buf, &a) == 1;
    }
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.' && s[i] != '_')
            return false;
    return true;
}

void host_port_format(char *out, size_t cap, const char *host, int max, int port)
{
    bool v6 = strchr(host, ':') != NULL;
    if (snprintf(out, cap, "%s%.*s%s:%d", v6 ? "[" : "", max, host, v6 ? "]" : "", port) < 0 &&
        cap > 0)
        out[0] = '\0';
}

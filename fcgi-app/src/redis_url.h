/*
 * SESSIONLAB_REDIS_URL parsing:
 *   redis://[[user]:password@]host[:port][/db]   (host may be [v6addr])
 *   unix:/path[?db=N]
 * Percent-escapes in user and password are decoded. Parsing validates fully:
 * on error it returns -1 and writes one human sentence to err.
 */
#ifndef SESSIONLAB_REDIS_URL_H
#define SESSIONLAB_REDIS_URL_H

#include <stddef.h>

#define REDIS_URL_MAX 1024
#define REDIS_HOST_MAX 256
#define REDIS_CRED_MAX 256

enum redis_url_kind { REDIS_URL_TCP, REDIS_URL_UNIX };

struct redis_url {
    enum redis_url_kind kind;
    char host[REDIS_HOST_MAX];   /* TCP: host name or address, no brackets */
    int port;                    /* TCP: 1..65535, default 6379 */
    char path[REDIS_HOST_MAX];   /* UNIX: socket path */
    char user[REDIS_CRED_MAX];   /* empty: none (AUTH password only) */
    char password[REDIS_CRED_MAX]; /* empty: no AUTH */
    int db;                      /* 0..? default 0 */
};

int redis_url_parse(const char *text, struct redis_url *out, char *err,
                    size_t errlen);

#endif

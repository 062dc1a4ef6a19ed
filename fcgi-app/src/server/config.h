/*
 * Configuration: parsed once at startup from SESSIONLAB_* variables and the
 * equivalent long flags (flags win), validated fully, then read-only.
 */
#ifndef SESSIONLAB_CONFIG_H
#define SESSIONLAB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "bounds.h"
#include "redis_url.h"

#define LISTEN_MAX 256

enum cookie_secure { COOKIE_SECURE_AUTO, COOKIE_SECURE_ALWAYS, COOKIE_SECURE_NEVER };

struct config {
    char listen[LISTEN_MAX];            /* "HOST:PORT", ":PORT" or "unix:/path" */
    char store[16];                     /* "memory" or "redis" */
    char redis_url_text[REDIS_URL_MAX]; /* as given (may hold a password) */
    struct redis_url redis;             /* parsed form of redis_url_text */
    char redis_prefix[REDIS_PREFIX_MAX];
    int redis_timeout_ms;  /* connect and command timeout */
    int redis_connections; /* shared pipelined connections */
    long ttl;              /* idle timeout, seconds */
    long max_age;          /* absolute lifetime, seconds; 0: none */
    char cookie_name[COOKIE_NAME_MAX + 1];
    enum cookie_secure cookie_secure;
    int workers;
    long max_sessions;
    char instance[INSTANCE_MAX + 1];
};

enum config_result { CONFIG_OK, CONFIG_EXIT_OK, CONFIG_ERROR };

/*
 * Fills cfg from defaults, then environ-style env (NULL-terminated
 * "NAME=value" strings), then argv. CONFIG_EXIT_OK when --help or --version
 * was handled (text written to out); CONFIG_ERROR with one line in err that
 * names the setting and says why.
 */
enum config_result config_load(struct config *cfg, int argc, char **argv, char **env, char *out,
                               size_t outlen, char *err, size_t errlen);

/* One line describing cfg for the startup log, without secrets. */
void config_describe(const struct config *cfg, char *buf, size_t len);

#endif

/*
 * config_load over any environment and command line. The input is split
 * on '\n'; lines up to the first one starting with '-' are environ-style
 * "NAME=value" strings, that line and the rest are argv[1..]. It must never
 * crash: it returns CONFIG_OK with every setting in range, CONFIG_EXIT_OK,
 * or CONFIG_ERROR with a message. It is run twice: with the buffer sizes
 * main.c uses, and with tiny out/err buffers (0..31 bytes) so truncation of
 * the help text and of error messages is exercised.
 */
#include "config.h"
#include "fuzz_check.h"

#define FUZZ_OUT_MAX 4096 /* as main.c */
#define FUZZ_ERR_MAX 1024

static bool filled(const char *s, size_t cap)
{
    return s[0] != '\0' && memchr(s, '\0', cap) != NULL;
}

static void check_ok(const struct config *cfg)
{
    FUZZ_CHECK(filled(cfg->listen, sizeof cfg->listen));
    FUZZ_CHECK(strcmp(cfg->store, "memory") == 0 || strcmp(cfg->store, "redis") == 0);
    FUZZ_CHECK(filled(cfg->redis_url_text, sizeof cfg->redis_url_text));
    FUZZ_CHECK(filled(cfg->redis_prefix, sizeof cfg->redis_prefix));
    FUZZ_CHECK(filled(cfg->cookie_name, sizeof cfg->cookie_name));
    FUZZ_CHECK(filled(cfg->instance, sizeof cfg->instance));
    FUZZ_CHECK(cfg->redis_timeout_ms >= 1 && cfg->redis_timeout_ms <= 60000);
    FUZZ_CHECK(cfg->ttl >= 1 && cfg->ttl <= 31536000);
    FUZZ_CHECK(cfg->workers >= 1 && cfg->workers <= 1024);
    FUZZ_CHECK(cfg->max_sessions >= 1 && cfg->max_sessions <= 100000000);
    FUZZ_CHECK(cfg->cookie_secure == COOKIE_SECURE_AUTO ||
               cfg->cookie_secure == COOKIE_SECURE_ALWAYS ||
               cfg->cookie_secure == COOKIE_SECURE_NEVER);
    if (cfg->redis.kind == REDIS_URL_TCP)
        FUZZ_CHECK(cfg->redis.port >= 1 && cfg->redis.port <= 65535);
    char line[2048];
    config_describe(cfg, line, sizeof line);
    FUZZ_CHECK(memchr(line, '\0', sizeof line) != NULL);
}

static void run(int argc, char **argv, char **env, size_t outlen, size_t errlen)
{
    struct config cfg;
    char *out = malloc(outlen ? outlen : 1);
    char *err = malloc(errlen ? errlen : 1);
    if (out == NULL || err == NULL)
        abort();
    if (outlen)
        out[0] = '\0';
    if (errlen)
        err[0] = '\0';
    enum config_result r = config_load(&cfg, argc, argv, env, out, outlen, err, errlen);
    switch (r) {
    case CONFIG_OK:
        check_ok(&cfg);
        break;
    case CONFIG_EXIT_OK:
        FUZZ_CHECK(outlen == 0 || memchr(out, '\0', outlen) != NULL);
        break;
    case CONFIG_ERROR:
        FUZZ_CHECK(errlen == 0 || memchr(err, '\0', errlen) != NULL);
        FUZZ_CHECK(errlen < 2 || err[0] != '\0');
        break;
    default:
        FUZZ_CHECK(0);
    }
    free(err);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = fuzz_strdup(data, size);
    size_t n;
    char **lines = fuzz_split(in, '\n', &n);
    size_t nenv = 0;
    while (nenv < n && lines[nenv][0] != '-')
        nenv++;
    /* argv[0], the flag lines, NULL. */
    char **argv = malloc((n - nenv + 2) * sizeof *argv);
    char **env = malloc((nenv + 1) * sizeof *env);
    if (argv == NULL || env == NULL)
        abort();
    memcpy(env, lines, nenv * sizeof *env);
    env[nenv] = NULL;
    argv[0] = "sessionlab-app";
    memcpy(argv + 1, lines + nenv, (n - nenv) * sizeof *argv);
    int argc = (int)(n - nenv + 1);
    argv[argc] = NULL;

    run(argc, argv, env, FUZZ_OUT_MAX, FUZZ_ERR_MAX);
    run(argc, argv, env, size % 32, (size / 32) % 32);

    free(env);
    free(argv);
    free(lines);
    free(in);
    return 0;
}

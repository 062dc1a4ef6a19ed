#include <criterion/criterion.h>
#include <string.h>

#include "config.h"

static struct config cfg;
static char out[4096], err[1024];

static enum config_result load(char **argv, char **env)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    out[0] = err[0] = '\0';
    return config_load(&cfg, argc, argv, env, out, sizeof out, err, sizeof err);
}

#define ARGV(...) ((char *[]){"sessionlab-app", __VA_ARGS__, NULL})
#define NOARGS ((char *[]){"sessionlab-app", NULL})
#define ENV(...) ((char *[]){__VA_ARGS__, NULL})
#define NOENV ((char *[]){NULL})

Test(config, defaults)
{
    cr_assert_eq(load(NOARGS, NOENV), CONFIG_OK);
    cr_expect_str_eq(cfg.listen, "127.0.0.1:9000");
    cr_expect_str_eq(cfg.store, "memory");
    cr_expect_eq(cfg.redis.kind, REDIS_URL_TCP);
    cr_expect_str_eq(cfg.redis.host, "127.0.0.1");
    cr_expect_eq(cfg.redis.port, 6379);
    cr_expect_eq(cfg.redis_timeout_ms, 200);
    cr_expect_eq(cfg.ttl, 1800);
    cr_expect_eq(cfg.max_age, 0);
    cr_expect_str_eq(cfg.cookie_name, "SESSION");
    cr_expect_eq(cfg.cookie_secure, COOKIE_SECURE_AUTO);
    cr_expect_eq(cfg.workers, 2, "memory store default");
    cr_expect_eq(cfg.redis_connections, 1);
    cr_expect_eq(cfg.max_sessions, 40000);
    cr_expect_gt(strlen(cfg.instance), 0);
}

Test(config, the_default_workers_follow_the_store)
{
    cr_assert_eq(load(ARGV("--store", "redis"), NOENV), CONFIG_OK, "%s", err);
    cr_expect_eq(cfg.workers, 8);
    cr_assert_eq(load(ARGV("--store", "redis", "--workers", "3"), NOENV), CONFIG_OK, "%s", err);
    cr_expect_eq(cfg.workers, 3);
    cr_assert_eq(load(ARGV("--store", "memory"), ENV("SESSIONLAB_WORKERS=5")), CONFIG_OK, "%s", err);
    cr_expect_eq(cfg.workers, 5);
}

Test(config, env_then_flags_win)
{
    char **env = ENV("SESSIONLAB_STORE=redis", "SESSIONLAB_TTL=60", "SESSIONLAB_WORKERS=8",
                     "SESSIONLAB_INSTANCE=env-name", "OTHER=1");
    cr_assert_eq(load(ARGV("--ttl=90", "--instance", "flag-name"), env), CONFIG_OK, "%s", err);
    cr_expect_str_eq(cfg.store, "redis");
    cr_expect_eq(cfg.ttl, 90);
    cr_expect_eq(cfg.workers, 8);
    cr_expect_str_eq(cfg.instance, "flag-name");
}

Test(config, every_setting_has_a_flag)
{
    enum config_result r = load(ARGV("--listen", "unix:/tmp/s.sock", "--store", "redis",
                                     "--redis-url", "redis://:pw@db:6380/3",
                                     "--redis-timeout-ms", "50", "--redis-prefix", "p:",
                                     "--ttl", "5", "--cookie-name", "SID",
                                     "--cookie-secure", "always", "--workers", "2",
                                     "--max-sessions", "10", "--instance", "a-1"), NOENV);
    cr_assert_eq(r, CONFIG_OK, "%s", err);
    cr_expect_str_eq(cfg.listen, "unix:/tmp/s.sock");
    cr_expect_str_eq(cfg.redis.host, "db");
    cr_expect_eq(cfg.redis.port, 6380);
    cr_expect_eq(cfg.redis.db, 3);
    cr_expect_str_eq(cfg.redis.password, "pw");
    cr_expect_eq(cfg.redis_timeout_ms, 50);
    cr_expect_str_eq(cfg.redis_prefix, "p:");
    cr_expect_str_eq(cfg.cookie_name, "SID");
    cr_expect_eq(cfg.cookie_secure, COOKIE_SECURE_ALWAYS);
    cr_expect_eq(cfg.max_sessions, 10);
}

static void expect_error(char **argv, char **env, const char *names)
{
    cr_expect_eq(load(argv, env), CONFIG_ERROR, "accepted: %s", argv[1] ? argv[1] : env[0]);
    cr_expect(strstr(err, names) != NULL, "error '%s' does not name '%s'", err, names);
}

Test(config, max_age)
{
    cr_assert_eq(load(ARGV("--max-age", "28800"), NOENV), CONFIG_OK, "%s", err);
    cr_expect_eq(cfg.max_age, 28800);
    cr_assert_eq(load(NOARGS, ENV("SESSIONLAB_MAX_AGE=0")), CONFIG_OK, "%s", err);
    cr_expect_eq(cfg.max_age, 0);
}

Test(config, bad_values_name_the_setting)
{
    expect_error(ARGV("--store", "bogus"), NOENV, "--store");
    expect_error(NOARGS, ENV("SESSIONLAB_STORE=bogus"), "SESSIONLAB_STORE");
    expect_error(NOARGS, ENV("SESSIONLAB_TTL=0"), "SESSIONLAB_TTL");
    expect_error(NOARGS, ENV("SESSIONLAB_TTL=12x"), "SESSIONLAB_TTL");
    expect_error(NOARGS, ENV("SESSIONLAB_TTL=-5"), "SESSIONLAB_TTL");
    expect_error(NOARGS, ENV("SESSIONLAB_TTL=99999999999999999999"), "SESSIONLAB_TTL");
    expect_error(NOARGS, ENV("SESSIONLAB_WORKERS=0"), "SESSIONLAB_WORKERS");
    expect_error(NOARGS, ENV("SESSIONLAB_WORKERS=5000"), "SESSIONLAB_WORKERS");
    expect_error(NOARGS, ENV("SESSIONLAB_LISTEN=9000"), "SESSIONLAB_LISTEN");
    expect_error(NOARGS, ENV("SESSIONLAB_LISTEN=:0"), "SESSIONLAB_LISTEN");
    expect_error(NOARGS, ENV("SESSIONLAB_LISTEN=host:70000"), "SESSIONLAB_LISTEN");
    expect_error(NOARGS, ENV("SESSIONLAB_LISTEN=unix:relative"), "SESSIONLAB_LISTEN");
    expect_error(NOARGS, ENV("SESSIONLAB_REDIS_URL=http://x"), "SESSIONLAB_REDIS_URL");
    expect_error(NOARGS, ENV("SESSIONLAB_REDIS_TIMEOUT_MS=0"), "SESSIONLAB_REDIS_TIMEOUT_MS");
    expect_error(NOARGS, ENV("SESSIONLAB_REDIS_PREFIX=a b"), "SESSIONLAB_REDIS_PREFIX");
    /* Braces would change the keys' Redis Cluster hash tag. */
    expect_error(NOARGS, ENV("SESSIONLAB_REDIS_PREFIX=app{}:"), "SESSIONLAB_REDIS_PREFIX");
    expect_error(NOARGS, ENV("SESSIONLAB_REDIS_PREFIX=app{x}:"), "SESSIONLAB_REDIS_PREFIX");
    expect_error(NOARGS, ENV("SESSIONLAB_COOKIE_SECURE=autox"), "SESSIONLAB_COOKIE_SECURE");
    expect_error(NOARGS, ENV("SESSIONLAB_COOKIE_SECURE=aut"), "SESSIONLAB_COOKIE_SECURE");
    expect_error(NOARGS, ENV("SESSIONLAB_COOKIE_NAME=a;b"), "SESSIONLAB_COOKIE_NAME");
    expect_error(NOARGS, ENV("SESSIONLAB_COOKIE_NAME="), "SESSIONLAB_COOKIE_NAME");
    expect_error(NOARGS, ENV("SESSIONLAB_COOKIE_SECURE=yes"), "SESSIONLAB_COOKIE_SECURE");
    expect_error(NOARGS, ENV("SESSIONLAB_MAX_SESSIONS=0"), "SESSIONLAB_MAX_SESSIONS");
    expect_error(NOARGS, ENV("SESSIONLAB_MAX_AGE=-1"), "SESSIONLAB_MAX_AGE");
    expect_error(NOARGS, ENV("SESSIONLAB_MAX_AGE=8h"), "SESSIONLAB_MAX_AGE");
    expect_error(ARGV("--max-age=31536001"), NOENV, "--max-age");
    expect_error(NOARGS, ENV("SESSIONLAB_INSTANCE=<b>"), "SESSIONLAB_INSTANCE");
}

Test(config, bad_flags)
{
    expect_error(ARGV("--nope=1"), NOENV, "--nope");
    expect_error(ARGV("stray"), NOENV, "stray");
    expect_error(ARGV("--ttl"), NOENV, "--ttl");
}

Test(config, help_and_version)
{
    cr_assert_eq(load(ARGV("--help"), NOENV), CONFIG_EXIT_OK);
    cr_expect(strstr(out, "SESSIONLAB_REDIS_URL") != NULL);
    cr_expect(strstr(out, "--max-sessions") != NULL);
    cr_assert_eq(load(ARGV("--version"), NOENV), CONFIG_EXIT_OK);
    cr_expect(strstr(out, "sessionlab-app ") == out);
}

Test(config, describe_hides_password)
{
    cr_assert_eq(load(ARGV("--redis-url", "redis://u:secret@h:1/2"), NOENV), CONFIG_OK, "%s", err);
    char line[1024];
    config_describe(&cfg, line, sizeof line);
    cr_expect(strstr(line, "secret") == NULL, "%s", line);
    cr_expect(strstr(line, "auth=yes") != NULL, "%s", line);
}

/* Tests for redis_url.c: the accepted forms, their defaults and the errors. */
#include <criterion/criterion.h>
#include <string.h>

#include "redis_url.h"

static struct redis_url u;
static char err[256];

/* Parses text, expecting success. */
static void ok(const char *text)
{
    memset(&u, 0x55, sizeof u);
    err[0] = '\0';
    int rc = redis_url_parse(text, &u, err, sizeof err);
    cr_assert_eq(rc, 0, "'%s' refused: %s", text, err);
}

/* Parses text, expecting failure with a message containing want. */
static void bad(const char *text, const char *want)
{
    struct redis_url before;
    memset(&u, 0x55, sizeof u);
    memcpy(&before, &u, sizeof u);
    err[0] = '\0';
    int rc = redis_url_parse(text, &u, err, sizeof err);
    cr_assert_eq(rc, -1, "'%s' accepted", text);
    cr_assert(strstr(err, want) != NULL, "'%s': got '%s', want '%s'", text, err, want);
    cr_assert(memcmp(&before, &u, sizeof u) == 0, "'%s': out changed", text);
}

Test(redis_url, defaults)
{
    ok("redis://localhost");
    cr_assert_eq(u.kind, REDIS_URL_TCP);
    cr_assert_str_eq(u.host, "localhost");
    cr_assert_eq(u.port, 6379);
    cr_assert_eq(u.db, 0);
    cr_assert_str_eq(u.user, "");
    cr_assert_str_eq(u.password, "");
}

Test(redis_url, host_port_db)
{
    ok("redis://127.0.0.1:6380/3");
    cr_assert_str_eq(u.host, "127.0.0.1");
    cr_assert_eq(u.port, 6380);
    cr_assert_eq(u.db, 3);
    ok("redis://redis.default.svc.cluster.local:1/");
    cr_assert_eq(u.port, 1);
    cr_assert_eq(u.db, 0);
    ok("redis://h:65535/1000000");
    cr_assert_eq(u.port, 65535);
    cr_assert_eq(u.db, 1000000);
    ok("REDIS://H/0");
    cr_assert_str_eq(u.host, "H");
}

Test(redis_url, user_and_password)
{
    ok("redis://alice:s3cret@db:7000/2");
    cr_assert_str_eq(u.user, "alice");
    cr_assert_str_eq(u.password, "s3cret");
    cr_assert_str_eq(u.host, "db");
    cr_assert_eq(u.port, 7000);
    cr_assert_eq(u.db, 2);
}

Test(redis_url, password_only)
{
    ok("redis://:pw@127.0.0.1:6399/2");
    cr_assert_str_eq(u.user, "");
    cr_assert_str_eq(u.password, "pw");
    cr_assert_eq(u.db, 2);
}

Test(redis_url, empty_password_means_no_auth)
{
    ok("redis://:@h");
    cr_assert_str_eq(u.user, "");
    cr_assert_str_eq(u.password, "");
}

Test(redis_url, percent_decoding)
{
    ok("redis://us%65r:p%40ss%3Aw%2Fd%25@h");
    cr_assert_str_eq(u.user, "user");
    cr_assert_str_eq(u.password, "p@ss:w/d%");
    ok("redis://:a@b@h"); /* the last '@' ends the credentials */
    cr_assert_str_eq(u.password, "a@b");
    cr_assert_str_eq(u.host, "h");
}

Test(redis_url, bad_percent_escapes)
{
    bad("redis://:pw%4@h", "password has a bad percent-escape");
    bad("redis://:pw%zz@h", "password has a bad percent-escape");
    bad("redis://u%:pw@h", "user has a bad percent-escape");
    bad("redis://:a%00b@h", "must not contain %00");
}

Test(redis_url, ipv6_host)
{
    ok("redis://[::1]:6390/4");
    cr_assert_str_eq(u.host, "::1");
    cr_assert_eq(u.port, 6390);
    cr_assert_eq(u.db, 4);
    ok("redis://:pw@[2001:db8::7]");
    cr_assert_str_eq(u.host, "2001:db8::7");
    cr_assert_eq(u.port, 6379);
    bad("redis://[::1", "closing ']'");
    bad("redis://[nothex]:1", "not an IPv6 address");
    bad("redis://[::1]x", "unexpected text");
}

Test(redis_url, unix_socket)
{
    ok("unix:/run/redis/redis.sock");
    cr_assert_eq(u.kind, REDIS_URL_UNIX);
    cr_assert_str_eq(u.path, "/run/redis/redis.sock");
    cr_assert_eq(u.db, 0);
    ok("unix:/tmp/r.sock?db=5");
    cr_assert_str_eq(u.path, "/tmp/r.sock");
    cr_assert_eq(u.db, 5);
}

Test(redis_url, unix_errors)
{
    bad("unix:relative.sock", "must be absolute");
    bad("unix:", "must be absolute");
    bad("unix:/tmp/r.sock?database=1", "only ?db=N");
    bad("unix:/tmp/r.sock?db=", "db must be a non-negative integer");
    bad("unix:/tmp/r.sock?db=x", "db must be a non-negative integer");
    char long_path[200] = "unix:/";
    memset(long_path + 6, 'p', 150);
    long_path[156] = '\0';
    bad(long_path, "unix socket path is longer than");
}

Test(redis_url, bad_scheme)
{
    bad("http://localhost:6379",
        "unsupported scheme 'http' (use redis://, redis-sentinel://, redis-cluster:// or unix:)");
    bad("rediss://h", "TLS");
    bad("redis:h", "must start with redis://");
    bad("localhost:6379", "missing scheme");
    bad("localhost", "missing scheme");
    bad("", "empty");
}

Test(redis_url, bad_port)
{
    bad("redis://h:0", "port must be 1-65535");
    bad("redis://h:65536", "port must be 1-65535");
    bad("redis://h:abc", "port must be 1-65535");
    bad("redis://h:", "port must be 1-65535");
    bad("redis://h:-1", "port must be 1-65535");
    bad("redis://h:99999999999999999999", "port must be 1-65535");
}

Test(redis_url, bad_db)
{
    bad("redis://h/x", "db must be a non-negative integer");
    bad("redis://h/-1", "db must be a non-negative integer");
    bad("redis://h/1/2", "db must be a non-negative integer");
    bad("redis://h/1?x=1", "db must be a non-negative integer");
    bad("redis://h/1000001", "db must be an integer from 0 to 1000000");
    bad("redis://h/99999999999999999999", "from 0 to 1000000");
}

Test(redis_url, bad_host_and_credentials)
{
    bad("redis://", "host is missing");
    bad("redis://:pw@", "host is missing");
    bad("redis://h st", "host may contain only");
    bad("redis://user@h", "user:password@");
}

Test(redis_url, overlong_fields)
{
    char text[2048];
    strcpy(text, "redis://");
    memset(text + 8, 'h', 256);
    text[8 + 256] = '\0';
    bad(text, "host is longer than 255 bytes");

    strcpy(text, "redis://:");
    memset(text + 9, 'p', 256);
    strcpy(text + 9 + 256, "@h");
    bad(text, "password is longer than 255 bytes");

    memset(text, 'x', sizeof text - 1);
    memcpy(text, "redis://", 8);
    text[sizeof text - 1] = '\0';
    bad(text, "longer than 1023 bytes");
}

Test(redis_url, plain_urls_have_no_sentinels)
{
    ok("redis://h:1/2");
    cr_assert_eq(u.sentinel_n, 0);
    ok("unix:/tmp/r.sock");
    cr_assert_eq(u.sentinel_n, 0);
}

Test(redis_url, sentinel_list_master_db)
{
    ok("redis-sentinel://s1:26380,10.0.0.2,[::1]:26381/mymaster/3");
    cr_assert_eq(u.kind, REDIS_URL_TCP);
    cr_assert_eq(u.sentinel_n, 3);
    cr_assert_str_eq(u.sentinels[0].host, "s1");
    cr_assert_eq(u.sentinels[0].port, 26380);
    cr_assert_str_eq(u.sentinels[1].host, "10.0.0.2");
    cr_assert_eq(u.sentinels[1].port, 26379, "sentinel port defaults to 26379");
    cr_assert_str_eq(u.sentinels[2].host, "::1");
    cr_assert_eq(u.sentinels[2].port, 26381);
    cr_assert_str_eq(u.master_name, "mymaster");
    cr_assert_eq(u.db, 3);
    /* host/port mirror the first sentinel */
    cr_assert_str_eq(u.host, "s1");
    cr_assert_eq(u.port, 26380);
    cr_assert_str_eq(u.password, "");
}

Test(redis_url, sentinel_single_with_credentials)
{
    ok("REDIS-SENTINEL://app:p%40ss@127.0.0.1:26379/sessions.main-1");
    cr_assert_eq(u.sentinel_n, 1);
    cr_assert_str_eq(u.user, "app");
    cr_assert_str_eq(u.password, "p@ss");
    cr_assert_str_eq(u.master_name, "sessions.main-1");
    cr_assert_eq(u.db, 0);
    ok("redis-sentinel://h/m/");
    cr_assert_eq(u.db, 0);
    cr_assert_eq(u.sentinels[0].port, 26379);
}

Test(redis_url, sentinel_max_count)
{
    ok("redis-sentinel://a,b,c,d,e,f,g,h/m");
    cr_assert_eq(u.sentinel_n, REDIS_SENTINELS_MAX);
    cr_assert_str_eq(u.sentinels[7].host, "h");
    bad("redis-sentinel://a,b,c,d,e,f,g,h,i/m", "at most 8 sentinels");
}

Test(redis_url, sentinel_errors)
{
    bad("redis-sentinel://", "sentinel host is missing");
    bad("redis-sentinel://h", "master name is missing");
    bad("redis-sentinel://h/", "master name is missing");
    bad("redis-sentinel://h:1,,h:2/m", "sentinel host is missing");
    bad("redis-sentinel://h:1,/m", "sentinel host is missing");
    bad("redis-sentinel://,h/m", "sentinel host is missing");
    bad("redis-sentinel://h:0/m", "port must be 1-65535");
    bad("redis-sentinel://h:1,x y:2/m", "host may contain only");
    bad("redis-sentinel://h/m*", "master name may contain only");
    bad("redis-sentinel://h/m\r\nSHUTDOWN", "master name may contain only");
    bad("redis-sentinel://h/m/x", "db must be a non-negative integer");
    bad("redis-sentinel://h/m/1/2", "db must be a non-negative integer");
    bad("redis-sentinel://user@h/m", "user:password@");
    char text[512] = "redis-sentinel://h/";
    memset(text + 19, 'm', 128);
    text[19 + 128] = '\0';
    bad(text, "master name is longer than 127 bytes");
}

Test(redis_url, tiny_error_buffer)
{
    char small[8];
    cr_assert_eq(redis_url_parse("http://x", &u, small, sizeof small), -1);
    cr_assert_eq(strlen(small), sizeof small - 1);
    cr_assert_eq(redis_url_parse("http://x", &u, NULL, 0), -1);
}

Test(redis_url, cluster_seeds)
{
    ok("redis-cluster://:s3cret@10.0.0.1:7000,node-2:7001,[::1]:7002");
    cr_assert_eq(u.kind, REDIS_URL_TCP);
    cr_assert_eq(u.cluster_n, 3);
    cr_assert_eq(u.sentinel_n, 0);
    cr_assert_str_eq(u.cluster_seeds[0].host, "10.0.0.1");
    cr_assert_eq(u.cluster_seeds[0].port, 7000);
    cr_assert_str_eq(u.cluster_seeds[1].host, "node-2");
    cr_assert_str_eq(u.cluster_seeds[2].host, "::1");
    cr_assert_eq(u.cluster_seeds[2].port, 7002);
    cr_assert_str_eq(u.password, "s3cret");
    cr_assert_eq(u.db, 0);
    cr_assert_str_eq(u.host, "10.0.0.1", "host/port mirror the first seed");
    cr_assert_eq(u.port, 7000);
    ok("redis-cluster://h");
    cr_assert_eq(u.cluster_seeds[0].port, 6379, "a seed's port defaults to 6379");
    ok("redis-cluster://h:1/");
    cr_assert_eq(u.cluster_n, 1);
    ok("redis://h");
    cr_assert_eq(u.cluster_n, 0, "other forms have no seeds");
}

Test(redis_url, cluster_errors)
{
    bad("redis-cluster://", "seed node host is missing");
    bad("redis-cluster://h:1,,h:2", "seed node host is missing");
    bad("redis-cluster://h:1/0", "a Redis Cluster has no databases");
    bad("redis-cluster://h:1?db=1", "a Redis Cluster has no databases");
    bad("redis-cluster://h:99999", "port must be 1-65535");
    bad("redis-cluster://h:1,x y:2", "host may contain only");
    bad("redis-cluster://a,b,c,d,e,f,g,h,i", "at most 8 seed nodes");
    bad("redis-cluster://user@h:1", "credentials must be written");
}

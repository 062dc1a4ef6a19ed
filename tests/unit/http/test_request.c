#include <criterion/criterion.h>
#include <string.h>

#include "request.h"

static struct request rq;

#define PARAMS(...) ((char *[]){__VA_ARGS__, NULL})

Test(request, picks_the_fields)
{
    request_parse(&rq, PARAMS("REQUEST_METHOD=POST", "REQUEST_URI=/setSession?x=1",
                              "HTTP_HOST=127.0.0.1:8080", "HTTP_COOKIE=SESSION=abc",
                              "CONTENT_TYPE=application/x-www-form-urlencoded",
                              "CONTENT_LENGTH=12", "HTTP_ORIGIN=http://127.0.0.1:8080",
                              "HTTP_SEC_FETCH_SITE=same-origin", "HTTPS=on"));
    cr_expect_str_eq(rq.method, "POST");
    cr_expect_str_eq(rq.path, "/setSession");
    cr_expect_str_eq(rq.host, "127.0.0.1:8080");
    cr_expect_str_eq(rq.cookie, "SESSION=abc");
    cr_expect_eq(rq.content_length, 12);
    cr_expect(rq.secure);
    cr_expect_not(request_cross_site(&rq));
}

Test(request, absent_params_are_safe)
{
    request_parse(&rq, PARAMS("FOO=bar", "noequals", ""));
    cr_expect_str_eq(rq.method, "");
    cr_expect_str_eq(rq.path, "");
    cr_expect_null(rq.host);
    cr_expect_null(rq.cookie);
    cr_expect_eq(rq.content_length, 0);
    cr_expect_not(rq.secure);
    request_parse(&rq, NULL);
    cr_expect_str_eq(rq.method, "");
}

Test(request, prefixes_do_not_match)
{
    request_parse(&rq, PARAMS("HTTP_HOSTX=evil", "HTTP_COOKIE2=x", "HTTPS_X=on"));
    cr_expect_null(rq.host);
    cr_expect_null(rq.cookie);
    cr_expect_not(rq.secure);
}

Test(request, repeated_param_last_wins)
{
    request_parse(&rq, PARAMS("HTTP_HOST=a", "HTTP_HOST=b:8080"));
    cr_expect_str_eq(rq.host, "b:8080");
}

Test(request, content_length_validated)
{
    request_parse(&rq, PARAMS("CONTENT_LENGTH=-1"));
    cr_expect_eq(rq.content_length, -1);
    request_parse(&rq, PARAMS("CONTENT_LENGTH=99999999999999999999"));
    cr_expect_eq(rq.content_length, -1);
    request_parse(&rq, PARAMS("CONTENT_LENGTH=12a"));
    cr_expect_eq(rq.content_length, -1);
}

Test(request, secure_from_forwarded_proto)
{
    request_parse(&rq, PARAMS("HTTP_X_FORWARDED_PROTO=HTTPS"));
    cr_expect(rq.secure);
    request_parse(&rq, PARAMS("HTTP_X_FORWARDED_PROTO=http", "HTTPS=off"));
    cr_expect_not(rq.secure);
}

Test(request, long_path_flagged)
{
    static char uri[5000] = "REQUEST_URI=/";
    memset(uri + 13, 'a', sizeof uri - 14);
    request_parse(&rq, PARAMS(uri));
    cr_expect(rq.path_too_long);
    cr_expect_str_eq(rq.path, "");
}

static bool cross(const char *host, const char *origin, const char *site)
{
    memset(&rq, 0, sizeof rq);
    rq.host = host;
    rq.origin = origin;
    rq.fetch_site = site;
    return request_cross_site(&rq);
}

Test(request, cross_site_rules)
{
    cr_expect_not(cross("127.0.0.1:8080", NULL, NULL), "no Origin: curl, old clients");
    cr_expect_not(cross("127.0.0.1:8080", "http://127.0.0.1:8080", "same-origin"));
    cr_expect_not(cross("example.com", "https://example.com", NULL));
    cr_expect_not(cross("example.com:443", "https://example.com", NULL));
    cr_expect_not(cross("Example.COM", "http://example.com", NULL));
    cr_expect_not(cross("127.0.0.1", "http://127.0.0.1:8080", NULL), "Host without port");
    cr_expect_not(cross("[::1]", "http://[::1]:8080", NULL));
    cr_expect(cross("127.0.0.1:8080", "http://evil.example", NULL));
    cr_expect(cross("127.0.0.1:8080", "http://127.0.0.1:9999", NULL));
    cr_expect(cross("example.com", "http://example.com.evil.net", NULL));
    cr_expect(cross("example.com", "http://evil.net/example.com", NULL));
    cr_expect(cross("example.com", "null", NULL));
    cr_expect(cross("example.com", "ftp://example.com", NULL));
    cr_expect(cross(NULL, "http://example.com", NULL));
    cr_expect(cross("example.com", NULL, "cross-site"));
    cr_expect(cross("example.com:80", "http://example.com:8080", NULL));
    cr_expect(cross("127.0.0.1", "http://127.0.0.1:8080.evil.example", NULL),
              "Host without port: the Origin's port part must be a port");
    cr_expect(cross("127.0.0.1", "http://127.0.0.1:", NULL));
    cr_expect(cross("[::1]", "http://[::1]x", NULL));
}

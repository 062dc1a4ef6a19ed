#include <criterion/criterion.h>
#include <string.h>

#include "escape.h"

#define FFFD "\xef\xbf\xbd"

static char mem[4096];
static struct buf b;

static const char *html(const char *s, size_t n)
{
    buf_init(&b, mem, sizeof mem);
    escape_html(&b, s, n);
    cr_assert_not(b.overflow);
    return mem;
}

static const char *json(const char *s, size_t n)
{
    buf_init(&b, mem, sizeof mem);
    escape_json(&b, s, n);
    cr_assert_not(b.overflow);
    return mem;
}

#define H(lit) html((lit), sizeof(lit) - 1)
#define J(lit) json((lit), sizeof(lit) - 1)

Test(escape_html, specials)
{
    cr_assert_str_eq(H("&"), "&amp;");
    cr_assert_str_eq(H("<"), "&lt;");
    cr_assert_str_eq(H(">"), "&gt;");
    cr_assert_str_eq(H("\""), "&quot;");
    cr_assert_str_eq(H("'"), "&#39;");
    cr_assert_str_eq(H("<script>alert('x&y')</script>"),
                     "&lt;script&gt;alert(&#39;x&amp;y&#39;)&lt;/script&gt;");
}

Test(escape_html, plain_unchanged)
{
    cr_assert_str_eq(H("hello world /=;:\\"), "hello world /=;:\\");
    cr_assert_str_eq(H(""), "");
    cr_assert_str_eq(H("a\nb\tc"), "a\nb\tc");
}

Test(escape_html, multibyte_unchanged)
{
    const char *s = "\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xed\x9f\xbf "
                    "\xee\x80\x80 \xf4\x8f\xbf\xbf \xc2\x80 \xe0\xa0\x80 "
                    "\xf0\x90\x80\x80";
    cr_assert_str_eq(html(s, strlen(s)), s);
}

Test(escape_html, nul_replaced)
{
    cr_assert_str_eq(H("a\0b"), "a" FFFD "b");
}

Test(escape_html, invalid_bytes_replaced)
{
    cr_assert_str_eq(H("\xff"), FFFD);
    cr_assert_str_eq(H("\xfe"), FFFD);
    cr_assert_str_eq(H("\x80"), FFFD);
    cr_assert_str_eq(H("a\xbf" "b"), "a" FFFD "b");
    cr_assert_str_eq(H("\xf5\x80\x80\x80"), FFFD FFFD FFFD FFFD);
}

Test(escape_html, truncated_sequences)
{
    cr_assert_str_eq(H("\xc3"), FFFD);
    cr_assert_str_eq(H("\xe2\x82"), FFFD FFFD);
    cr_assert_str_eq(H("\xe2\x82<"), FFFD FFFD "&lt;");
    cr_assert_str_eq(H("\xf0\x9f\x98"), FFFD FFFD FFFD);
    cr_assert_str_eq(H("\xc3" "A"), FFFD "A");
}

Test(escape_html, overlongs_replaced)
{
    cr_assert_str_eq(H("\xc0\xbc"), FFFD FFFD);       /* '<' */
    cr_assert_str_eq(H("\xc1\xbf"), FFFD FFFD);
    cr_assert_str_eq(H("\xe0\x80\xbc"), FFFD FFFD FFFD);
    cr_assert_str_eq(H("\xe0\x9f\xbf"), FFFD FFFD FFFD);
    cr_assert_str_eq(H("\xf0\x80\x80\xbc"), FFFD FFFD FFFD FFFD);
    cr_assert_str_eq(H("\xf0\x8f\xbf\xbf"), FFFD FFFD FFFD FFFD);
    cr_assert_str_eq(H("\xc0\x80"), FFFD FFFD);       /* NUL */
}

Test(escape_html, surrogates_replaced)
{
    cr_assert_str_eq(H("\xed\xa0\x80"), FFFD FFFD FFFD);
    cr_assert_str_eq(H("\xed\xbf\xbf"), FFFD FFFD FFFD);
    cr_assert_str_eq(H("\xed\xa0\xbd\xed\xb8\x80"),
                     FFFD FFFD FFFD FFFD FFFD FFFD);
}

Test(escape_html, above_max_replaced)
{
    cr_assert_str_eq(H("\xf4\x90\x80\x80"), FFFD FFFD FFFD FFFD);
    cr_assert_str_eq(H("\xf7\xbf\xbf\xbf"), FFFD FFFD FFFD FFFD);
}

Test(escape_html, output_is_valid_for_every_byte)
{
    for (int c = 0; c < 256; c++) {
        char s[1] = {(char)c};
        const char *out = html(s, 1);
        if (c >= 0x80 || c == 0)
            cr_assert_str_eq(out, FFFD, "byte %02x", c);
        else
            cr_assert_neq(out[0], '\0');
    }
}

Test(escape_html, overflow_flag)
{
    char small[8];
    struct buf sb;
    buf_init(&sb, small, sizeof small);
    escape_html(&sb, "<<<", 3);
    cr_assert(sb.overflow);
}

Test(escape_json, specials)
{
    cr_assert_str_eq(J("\""), "\\\"");
    cr_assert_str_eq(J("\\"), "\\\\");
    cr_assert_str_eq(J("\b"), "\\b");
    cr_assert_str_eq(J("\f"), "\\f");
    cr_assert_str_eq(J("\n"), "\\n");
    cr_assert_str_eq(J("\r"), "\\r");
    cr_assert_str_eq(J("\t"), "\\t");
    cr_assert_str_eq(J("say \"hi\"\n"), "say \\\"hi\\\"\\n");
}

Test(escape_json, controls)
{
    cr_assert_str_eq(J("\x01"), "\\u0001");
    cr_assert_str_eq(J("\x1f"), "\\u001f");
    cr_assert_str_eq(J("\x0b"), "\\u000b");
    cr_assert_str_eq(J("\x1b[31m"), "\\u001b[31m");
    cr_assert_str_eq(J("\x7f"), "\\u007f");
}

Test(escape_json, all_low_controls_escaped)
{
    for (int c = 1; c < 0x20; c++) {
        char s[1] = {(char)c};
        const char *out = json(s, 1);
        cr_assert_eq(out[0], '\\', "byte %02x", c);
        for (const char *p = out; *p; p++)
            cr_assert_geq((unsigned char)*p, 0x20);
    }
}

Test(escape_json, html_chars_and_slash_unchanged)
{
    cr_assert_str_eq(J("<a href='x'>&</a>"), "<a href='x'>&</a>");
}

Test(escape_json, line_separators)
{
    cr_assert_str_eq(J("\xe2\x80\xa8"), "\\u2028");
    cr_assert_str_eq(J("\xe2\x80\xa9"), "\\u2029");
    cr_assert_str_eq(J("a\xe2\x80\xa8" "b"), "a\\u2028b");
    cr_assert_str_eq(J("\xe2\x80\xa7\xe2\x80\xaa"), "\xe2\x80\xa7\xe2\x80\xaa");
}

Test(escape_json, multibyte_unchanged)
{
    const char *s = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf";
    cr_assert_str_eq(json(s, strlen(s)), s);
}

Test(escape_json, nul_replaced)
{
    cr_assert_str_eq(J("\0"), FFFD);
    cr_assert_str_eq(J("x\0y"), "x" FFFD "y");
}

Test(escape_json, invalid_replaced)
{
    cr_assert_str_eq(J("\xc0\xa2"), FFFD FFFD);
    cr_assert_str_eq(J("\xed\xa0\x80"), FFFD FFFD FFFD);
    cr_assert_str_eq(J("\xf4\x90\x80\x80"), FFFD FFFD FFFD FFFD);
    cr_assert_str_eq(J("\xe2\x80"), FFFD FFFD);
    cr_assert_str_eq(J("\xe2\x80\""), FFFD FFFD "\\\"");
    cr_assert_str_eq(J("\xff\\"), FFFD "\\\\");
}

Test(escape_json, overflow_flag)
{
    char small[6];
    struct buf sb;
    buf_init(&sb, small, sizeof small);
    escape_json(&sb, "\x01", 1);
    cr_assert(sb.overflow);
    buf_init(&sb, small, sizeof small);
    escape_json(&sb, "abcde", 5);
    cr_assert_not(sb.overflow);
    cr_assert_str_eq(small, "abcde");
}

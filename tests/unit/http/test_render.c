/* Tests for the session page and its JSON (render.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "bounds.h"
#include "buf.h"
#include "render.h"

static struct session s;        /* large: off the stack */
static char mem[RESPONSE_MAX];
static char text[RESPONSE_MAX + 1];

static const char *page(const char *store)
{
    struct buf b;
    buf_init(&b, mem, sizeof mem);
    render_page(&b, &s, "pod-a", store);
    cr_assert_not(b.overflow, "the page overflowed RESPONSE_MAX");
    memcpy(text, b.data, b.len);
    text[b.len] = '\0';
    return text;
}

static const char *json(void)
{
    struct buf b;
    buf_init(&b, mem, sizeof mem);
    render_json(&b, &s, "pod-a", "memory");
    cr_assert_not(b.overflow);
    memcpy(text, b.data, b.len);
    text[b.len] = '\0';
    return text;
}

static void fill(const char *user, const int cart[CART_ITEMS])
{
    memset(&s, 0, sizeof s);
    strcpy(s.id, "0123456789abcdef0123456789abcdef");
    s.count = 3;
    snprintf(s.user, sizeof s.user, "%s", user);
    if (cart)
        memcpy(s.cart, cart, sizeof s.cart);
    s.served_n = 1;
    strcpy(s.served_by[0], "pod-a");
}

Test(render, logged_out_page_has_the_login_form_and_an_empty_cart)
{
    fill("", NULL);
    const char *p = page("memory");
    cr_assert(strstr(p, "<dd id=\"user\">-</dd>"), "%s", p);
    cr_assert(strstr(p, "id=\"login-form\""));
    cr_assert(strstr(p, "name=\"user\""));
    cr_assert(strstr(p, ">Log in</button>"));
    cr_assert_null(strstr(p, "logout-form"));
    cr_assert(strstr(p, "<ul id=\"cart\"><li class=\"empty\">empty</li></ul>"));
    cr_assert_null(strstr(p, "data-item="));
}

Test(render, logged_in_page_names_the_user_and_lists_the_cart)
{
    int cart[CART_ITEMS] = {2, 0, 1, 0, 0, 0};
    fill("alice", cart);
    const char *p = page("memory");
    cr_assert(strstr(p, "<dd id=\"user\">alice</dd>"));
    cr_assert(strstr(p, "Logged in as <strong>alice</strong>"));
    cr_assert(strstr(p, "id=\"logout-form\""));
    cr_assert(strstr(p, ">Log out</button>"));
    cr_assert(strstr(p, "name=\"all\" value=\"1\">Log out everywhere</button>"));
    cr_assert(strstr(p, "With the memory store this ends only the sessions this replica holds."));
    cr_assert_null(strstr(p, "login-form"));
    cr_assert(strstr(p, "<li data-item=\"apple\">apple \xc3\x97 2</li><li data-item=\"milk\">milk \xc3\x97 1</li></ul>"), "%s", p);
    for (const char *const *n = (const char *const[]){"apple", "bread", "milk", "eggs", "cheese", "coffee", NULL}; *n; n++) {
        char want[64];
        snprintf(want, sizeof want, "name=\"item\" value=\"%s\">", *n);
        cr_assert(strstr(p, want), "%s", want);
        snprintf(want, sizeof want, "id=\"add-%s\"", *n);
        cr_assert(strstr(p, want), "%s", want);
        snprintf(want, sizeof want, "id=\"remove-%s\"", *n);
        cr_assert(strstr(p, want), "%s", want);
    }
}

Test(render, the_redis_page_has_no_memory_note)
{
    fill("alice", NULL);
    cr_assert_null(strstr(page("redis"), "With the memory store"));
}

Test(render, a_user_name_is_escaped)
{
    fill("<b>&\"'", NULL); /* never valid, but render must not trust that */
    const char *p = page("memory");
    cr_assert(strstr(p, "&lt;b&gt;&amp;&quot;&#39;"), "%s", p);
    cr_assert_null(strstr(p, "<b>&"));
    const char *j = json();
    cr_assert(strstr(j, "\"user\":\"<b>&\\\"'\""), "%s", j);
}

Test(render, the_largest_page_fits_the_response_buffer)
{
    int cart[CART_ITEMS] = {99, 99, 99, 99, 99, 99};
    const char *worst[] = {"\"", "<", "'", "\xff", "\x01"};
    for (size_t w = 0; w < sizeof worst / sizeof worst[0]; w++) {
        fill("abcdefghijklmnopqrstuvwxyzABCDEF", cart);
        memset(s.value, worst[w][0], VALUE_MAX);
        s.value[VALUE_MAX] = '\0';
        s.value_len = VALUE_MAX;
        s.has_value = true;
        s.served_n = SERVED_MAX;
        for (int i = 0; i < SERVED_MAX; i++)
            memset(s.served_by[i], '"', INSTANCE_MAX);
        page("memory");
        json();
    }
}

Test(render, json_places_user_and_cart_after_value_and_date)
{
    int cart[CART_ITEMS] = {2, 0, 1, 0, 0, 3};
    fill("alice", cart);
    cr_assert(strstr(json(), "\"value\":null,\"date\":null,\"user\":\"alice\","
                             "\"cart\":[{\"item\":\"apple\",\"qty\":2},{\"item\":\"milk\",\"qty\":1},"
                             "{\"item\":\"coffee\",\"qty\":3}],\"store\":\"memory\""), "%s", text);
    fill("", NULL);
    cr_assert(strstr(json(), "\"date\":null,\"user\":null,\"cart\":[],\"store\":"), "%s", text);
}

#include <criterion/criterion.h>
#include <string.h>

#include "buf.h"

Test(buf, init_is_empty)
{
    char mem[8] = "garbage";
    struct buf b;
    buf_init(&b, mem, sizeof mem);
    cr_assert_eq(b.len, 0);
    cr_assert_not(b.overflow);
    cr_assert_str_eq(mem, "");
}

Test(buf, add_and_puts_append)
{
    char mem[32];
    struct buf b;
    buf_init(&b, mem, sizeof mem);
    buf_add(&b, "abc", 3);
    buf_puts(&b, "de");
    buf_putc(&b, 'f');
    buf_add(&b, "", 0);
    cr_assert_eq(b.len, 6);
    cr_assert_str_eq(mem, "abcdef");
    cr_assert_not(b.overflow);
}

Test(buf, exact_fit_leaves_room_for_nul)
{
    char mem[5];
    struct buf b;
    buf_init(&b, mem, sizeof mem);
    buf_add(&b, "abcd", 4);
    cr_assert_not(b.overflow);
    cr_assert_eq(b.len, 4);
    cr_assert_str_eq(mem, "abcd");
}

Test(buf, one_more_overflows_and_is_dropped)
{
    char mem[5];
    struct buf b;
    buf_init(&b, mem, sizeof mem);
    buf_add(&b, "abcde", 5);
    cr_assert(b.overflow);
    cr_assert_eq(b.len, 0);
    cr_assert_str_eq(mem, "");
}

Test(buf, overflow_is_sticky)
{
    char mem[8];
    struct buf b;
    buf_init(&b, mem, sizeof mem);
    buf_puts(&b, "abc");
    buf_puts(&b, "defghijk");
    cr_assert(b.overflow);
    buf_putc(&b, 'x');
    buf_printf(&b, "%d", 1);
    cr_assert(b.overflow);
    cr_assert_eq(b.len, 3);
    cr_assert_str_eq(mem, "abc");
}

Test(buf, putc_fills_to_cap_minus_one)
{
    char mem[4];
    struct buf b;
    buf_init(&b, mem, sizeof mem);
    buf_putc(&b, 'a');
    buf_putc(&b, 'b');
    buf_putc(&b, 'c');
    cr_assert_not(b.overflow);
    buf_putc(&b, 'd');
    cr_assert(b.overflow);
    cr_assert_str_eq(mem, "abc");
}

Test(buf, printf_formats)
{
    char mem[32];
    struct buf b;
    buf_init(&b, mem, sizeof mem);
    buf_puts(&b, "n=");
    buf_printf(&b, "%d %s", 42, "x");
    cr_assert_not(b.overflow);
    cr_assert_eq(b.len, 6);
    cr_assert_str_eq(mem, "n=42 x");
}

Test(buf, printf_exact_fit)
{
    char mem[6];
    struct buf b;
    buf_init(&b, mem, sizeof mem);
    buf_printf(&b, "%05d", 12);
    cr_assert_not(b.overflow);
    cr_assert_str_eq(mem, "00012");
}

Test(buf, printf_overflow_keeps_old_content)
{
    char mem[8];
    struct buf b;
    buf_init(&b, mem, sizeof mem);
    buf_puts(&b, "ab");
    buf_printf(&b, "%s", "cdefgh");
    cr_assert(b.overflow);
    cr_assert_eq(b.len, 2);
    cr_assert_str_eq(mem, "ab");
}

Test(buf, reset_clears_overflow)
{
    char mem[4];
    struct buf b;
    buf_init(&b, mem, sizeof mem);
    buf_puts(&b, "toolong");
    cr_assert(b.overflow);
    buf_reset(&b);
    cr_assert_not(b.overflow);
    cr_assert_eq(b.len, 0);
    buf_puts(&b, "ok");
    cr_assert_str_eq(mem, "ok");
}

Test(buf, zero_cap_add_overflows)
{
    char mem[1] = {'z'};
    struct buf b;
    buf_init(&b, mem, 0);
    buf_add(&b, "", 0);
    cr_assert(b.overflow);
    cr_assert_eq(mem[0], 'z');
}

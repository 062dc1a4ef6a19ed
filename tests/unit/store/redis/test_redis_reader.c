/*
 * The bounded reply reader (redis_reader.c): an array count beyond
 * REDIS_REPLY_ARRAY_MAX is a read error, not an allocation (hiredis 0.14
 * callocs the element table on the count alone: fuzz_cluster_map's
 * "*1000000000" needed 8 GB); counts up to the bound read as before.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "redis_reader.h"

static int read_one(redisReader *r, const char *bytes, void **out)
{
    redisReaderFeed(r, bytes, strlen(bytes));
    return redisReaderGetReply(r, out);
}

Test(redis_reader, a_huge_array_count_is_refused_before_any_allocation)
{
    redisReader *r = redisReaderCreate();
    redis_reader_bound(r);
    void *reply = NULL;
    cr_assert_eq(read_one(r, "*1000000000\r\n:1\r\n", &reply), REDIS_ERR);
    cr_assert_null(reply);
    cr_assert(r->err != 0);
    redisReaderFree(r);
}

Test(redis_reader, nested_counts_past_the_bound_are_refused_too)
{
    redisReader *r = redisReaderCreate();
    redis_reader_bound(r);
    void *reply = NULL;
    cr_assert_eq(read_one(r, "*1\r\n*65537\r\n", &reply), REDIS_ERR);
    redisReaderFree(r);
}

Test(redis_reader, replies_within_the_bound_read_as_before)
{
    redisReader *r = redisReaderCreate();
    redis_reader_bound(r);
    void *reply = NULL;
    cr_assert_eq(read_one(r, "*2\r\n$3\r\nfoo\r\n:7\r\n", &reply), REDIS_OK);
    redisReply *rep = reply;
    cr_assert_eq(rep->type, REDIS_REPLY_ARRAY);
    cr_assert_eq(rep->elements, 2);
    cr_assert_str_eq(rep->element[0]->str, "foo");
    cr_assert_eq(rep->element[1]->integer, 7);
    freeReplyObject(rep);
    /* The bound itself is allowed: 65536 empty arrays. */
    static char big[16 + 65536 * 4 + 1];
    int n = snprintf(big, sizeof big, "*65536\r\n");
    for (int i = 0; i < 65536; i++)
        memcpy(big + n + i * 4, "*0\r\n", 4);
    reply = NULL;
    cr_assert_eq(read_one(r, big, &reply), REDIS_OK);
    cr_assert_eq(((redisReply *)reply)->elements, 65536);
    freeReplyObject(reply);
    redisReaderFree(r);
}

Test(redis_reader, an_unbounded_reader_would_have_tried)
{
    /* The case the bound exists for: hiredis alone accepts the count (and
     * would calloc 8 GB for it once elements follow; here none do). */
    redisReader *r = redisReaderCreate();
    void *reply = NULL;
    cr_assert_eq(read_one(r, "*1000\r\n", &reply), REDIS_OK, "a count alone is no error");
    cr_assert_null(reply, "the reply waits for its elements");
    redisReaderFree(r);
}

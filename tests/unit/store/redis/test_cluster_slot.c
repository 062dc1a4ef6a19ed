/*
 * Key slots against the Redis Cluster specification: its CRC16 check
 * value, its hash-tag examples, and slots a real redis-server 7.0 gave
 * for CLUSTER KEYSLOT (checked when these tests were written).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "cluster_slot.h"

static unsigned slot(const char *key)
{
    return cluster_key_slot(key, strlen(key));
}

Test(cluster_slot, crc16_check_value_of_the_spec)
{
    /* "The CRC16 ... output for "123456789" is 31C3" (cluster spec). */
    cr_assert_eq(cluster_crc16("123456789", 9), 0x31C3);
    cr_assert_eq(cluster_crc16("", 0), 0);
}

Test(cluster_slot, slots_redis_server_gives)
{
    cr_assert_eq(slot("123456789"), 12739);
    cr_assert_eq(slot("foo"), 12182);
    cr_assert_eq(slot("{user1000}.following"), 3443);
}

Test(cluster_slot, hash_tags_as_the_spec_defines_them)
{
    /* Same tag, same slot. */
    cr_assert_eq(slot("{user1000}.following"), slot("{user1000}.followers"));
    cr_assert_eq(slot("{user1000}.following"), slot("user1000"));
    /* "foo{}{bar}": the first {} is empty, so the whole key is hashed. */
    cr_assert_eq(slot("foo{}{bar}"), 8363);
    cr_assert_eq(slot("foo{}{bar}"), cluster_crc16("foo{}{bar}", 10) % 16384);
    /* "foo{{bar}}zap": the tag is "{bar". */
    cr_assert_eq(slot("foo{{bar}}zap"), 4015);
    cr_assert_eq(slot("foo{{bar}}zap"), slot("{bar"));
    /* "foo{bar}{zap}": the tag is "bar". */
    cr_assert_eq(slot("foo{bar}{zap}"), 5061);
    cr_assert_eq(slot("foo{bar}{zap}"), slot("bar"));
    /* An unclosed brace: the whole key. */
    cr_assert_eq(slot("foo{bar"), cluster_crc16("foo{bar", 7) % 16384);
}

Test(cluster_slot, a_session_and_its_rotated_id_share_a_slot)
{
    /* Session keys are prefix{tag}id with the id's first 4 hex digits. */
    cr_assert_eq(slot("sessionlab:session:{1dcf}1dcfd4b91e454f5a9bcfc36c7fbeb771"),
                 slot("sessionlab:session:{1dcf}1dcf34503402828932fc4cd6c5d85b21"));
    cr_assert_neq(slot("sessionlab:session:{1dcf}1dcfd4b91e454f5a9bcfc36c7fbeb771"),
                  slot("sessionlab:session:{9e0a}9e0a34503402828932fc4cd6c5d85b21"));
}

Test(cluster_slot, every_slot_is_in_range)
{
    char key[16];
    for (int i = 0; i < 100000; i++) {
        int n = snprintf(key, sizeof key, "k%d", i);
        cr_assert_lt(cluster_key_slot(key, (size_t)n), 16384u);
    }
    cr_assert_lt(cluster_key_slot("\xff\xff\xff", 3), 16384u);
}

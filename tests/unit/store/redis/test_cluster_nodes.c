/*
 * The Redis Cluster node table (cluster_nodes.c): entries are added up to
 * CLUSTER_NODES_MAX, retired when a slot map no longer names them, revived
 * when named again, and reused for a new address only after the grace
 * period. Nothing connects: connections are made on first use.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "cluster_nodes.h"

static void setup(void)
{
    struct redis_url u;
    memset(&u, 0, sizeof u);
    u.kind = REDIS_URL_TCP;
    u.cluster_n = 1;
    strcpy(u.cluster_seeds[0].host, "10.0.0.1");
    u.cluster_seeds[0].port = 7000;
    cr_assert_eq(cluster_nodes_init(&u, 2, 100), 0);
    cluster_nodes_set_grace_ms(50);
}

static void teardown(void)
{
    cluster_nodes_fini();
}

TestSuite(cluster_nodes, .init = setup, .fini = teardown);

static void nap(int ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

Test(cluster_nodes, the_seed_is_entry_0_and_an_address_keeps_its_entry)
{
    cr_assert_eq(cluster_nodes_count(), 1);
    cr_assert_eq(cluster_nodes_index("10.0.0.1", 7000), 0);
    int i = cluster_nodes_index("10.0.0.2", 7000);
    cr_assert_eq(i, 1);
    cr_assert_eq(cluster_nodes_index("10.0.0.2", 7000), 1);
    cr_assert_str_eq(cluster_nodes_at(1)->where, "10.0.0.2:7000");
    cr_assert_eq(cluster_nodes_index("10.0.0.2", 7001), 2, "another port, another node");
}

Test(cluster_nodes, a_full_table_refuses_until_an_unmapped_entry_has_waited)
{
    char host[32];
    for (int i = 1; i < CLUSTER_NODES_MAX; i++) {
        snprintf(host, sizeof host, "10.1.0.%d", i);
        cr_assert_eq(cluster_nodes_index(host, 7000), i);
    }
    cr_assert_eq(cluster_nodes_index("10.2.0.1", 7000), -1, "full");
    bool in_map[CLUSTER_NODES_MAX] = {false};
    in_map[5] = true;
    cluster_nodes_retire_unmapped(in_map);
    cr_assert_eq(cluster_nodes_index("10.2.0.1", 7000), -1, "retired, but not for long enough");
    nap(80);
    int i = cluster_nodes_index("10.2.0.1", 7000);
    cr_assert(i >= 1 && i < CLUSTER_NODES_MAX && i != 5, "reused entry %d (not the seed's, not a mapped one)", i);
    cr_assert_str_eq(cluster_nodes_at(i)->where, "10.2.0.1:7000");
    cr_assert_eq(cluster_nodes_index("10.0.0.1", 7000), 0, "the seed is never retired");
    cr_assert_eq(cluster_nodes_index("10.1.0.5", 7000), 5, "the mapped node kept its entry");
}

Test(cluster_nodes, a_retired_node_named_again_is_revived_not_reused)
{
    char host[32];
    for (int i = 1; i < CLUSTER_NODES_MAX; i++) {
        snprintf(host, sizeof host, "10.1.0.%d", i);
        cluster_nodes_index(host, 7000);
    }
    bool in_map[CLUSTER_NODES_MAX] = {false};
    cluster_nodes_retire_unmapped(in_map);
    for (int i = 2; i < CLUSTER_NODES_MAX; i++) { /* a MOVED names them again */
        snprintf(host, sizeof host, "10.1.0.%d", i);
        cr_assert_eq(cluster_nodes_index(host, 7000), i);
    }
    nap(80);
    cr_assert_eq(cluster_nodes_index("10.3.0.1", 7000), 1, "only the one left retired is reused");
    cr_assert_eq(cluster_nodes_index("10.3.0.2", 7000), -1);
}

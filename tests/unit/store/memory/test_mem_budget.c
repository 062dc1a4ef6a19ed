#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounds.h"
#include "config.h"
#include "mem_budget.h"
#include "memtable.h"

#define MIB (1LL << 20)

Test(mem_budget, a_session_costs_its_largest_value_plus_a_little)
{
    long long b = mem_budget_session_bytes();
    cr_assert_geq(b, VALUE_MAX + 64);
    /* The entry (user links, cart) and, at worst, a user index node of its
     * own: a few hundred bytes beside the value. */
    cr_assert_leq(b, VALUE_MAX + 320, "%lld", b);
}

Test(mem_budget, a_session_counts_its_entry_value_and_user_node)
{
    long long b = mem_budget_session_bytes();
    long long parts = (long long)sizeof(struct memtable_entry) + (long long)sizeof(struct memtable_value) + VALUE_MAX +
                      (long long)sizeof(struct memuser_node);
    cr_assert_geq(b, parts, "%lld < %lld", b, parts);
}

Test(mem_budget, the_default_cap_fits_75_percent_of_the_pods_256_mib)
{
    struct config cfg;
    char *argv[] = {"sessionlab-app", NULL}, *env[] = {NULL}, out[64], err[256];
    cr_assert_eq(config_load(&cfg, 1, argv, env, out, sizeof out, err, sizeof err), CONFIG_OK, "%s", err);
    char why[400] = "";
    cr_assert(mem_budget_fits(cfg.max_sessions, 256 * MIB, why, sizeof why), "%s", why);
    cr_assert_leq(cfg.max_sessions * mem_budget_session_bytes() + MEM_BUDGET_BASE_BYTES,
                  256 * MIB * MEM_BUDGET_PERCENT / 100);
}

Test(mem_budget, the_old_cap_of_100000_does_not_and_the_sentence_names_the_fix)
{
    char why[400] = "";
    cr_assert_not(mem_budget_fits(100000, 256 * MIB, why, sizeof why));
    long fit = mem_budget_max_sessions(256 * MIB);
    char want[64];
    snprintf(want, sizeof want, "SESSIONLAB_MAX_SESSIONS to at most %ld", fit);
    cr_assert(strstr(why, want), "%s", why);
    cr_assert(strstr(why, "256 MiB"), "%s", why);
}

Test(mem_budget, no_limit_always_fits_and_a_tiny_one_fits_nothing)
{
    char why[400];
    cr_assert(mem_budget_fits(100000000, -1, why, sizeof why));
    cr_assert_eq(mem_budget_max_sessions(4 * MIB), 0);
}

static char dir[] = "/tmp/sl-cgroup-XXXXXX";

static void put(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(text, f);
    fclose(f);
}

Test(mem_budget, reads_cgroup_v2_then_v1_and_max_is_no_limit)
{
    cr_assert(mkdtemp(dir));
    cr_assert_eq(mem_budget_cgroup_limit(dir), -1, "nothing there");
    char v1[300];
    snprintf(v1, sizeof v1, "%s/memory", dir);
    cr_assert_eq(mkdir(v1, 0700), 0);
    put("memory/memory.limit_in_bytes", "9223372036854771712\n");
    cr_assert_eq(mem_budget_cgroup_limit(dir), -1, "v1 without a limit");
    put("memory/memory.limit_in_bytes", "134217728\n");
    cr_assert_eq(mem_budget_cgroup_limit(dir), 128 * MIB);
    put("memory.max", "max\n");
    cr_assert_eq(mem_budget_cgroup_limit(dir), 128 * MIB, "v2 max: then v1");
    put("memory.max", "268435456\n");
    cr_assert_eq(mem_budget_cgroup_limit(dir), 256 * MIB);
    char path[300];
    snprintf(path, sizeof path, "%s/memory.max", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/memory/memory.limit_in_bytes", dir);
    unlink(path);
    rmdir(v1);
    rmdir(dir);
}

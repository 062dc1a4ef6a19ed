#include "mem_budget.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "memtable.h"

/* glibc's chunk for a malloc of n bytes on a 64-bit machine: n plus the
 * 8-byte size word, rounded up to 16, at least 32. */
static long long malloc_chunk(size_t n)
{
    long long c = ((long long)n + 8 + 15) & ~15LL;
    return c < 32 ? 32 : c;
}

long long mem_budget_session_bytes(void)
{
    /* Buckets are a power of two at or above the cap: at most 2 per entry,
     * in the shards and in the per-user index. At worst every session is
     * logged in as a user of its own: one index node each. */
    return malloc_chunk(sizeof(struct memtable_entry)) +
           malloc_chunk(sizeof(struct memtable_value) + VALUE_MAX) +
           2 * (long long)sizeof(struct memtable_entry *) +
           malloc_chunk(sizeof(struct memuser_node)) + 2 * (long long)sizeof(struct memuser_node *);
}

long mem_budget_max_sessions(long long limit_bytes)
{
    long long room = limit_bytes / 100 * MEM_BUDGET_PERCENT - MEM_BUDGET_BASE_BYTES;
    return room > 0 ? (long)(room / mem_budget_session_bytes()) : 0;
}

/* The first number in file root/name; -1 when absent, "max" or unreadable. */
static long long read_limit(const char *root, const char *name)
{
    char path[512], text[64];
    snprintf(path, sizeof path, "%s/%s", root, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *end;
    long long v = strtoll(text, &end, 10);
    if (end == text || v <= 0)
        return -1;
    /* cgroup v1 writes "no limit" as a huge page-rounded number. */
    return v >= (1LL << 60) ? -1 : v;
}

long long mem_budget_cgroup_limit(const char *root)
{
    if (!root)
        root = "/sys/fs/cgroup";
    long long v = read_limit(root, "memory.max");
    return v > 0 ? v : read_limit(root, "memory/memory.limit_in_bytes");
}

bool mem_budget_fits(long max_sessions, long long limit_bytes, char *why, size_t len)
{
    if (limit_bytes < 0)
        return true;
    long fit = mem_budget_max_sessions(limit_bytes);
    if (max_sessions <= fit)
        return true;
    snprintf(why, len,
             "memory store: %ld sessions x %lld bytes at worst = %lld MiB, above %d %% of this "
             "container's memory limit (%lld MiB): a session flood would get it OOM-killed; "
             "set SESSIONLAB_MAX_SESSIONS to at most %ld or raise the limit",
             max_sessions, mem_budget_session_bytes(),
             (long long)max_sessions * mem_budget_session_bytes() >> 20, MEM_BUDGET_PERCENT,
             limit_bytes >> 20, fit);
    return false;
}

/*
 * The memory store's budget: what one session can cost at worst, what a
 * container's memory limit allows, and the check at start-up that the cap
 * (SESSIONLAB_MAX_SESSIONS) fits in 75 % of that limit. A cap that does not
 * fit means a session flood gets the container OOM-killed, which loses
 * every session; the store evicts (LRU) at the cap, so the cap is the bound.
 */
#ifndef SESSIONLAB_MEM_BUDGET_H
#define SESSIONLAB_MEM_BUDGET_H

#include <stdbool.h>
#include <stddef.h>

/* The share of the container's limit the sessions may fill, in percent. */
#define MEM_BUDGET_PERCENT 75
/* Bytes kept for the process itself (code, threads, buffers) before sessions. */
#define MEM_BUDGET_BASE_BYTES (8LL << 20)

/* Worst-case bytes of one session in the memory store: the entry, a value of
 * VALUE_MAX bytes and a per-user index node, as malloc chunks, and its share
 * of the hash buckets (shards and index). */
long long mem_budget_session_bytes(void);

/* The most sessions that fit in MEM_BUDGET_PERCENT of limit_bytes (0 when
 * none do). */
long mem_budget_max_sessions(long long limit_bytes);

/* The memory limit of this process's cgroup (v2 memory.max, else v1
 * memory.limit_in_bytes) under root (NULL: "/sys/fs/cgroup"); -1 when there
 * is none or it cannot be read. */
long long mem_budget_cgroup_limit(const char *root);

/* Checks max_sessions against limit_bytes (< 0: no limit). false, with a
 * sentence in why, when they do not agree. */
bool mem_budget_fits(long max_sessions, long long limit_bytes, char *why, size_t len);

#endif

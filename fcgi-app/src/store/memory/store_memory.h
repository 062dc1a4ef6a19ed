/*
 * The in-process memory store (store_memory_ops in store.h). This header
 * only adds test hooks; routes use the ops through store.h.
 */
#ifndef SESSIONLAB_STORE_MEMORY_H
#define SESSIONLAB_STORE_MEMORY_H

/*
 * Replaces the monotonic millisecond clock used for idle expiry, so tests
 * can move time without sleeping. The function must never go backwards.
 * NULL restores the default (CLOCK_MONOTONIC). Call it while no store
 * operation runs.
 */
void store_memory_set_clock(long long (*now_ms)(void));

/* Sessions in user's entry of the per-user index (0: none), so tests can
 * see that expiry, eviction and destroy leave the index. */
long store_memory_user_sessions(const char *user);

#endif

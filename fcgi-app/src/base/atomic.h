/*
 * The atomics sessionlab uses, in one place: the GCC/Clang __atomic
 * builtins on plain integer fields (no _Atomic types, so a field can be
 * read under a lock or atomically alike), each naming its memory order
 * (RELAXED, ACQUIRE, RELEASE, ACQ_REL, SEQ_CST). Redis's atomicvar.h is the
 * model of one header that every module goes through.
 */
#ifndef SESSIONLAB_ATOMIC_H
#define SESSIONLAB_ATOMIC_H

#include <stdbool.h>

#define atomic_get(p, order) __atomic_load_n((p), __ATOMIC_##order)
#define atomic_set(p, v, order) __atomic_store_n((p), (v), __ATOMIC_##order)
#define atomic_add(p, v, order) __atomic_fetch_add((p), (v), __ATOMIC_##order)
#define atomic_sub(p, v, order) __atomic_fetch_sub((p), (v), __ATOMIC_##order)
#define atomic_swap(p, v, order) __atomic_exchange_n((p), (v), __ATOMIC_##order)
/* Strong compare-and-swap: true when *p was *expected and is now desired;
 * else *expected gets *p. */
#define atomic_cas(p, expected, desired, ok_order, fail_order)                          \
    __atomic_compare_exchange_n((p), (expected), (desired), false, __ATOMIC_##ok_order, \
                                __ATOMIC_##fail_order)

#endif

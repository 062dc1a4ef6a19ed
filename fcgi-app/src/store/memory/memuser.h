/*
 * The memory store's per-user index: each user name that has sessions in
 * the table maps to one interned node listing them, oldest login first, so
 * "log out everywhere" and USER_SESSIONS_MAX need no scan of the table.
 *
 * One mutex guards the whole index: node lists, entries' user links and the
 * ids of linked entries (collecting reads them under it alone). Lock order:
 * a caller takes it only while it holds the shard lock(s) of the entries it
 * changes, never a shard lock while holding it. An entry's user pointer is
 * written under both its shard lock and the index lock, so a holder of the
 * shard lock may read e->user->name: a node lives while an entry links it.
 */
#ifndef SESSIONLAB_MEMUSER_H
#define SESSIONLAB_MEMUSER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"

struct memtable_entry;

struct memuser_node {
    struct memuser_node *hnext;         /* hash chain */
    struct memtable_entry *head, *tail; /* its sessions, oldest login first */
    long n;
    char name[USER_MAX + 1];
};

struct memuser_index {
    pthread_mutex_t lock;
    struct memuser_node **buckets;
    size_t mask;
    uint64_t key[2]; /* SipHash key: names are chosen by clients */
};

/* Sets up an index for at most max_sessions sessions. 0, or -1 (memory). */
int memuser_init(struct memuser_index *ix, long max_sessions);
/* Frees the nodes left (the table frees the entries). */
void memuser_fini(struct memuser_index *ix);

/* A node for name (user_name_valid), allocated before any lock is taken so
 * that a login cannot fail half-way; NULL when out of memory. */
struct memuser_node *memuser_node_new(const char *name);

/* Makes e name's newest session, leaving its previous user's list if
 * another. A new node comes from *spare (set to NULL when used). Then
 * copies to over (at most over_max) the ids of name's oldest sessions
 * beyond USER_SESSIONS_MAX; their count in *n_over. e's shard is locked. */
void memuser_login(struct memuser_index *ix, struct memtable_entry *e, const char *name,
                   struct memuser_node **spare, char over[][SID_LEN], int over_max, int *n_over);

/* Takes e out of its user's list (nothing when logged out). e's shard is
 * locked. */
void memuser_unlink(struct memuser_index *ix, struct memtable_entry *e);

/* Writes id (SID_LEN bytes) into e: under the index lock, which collectors
 * read ids under. e's shard is locked. */
void memuser_set_id(struct memuser_index *ix, struct memtable_entry *e, const char *id);

/* Copies the ids of up to max of name's sessions, oldest first; their count. */
int memuser_collect(struct memuser_index *ix, const char *name, char ids[][SID_LEN], int max);

/* Sessions in name's list (a test hook and a check). */
long memuser_count(struct memuser_index *ix, const char *name);

#endif

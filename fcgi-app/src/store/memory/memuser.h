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

struct entry;

struct user_node {
    struct user_node *hnext;   /* hash chain */
    struct entry *head, *tail; /* its sessions, oldest login first */
    long n;
    char name[USER_MAX + 1];
};

struct user_index {
    pthread_mutex_t lock;
    struct user_node **buckets;
    size_t mask;
    uint64_t key[2]; /* SipHash key: names are chosen by clients */
};

/* Sets up an index for at most max_sessions sessions. 0, or -1 (memory). */
int memuser_init(struct user_index *ix, long max_sessions);
/* Frees the nodes left (the table frees the entries). */
void memuser_fini(struct user_index *ix);

/* A node for name (user_name_valid), allocated before any lock is taken so
 * that a login cannot fail half-way; NULL when out of memory. */
struct user_node *memuser_node_new(const char *name);

/* Makes e name's newest session, leaving its previous user's list if
 * another. A new node comes from *spare (set to NULL when used). Then
 * copies to over (at most over_max) the ids of name's oldest sessions
 * beyond USER_SESSIONS_MAX; their count in *n_over. e's shard is locked. */
void memuser_login(struct user_index *ix, struct entry *e, const char *name,
                   struct user_node **spare, char over[][SID_LEN], int over_max, int *n_over);

/* Takes e out of its user's list (nothing when logged out). e's shard is
 * locked. */
void memuser_unlink(struct user_index *ix, struct entry *e);

/* Writes id (SID_LEN bytes) into e: under the index lock, which collectors
 * read ids under. e's shard is locked. */
void memuser_set_id(struct user_index *ix, struct entry *e, const char *id);

/* Copies the ids of up to max of name's sessions, oldest first; their count. */
int memuser_collect(struct user_index *ix, const char *name, char ids[][SID_LEN], int max);

/* Sessions in name's list (a test hook and a check). */
long memuser_count(struct user_index *ix, const char *name);

#endif

/*
 * The connection set: the listening socket and every open FastCGI
 * connection in one epoll instance, shared by the worker threads.
 *
 * A connection costs an fd and a slot here, not a thread. Every connection
 * is registered once, edge-triggered: when a request arrives the kernel
 * wakes exactly one worker blocked in conns_next(), which serves one
 * request on it and hands it back with conns_done() (kept, or closed).
 * The epoll ready list is the queue of ready connections; the listening
 * socket is in the same set, and a worker woken by it accepts what is
 * pending.
 *
 * Slots carry a generation so that a stale event or a close racing with
 * the fd number's reuse never touches a newer connection. A slot is one
 * word changed by compare-and-swap: the per-request path takes no lock.
 */
#ifndef SESSIONLAB_CONNS_H
#define SESSIONLAB_CONNS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Read and write timeout on an accepted connection (seconds): a peer that
 * stalls mid-request cannot pin a worker longer than this. */
#define CONNS_IO_TIMEOUT_S 10

struct conns {
    int epfd;
    int listen_fd;   /* shut down at the drain, closed by conns_fini */
    int wake_fd;     /* eventfd, readable once the set stops */
    bool tcp;        /* listen_fd is AF_INET/AF_INET6 */
    uint64_t *slots; /* indexed by fd: gen << 32 | state (atomic) */
    int nslots;
    int max_open;
    int open;             /* connections open (atomic) */
    int closing;          /* drain: close each connection after its request (atomic) */
    int accept_paused;    /* at max_open, the backlog holds the rest (atomic) */
    pthread_mutex_t lock; /* serialises re-arming the listener */
    bool listen_closed;   /* drain began: never re-armed again */
};

/* A connection a worker holds between conns_next and conns_done. */
struct conn {
    int fd;
    uint32_t gen;
};

/* What a worker did with a connection. */
enum conn_end {
    CONN_KEEP,  /* request done, keep it for the next one */
    CONN_CLOSE, /* close it */
    CONN_GONE,  /* libfcgi already closed the fd */
};

/* Takes listen_fd (made non-blocking); at most max_open connections.
 * 0, or -1 after logging why. */
int conns_init(struct conns *c, int listen_fd, int max_open);
void conns_fini(struct conns *c);

/* Blocks until a connection has a request to read; accepts new ones on
 * the way. true with *out filled, false once the set is stopping. */
bool conns_next(struct conns *c, struct conn *out);

/* Hands back a connection conns_next gave out. true when the caller must
 * serve cn again at once: its next request arrived while it was busy. */
bool conns_done(struct conns *c, struct conn cn, enum conn_end how);

/* Drain: stop accepting (the listener is closed) and close every
 * connection after its next request. */
void conns_begin_drain(struct conns *c);

/* Closes every idle connection with nothing to read; returns how many. */
int conns_close_idle(struct conns *c);

/* The drain's last resort: shuts down every connection a worker holds
 * (a peer that trickles a request can hold one for ever, since the I/O
 * timeout applies to each read). Returns how many. */
int conns_cut_busy(struct conns *c);

int conns_open_count(struct conns *c);

/* Wakes every worker in conns_next: they return false from now on. */
void conns_stop(struct conns *c);

#endif

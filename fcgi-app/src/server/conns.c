#include "conns.h"
#include "atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"

#define ACCEPT_BATCH 64
/* Edge-triggered and registered once: no epoll_ctl per request. An edge
 * that arrives while a worker holds the connection marks it SLOT_AGAIN. */
#define CONN_EVENTS (EPOLLIN | EPOLLRDHUP | EPOLLET)
/* epoll data: a connection is (gen << 32 | fd); these two never match one. */
#define TAG_LISTEN UINT64_MAX
#define TAG_WAKE (UINT64_MAX - 1)

enum { SLOT_FREE, SLOT_IDLE, SLOT_BUSY, SLOT_AGAIN };

static uint64_t slot_word(uint32_t gen, unsigned state)
{
    return (uint64_t)gen << 32 | state;
}

static bool slot_cas(struct conns *c, int fd, uint64_t from, uint64_t to)
{
    return atomic_cas(&c->slots[fd], &from, to, ACQ_REL, ACQUIRE);
}

static uint64_t conn_tag(int fd, uint32_t gen)
{
    return (uint64_t)gen << 32 | (uint32_t)fd;
}

static int ctl(struct conns *c, int op, int fd, uint32_t events, uint64_t tag)
{
    struct epoll_event ev = {.events = events, .data.u64 = tag};
    return epoll_ctl(c->epfd, op, fd, &ev);
}

static bool is_tcp(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    return getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
           (ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
}

/* Slots are indexed by fd number: the table spans every fd number the
 * process may hold (max_open leaves room for the rest). */
static int fd_table_size(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur > (1u << 20))
        return 1 << 20;
    return (int)rl.rlim_cur;
}

int conns_init(struct conns *c, int listen_fd, int max_open)
{
    memset(c, 0, sizeof *c);
    c->listen_fd = listen_fd;
    c->max_open = max_open;
    c->nslots = fd_table_size();
    c->tcp = is_tcp(listen_fd);
    c->slots = calloc((size_t)c->nslots, sizeof *c->slots);
    c->epfd = epoll_create1(EPOLL_CLOEXEC);
    c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    pthread_mutex_init(&c->lock, NULL);
    int fl = fcntl(listen_fd, F_GETFL);
    if (!c->slots || c->epfd < 0 || c->wake_fd < 0 || fl < 0 ||
        fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
        ctl(c, EPOLL_CTL_ADD, c->wake_fd, EPOLLIN, TAG_WAKE) < 0 ||
        ctl(c, EPOLL_CTL_ADD, listen_fd, EPOLLIN | EPOLLONESHOT, TAG_LISTEN) < 0) {
        log_error("cannot set up the connection set: %s", strerror(errno));
        conns_fini(c);
        return -1;
    }
    return 0;
}

void conns_fini(struct conns *c)
{
    for (int fd = 0; fd < c->nslots && c->slots; fd++)
        if ((c->slots[fd] & 0xff) != SLOT_FREE)
            close(fd);
    if (c->listen_fd >= 0)
        close(c->listen_fd);
    if (c->epfd >= 0)
        close(c->epfd);
    if (c->wake_fd >= 0)
        close(c->wake_fd);
    free(c->slots);
    pthread_mutex_destroy(&c->lock);
    c->slots = NULL;
    c->listen_fd = c->epfd = c->wake_fd = -1;
}

/* Under c->lock: re-arms the listener unless draining or full. */
static void listen_rearm_locked(struct conns *c)
{
    if (c->listen_closed)
        return;
    if (atomic_get(&c->open, SEQ_CST) >= c->max_open) {
        atomic_set(&c->accept_paused, 1, SEQ_CST);
        /* A connection that closed before the flag was set saw no pause. */
        if (atomic_get(&c->open, SEQ_CST) >= c->max_open)
            return;
    }
    atomic_set(&c->accept_paused, 0, SEQ_CST);
    ctl(c, EPOLL_CTL_MOD, c->listen_fd, EPOLLIN | EPOLLONESHOT, TAG_LISTEN);
}

/* Books a closed connection; resumes accepting when that made room. */
static void conn_closed(struct conns *c)
{
    atomic_sub(&c->open, 1, SEQ_CST);
    metrics_connection_closed();
    if (!atomic_get(&c->accept_paused, SEQ_CST))
        return;
    pthread_mutex_lock(&c->lock);
    listen_rearm_locked(c);
    pthread_mutex_unlock(&c->lock);
}

/* Blocking I/O for libfcgi, bounded in time; no Nagle (replies are small). */
static void conn_setup(struct conns *c, int fd)
{
    struct timeval tv = {.tv_sec = CONNS_IO_TIMEOUT_S};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (c->tcp) {
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
        /* A peer that vanished without a FIN is found and closed. */
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &(int){1}, sizeof(int));
    }
}

/* Registers an accepted fd as idle (or closes it when it cannot). A new
 * generation makes every older event and owner of this fd number stale. */
static void conn_add(struct conns *c, int fd)
{
    static struct log_limit lim = LOG_LIMIT_INIT;
    if (fd >= c->nslots) {
        log_error_limited(&lim, "connection fd %d beyond the table of %d: closed", fd, c->nslots);
        close(fd);
        return;
    }
    conn_setup(c, fd);
    uint32_t gen = (uint32_t)(atomic_get(&c->slots[fd], ACQUIRE) >> 32) + 1;
    atomic_set(&c->slots[fd], slot_word(gen, SLOT_IDLE), RELEASE);
    atomic_add(&c->open, 1, SEQ_CST);
    metrics_connection_opened();
    if (ctl(c, EPOLL_CTL_ADD, fd, CONN_EVENTS, conn_tag(fd, gen)) == 0)
        return;
    log_error_limited(&lim, "cannot watch a new connection: %s", strerror(errno));
    atomic_set(&c->slots[fd], slot_word(gen, SLOT_FREE), RELEASE);
    close(fd);
    conn_closed(c);
}

static bool accept_error_is_transient(int err)
{
    return err == ECONNABORTED || err == EPROTO || err == EINTR || err == EPERM;
}

/* Accepts up to ACCEPT_BATCH pending connections; true when the backlog
 * may hold more. */
static bool accept_some(struct conns *c)
{
    static struct log_limit lim = LOG_LIMIT_INIT;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        if (atomic_get(&c->open, SEQ_CST) >= c->max_open)
            return false;
        int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            conn_add(c, fd);
            continue;
        }
        if (accept_error_is_transient(errno))
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINVAL) {
            /* EMFILE, ENFILE, ENOBUFS, ENOMEM: back off; the backlog keeps them. */
            log_error_limited(&lim, "accept failed: %s", strerror(errno));
            usleep(10 * 1000);
        }
        return false;
    }
    return true;
}

static void conns_accept(struct conns *c)
{
    accept_some(c);
    pthread_mutex_lock(&c->lock);
    listen_rearm_locked(c);
    pthread_mutex_unlock(&c->lock);
}

/*
 * true when tag names the current idle connection: it is now busy. An
 * event for a busy one marks it SLOT_AGAIN, for its worker to look at.
 * An event can also be stale: a request that came in two packets raises
 * two edges, and when the worker that read both set the connection idle
 * before anyone took the second edge, that edge names an idle connection
 * with nothing to read. conns_next looks before it hands one out, so no
 * worker blocks in read() on an idle connection.
 */
static bool take(struct conns *c, uint64_t tag, struct conn *out)
{
    int fd = (int)(uint32_t)tag;
    uint32_t gen = (uint32_t)(tag >> 32);
    if (fd < 0 || fd >= c->nslots)
        return false;
    uint64_t w = atomic_get(&c->slots[fd], ACQUIRE);
    for (;;) {
        unsigned state = (unsigned)(w & 0xff);
        if ((uint32_t)(w >> 32) != gen || (state != SLOT_IDLE && state != SLOT_BUSY))
            return false; /* closed (maybe reused), or already marked */
        uint64_t to = slot_word(gen, state == SLOT_IDLE ? SLOT_BUSY : SLOT_AGAIN);
        /* On failure w is reloaded: the slot changed between the two reads
         * (its worker just made it idle), so look again. */
        if (atomic_cas(&c->slots[fd], &w, to, ACQ_REL, ACQUIRE)) {
            if (state != SLOT_IDLE)
                return false; /* its worker serves it again */
            *out = (struct conn){.fd = fd, .gen = gen};
            return true;
        }
    }
}

/* Something to read on fd right now (a request, EOF or an error)? */
static bool readable_now(int fd)
{
    char b;
    return recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) >= 0 ||
           (errno != EAGAIN && errno != EWOULDBLOCK);
}

/*
 * Makes a kept connection idle. false when an edge arrived while it was
 * busy and there is something to read: the caller serves it again (no
 * other worker was woken for it, and edge-triggered epoll wakes no one
 * again). The edge may have been another part of the last request: then
 * nothing is to be read, and the connection goes idle after all.
 */
static bool keep_idle(struct conns *c, struct conn cn)
{
    uint64_t busy = slot_word(cn.gen, SLOT_BUSY), again = slot_word(cn.gen, SLOT_AGAIN);
    for (;;) {
        if (slot_cas(c, cn.fd, busy, slot_word(cn.gen, SLOT_IDLE)))
            return true;
        if (!slot_cas(c, cn.fd, again, busy))
            return true; /* neither busy nor marked: not ours to keep */
        if (readable_now(cn.fd))
            return false;
    }
}

bool conns_next(struct conns *c, struct conn *out)
{
    static struct log_limit lim = LOG_LIMIT_INIT;
    for (;;) {
        struct epoll_event ev;
        int n = epoll_wait(c->epfd, &ev, 1, -1);
        if (n < 0 && errno != EINTR) {
            log_error_limited(&lim, "epoll_wait failed: %s", strerror(errno));
            usleep(10 * 1000);
        }
        if (n <= 0)
            continue;
        if (ev.data.u64 == TAG_WAKE)
            return false;
        if (ev.data.u64 == TAG_LISTEN)
            conns_accept(c);
        else if (take(c, ev.data.u64, out) && (readable_now(out->fd) || !keep_idle(c, *out)))
            return true;
    }
}

bool conns_done(struct conns *c, struct conn cn, enum conn_end how)
{
    if (how == CONN_KEEP && !atomic_get(&c->closing, ACQUIRE))
        return !keep_idle(c, cn);
    /* Fails only for CONN_GONE when the fd number is already reused. */
    if (!slot_cas(c, cn.fd, slot_word(cn.gen, SLOT_BUSY), slot_word(cn.gen, SLOT_FREE)))
        slot_cas(c, cn.fd, slot_word(cn.gen, SLOT_AGAIN), slot_word(cn.gen, SLOT_FREE));
    /* Closed after the slot is free: until then the fd number cannot be
     * handed out again, so no newer connection can be taken for this one. */
    if (how != CONN_GONE)
        close(cn.fd);
    conn_closed(c);
    return false;
}

void conns_begin_drain(struct conns *c)
{
    atomic_set(&c->closing, 1, RELEASE);
    /* Take what already sits in the backlog: nginx may have written a
     * request into it, and shutting the listener down would reset it. */
    while (accept_some(c))
        ;
    pthread_mutex_lock(&c->lock);
    c->listen_closed = true;
    epoll_ctl(c->epfd, EPOLL_CTL_DEL, c->listen_fd, NULL);
    shutdown(c->listen_fd, SHUT_RDWR); /* refuse new connections; closed in conns_fini */
    pthread_mutex_unlock(&c->lock);
}

/*
 * Closes every idle connection that has nothing to read. One whose next
 * request is already there (waiting for a worker) is kept: it is claimed,
 * looked at, and put back with EPOLL_CTL_MOD, which queues its event again.
 */
int conns_close_idle(struct conns *c)
{
    int n = 0;
    for (int fd = 0; fd < c->nslots; fd++) {
        uint64_t w = atomic_get(&c->slots[fd], ACQUIRE);
        uint32_t gen = (uint32_t)(w >> 32);
        uint64_t busy = slot_word(gen, SLOT_BUSY);
        if ((w & 0xff) != SLOT_IDLE || !slot_cas(c, fd, w, busy))
            continue;
        if (readable_now(fd) || !slot_cas(c, fd, busy, slot_word(gen, SLOT_FREE))) {
            /* A request waits (or an edge came meanwhile): leave it to a worker. */
            if (!slot_cas(c, fd, busy, w))
                slot_cas(c, fd, slot_word(gen, SLOT_AGAIN), w);
            ctl(c, EPOLL_CTL_MOD, fd, CONN_EVENTS, conn_tag(fd, gen));
            continue;
        }
        epoll_ctl(c->epfd, EPOLL_CTL_DEL, fd, NULL);
        close(fd);
        conn_closed(c);
        n++;
    }
    return n;
}

/* Shuts down (not closes: its worker still holds the fd) every connection
 * a worker holds; their blocked reads and writes fail at once. */
int conns_cut_busy(struct conns *c)
{
    int n = 0;
    for (int fd = 0; fd < c->nslots; fd++) {
        unsigned st = (unsigned)(atomic_get(&c->slots[fd], ACQUIRE) & 0xff);
        if (st == SLOT_BUSY || st == SLOT_AGAIN) {
            shutdown(fd, SHUT_RDWR);
            n++;
        }
    }
    return n;
}

int conns_open_count(struct conns *c)
{
    return atomic_get(&c->open, SEQ_CST);
}

void conns_stop(struct conns *c)
{
    uint64_t one = 1;
    if (write(c->wake_fd, &one, sizeof one) < 0)
        log_error("cannot wake the workers: %s", strerror(errno));
}

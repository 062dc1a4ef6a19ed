#include "server.h"

#include <errno.h>
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "request.h"
#include "routes.h"

#define LISTEN_BACKLOG 1024
#define WORKER_STACK (256 * 1024)
#define STOP_POLL_MS 20
#define STOP_QUIET_MS 200      /* no request for this long: idle links may close */
#define STOP_GRACE_MS 10000    /* close idle links after this even under load */

enum worker_state { WORKER_WAITING, WORKER_BUSY };

struct worker {
    pthread_t tid;
    pthread_mutex_t lock;       /* guards state and conn_fd */
    enum worker_state state;
    int conn_fd;                /* kept-alive connection read while WAITING, or -1 */
    int done;                   /* the thread has left its loop */
    FCGX_Request req;
    struct route_ctx *ctx;
};

static int stopping;            /* set once by the main thread */
static int accepting;           /* workers about to accept a new connection */
static unsigned long served;    /* requests answered, for the quiet check */

static bool is_stopping(void)
{
    return __atomic_load_n(&stopping, __ATOMIC_ACQUIRE) != 0;
}

static void set_state(struct worker *w, enum worker_state s, int fd)
{
    pthread_mutex_lock(&w->lock);
    w->state = s;
    w->conn_fd = fd;
    pthread_mutex_unlock(&w->lock);
}

/*
 * libfcgi serves one connection per thread: a connection nginx keeps alive
 * pins its worker while idle. When this worker finishes a request and no
 * other worker is free to accept, it closes its connection instead of
 * keeping it, so connections waiting in the listen queue are never starved.
 * (keepConnection is libfcgi's own flag, read by FCGX_Finish_r.)
 */
static void finish_request(struct worker *w)
{
    if (is_stopping() || __atomic_load_n(&accepting, __ATOMIC_RELAXED) == 0)
        w->req.keepConnection = 0;
    FCGX_Finish_r(&w->req);
}

static int accept_next(struct worker *w)
{
    bool fresh = w->req.ipcFd < 0;
    set_state(w, WORKER_WAITING, w->req.ipcFd);
    if (fresh)
        __atomic_fetch_add(&accepting, 1, __ATOMIC_RELAXED);
    int rc = FCGX_Accept_r(&w->req);
    if (fresh)
        __atomic_fetch_sub(&accepting, 1, __ATOMIC_RELAXED);
    set_state(w, WORKER_BUSY, -1);
    return rc;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct request rq;
    while (!is_stopping()) {
        if (accept_next(w) < 0) {
            if (is_stopping())
                break;
            log_error("accept failed: %s", strerror(errno));
            nanosleep(&(struct timespec){.tv_nsec = 50 * 1000000}, NULL);
            continue;
        }
        request_parse(&rq, w->req.envp);
        routes_handle(w->ctx, &rq, w->req.in, w->req.out);
        finish_request(w);
        __atomic_fetch_add(&served, 1, __ATOMIC_RELAXED);
    }
    FCGX_Free(&w->req, 1);
    __atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Opens the FastCGI socket named by cfg->listen; -1 after logging. */
static int open_listener(const struct config *cfg)
{
    bool unix_sock = strncmp(cfg->listen, "unix:", 5) == 0;
    const char *path = unix_sock ? cfg->listen + 5 : cfg->listen;
    if (unix_sock)
        unlink(path); /* a stale socket from an earlier run */
    int fd = FCGX_OpenSocket(path, LISTEN_BACKLOG);
    if (fd < 0) {
        log_error("cannot listen on %s: %s", cfg->listen, strerror(errno));
        return -1;
    }
    if (unix_sock && chmod(path, 0666) < 0)
        log_error("chmod %s: %s", path, strerror(errno));
    return fd;
}

static void ctx_free(struct route_ctx *ctx)
{
    if (!ctx)
        return;
    routes_ctx_fini(ctx);
    munmap(ctx, sizeof *ctx);
}

static int worker_start(struct worker *w, int listen_fd, const struct config *cfg,
                        const struct store_ops *ops, const pthread_attr_t *attr)
{
    pthread_mutex_init(&w->lock, NULL);
    w->conn_fd = -1;
    /* mmap, not calloc: the ~86 KiB of scratch buffers stay untouched (and
     * so not resident) until a request needs them; calloc would zero them
     * and make every idle worker cost its whole context. */
    void *mem = mmap(NULL, sizeof *w->ctx, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    w->ctx = mem == MAP_FAILED ? NULL : mem;
    int rc = 0;
    if (!w->ctx || routes_ctx_init(w->ctx, cfg, ops) < 0 ||
        FCGX_InitRequest(&w->req, listen_fd, 0) != 0)
        log_error("out of memory starting a worker");
    else if ((rc = pthread_create(&w->tid, attr, worker_main, w)) != 0)
        log_error("cannot start a worker thread: %s", strerror(rc));
    else
        return 0;
    ctx_free(w->ctx);
    pthread_mutex_destroy(&w->lock);
    return -1;
}

/* Wakes workers idling on kept-alive connections so they can exit. */
static void close_idle_connections(struct worker *ws, int n)
{
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&ws[i].lock);
        if (ws[i].state == WORKER_WAITING && ws[i].conn_fd >= 0)
            shutdown(ws[i].conn_fd, SHUT_RDWR);
        pthread_mutex_unlock(&ws[i].lock);
    }
}

static int wait_for_signal(void)
{
    sigset_t set;
    int sig = 0;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigwait(&set, &sig);
    return sig;
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool all_done(struct worker *ws, int n)
{
    for (int i = 0; i < n; i++)
        if (!__atomic_load_n(&ws[i].done, __ATOMIC_ACQUIRE))
            return false;
    return true;
}

/*
 * Waits for the workers to leave. A worker idling on a kept-alive connection
 * leaves after serving one more request on it (answered, then closed). Its
 * connection is closed from here only once no request came for
 * STOP_QUIET_MS (or after STOP_GRACE_MS): closing it while nginx is writing
 * a request into it would fail that request, and nginx cannot retry a POST.
 */
static void drain_workers(struct worker *ws, int n)
{
    long long start = mono_ms(), quiet_since = start;
    unsigned long last = __atomic_load_n(&served, __ATOMIC_RELAXED);
    while (!all_done(ws, n)) {
        nanosleep(&(struct timespec){.tv_nsec = STOP_POLL_MS * 1000000L}, NULL);
        long long now = mono_ms();
        unsigned long cur = __atomic_load_n(&served, __ATOMIC_RELAXED);
        if (cur != last) {
            last = cur;
            quiet_since = now;
        }
        if (now - quiet_since >= STOP_QUIET_MS || now - start >= STOP_GRACE_MS)
            close_idle_connections(ws, n);
    }
}

/* Stops accepting, lets requests in flight finish, joins every worker. */
static void stop_workers(struct worker *ws, int started, int listen_fd)
{
    __atomic_store_n(&stopping, 1, __ATOMIC_RELEASE);
    shutdown(listen_fd, SHUT_RDWR);
    drain_workers(ws, started);
    for (int i = 0; i < started; i++) {
        pthread_join(ws[i].tid, NULL);
        ctx_free(ws[i].ctx);
        pthread_mutex_destroy(&ws[i].lock);
    }
    close(listen_fd);
}

static void block_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int server_run(const struct config *cfg, const struct store_ops *ops)
{
    block_signals();
    if (FCGX_Init() != 0) {
        log_error("libfcgi failed to initialise");
        return 1;
    }
    int listen_fd = open_listener(cfg);
    if (listen_fd < 0)
        return 1;
    struct worker *ws = calloc((size_t)cfg->workers, sizeof *ws);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, WORKER_STACK);
    int started = 0;
    while (ws && started < cfg->workers &&
           worker_start(&ws[started], listen_fd, cfg, ops, &attr) == 0)
        started++;
    pthread_attr_destroy(&attr);
    int ok = ws && started == cfg->workers;
    if (ok) {
        log_info("serving on %s with %d workers", cfg->listen, started);
        int sig = wait_for_signal();
        log_info("%s received: finishing requests in flight", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    }
    if (ws)
        stop_workers(ws, started, listen_fd);
    free(ws);
    if (ok)
        log_info("stopped");
    return ok ? 0 : 1;
}

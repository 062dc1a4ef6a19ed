#include "server.h"
#include "atomic.h"

#include <errno.h>
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "conns.h"
#include "log.h"
#include "request.h"
#include "routes.h"

#define LISTEN_BACKLOG 1024
#define WORKER_STACK (256 * 1024)
#define STOP_POLL_MS 20
#define STOP_QUIET_MS 200       /* no request for this long: idle links may close */
#define STOP_GRACE_MS 10000     /* close idle links after this even under load */
#define STOP_HARD_MS 30000      /* cut requests still unfinished after this */
#define DRAIN_MAX (1024 * 1024) /* unread body bytes read to keep a connection */
#define FD_SOFT_MAX 65536       /* RLIMIT_NOFILE is raised up to this */
#define FD_RESERVE 64           /* fds kept for everything but connections */

struct worker {
    pthread_t tid;
    FCGX_Request req;
    struct route_ctx *ctx;
};

static struct conns conns;
static unsigned long served; /* requests answered, for the quiet check */

/*
 * Reads what the route left of the request body, so the connection is at a
 * record boundary for the next request (libfcgi does not skip an unread
 * body). false when the connection cannot be kept: a read error, or more
 * than DRAIN_MAX bytes to skip (nginx never sends more than 16 KiB).
 */
static bool drain_body(FCGX_Stream *in)
{
    char sink[4096];
    long total = 0;
    int n;
    while ((n = FCGX_GetStr(sink, (int)sizeof sink, in)) > 0)
        if ((total += n) > DRAIN_MAX)
            return false;
    return FCGX_GetError(in) == 0;
}

/* Serves one request on cn, then hands the connection back; true when
 * the next one is already waiting on it. */
static bool serve_one(struct worker *w, struct conn cn)
{
    FCGX_Request *req = &w->req;
    req->ipcFd = cn.fd;
    /* FCGX_Accept_r first finishes the previous request: it must not close
     * this fd. When libfcgi closes on a protocol error, a plain close()
     * (detached), not its 2 s lingering one. */
    req->keepConnection = 1;
    req->detached = 1;
    if (FCGX_Accept_r(req) < 0) {
        /* EOF or garbage: libfcgi closed the fd, then failed to accept on
         * listen_sock -1 instead of blocking in accept(). */
        req->ipcFd = -1;
        return conns_done(&conns, cn, CONN_GONE);
    }
    struct request rq;
    request_parse(&rq, req->envp);
    routes_handle(w->ctx, &rq, req->in, req->out);
    bool keep = req->keepConnection && drain_body(req->in);
    req->keepConnection = 1; /* conns_done closes, not libfcgi */
    FCGX_Finish_r(req);
    enum conn_end how = req->ipcFd < 0 ? CONN_GONE : keep ? CONN_KEEP : CONN_CLOSE;
    req->ipcFd = -1;
    atomic_add(&served, 1, RELAXED);
    return conns_done(&conns, cn, how);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct conn cn;
    while (conns_next(&conns, &cn))
        while (serve_one(w, cn))
            ;
    FCGX_Free(&w->req, 0);
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

/*
 * Raises the fd limit to its hard limit (at most FD_SOFT_MAX) and returns
 * how many connections fit: idle connections cost an fd each, not a thread.
 */
static int connection_budget(int workers)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024 - FD_RESERVE - 2 * workers;
    rlim_t want = rl.rlim_max < FD_SOFT_MAX ? rl.rlim_max : FD_SOFT_MAX;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = want;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    long cur = rl.rlim_cur > FD_SOFT_MAX ? FD_SOFT_MAX : (long)rl.rlim_cur;
    return (int)(cur - FD_RESERVE - 2L * workers);
}

static void ctx_free(struct route_ctx *ctx)
{
    if (!ctx)
        return;
    routes_ctx_fini(ctx);
    munmap(ctx, sizeof *ctx);
}

static int worker_start(struct worker *w, const struct config *cfg, const struct store_ops *ops,
                        const pthread_attr_t *attr)
{
    /* mmap, not calloc: the ~86 KiB of scratch buffers stay untouched (and
     * so not resident) until a request needs them; calloc would zero them
     * and make every idle worker cost its whole context. */
    void *mem =
        mmap(NULL, sizeof *w->ctx, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    w->ctx = mem == MAP_FAILED ? NULL : mem;
    int rc = 0;
    /* listen_sock -1: libfcgi never accepts; the connection set does. */
    if (!w->ctx || routes_ctx_init(w->ctx, cfg, ops) < 0 || FCGX_InitRequest(&w->req, -1, 0) != 0)
        log_error("out of memory starting a worker");
    else if ((rc = pthread_create(&w->tid, attr, worker_main, w)) != 0)
        log_error("cannot start a worker thread: %s", strerror(rc));
    else
        return 0;
    ctx_free(w->ctx);
    return -1;
}

/* The drain's wait between two looks: signals are taken meanwhile. A
 * second SIGTERM or SIGINT ends the drain at once; true then. */
static bool drain_pause(const sigset_t *set)
{
    static struct log_limit lim = LOG_LIMIT_INIT;
    struct timespec ts = {.tv_nsec = STOP_POLL_MS * 1000000L};
    int sig = sigtimedwait(set, NULL, &ts);
    if (sig == SIGTERM || sig == SIGINT) {
        log_info("%s received again: cutting the requests still in flight",
                 sig == SIGTERM ? "SIGTERM" : "SIGINT");
        return true;
    }
    if (sig > 0)
        log_info_limited(&lim, "signal %d received while draining: ignored", sig);
    return false;
}

/*
 * The drain after SIGTERM: /readyz answers 503 from now on, the listener
 * closes (nginx's new connections are refused, and a refused GET or POST
 * is retried on another server), and every connection is closed after its
 * next request. Idle connections are closed from here only once no request
 * came for STOP_QUIET_MS (or after STOP_GRACE_MS), and never one whose
 * next request is already waiting: closing one while nginx is writing a
 * request into it would fail that request, and nginx cannot retry a POST.
 * A peer that never finishes its request is cut at STOP_HARD_MS, or at once
 * on a second SIGTERM or SIGINT.
 */
static void drain(const sigset_t *set)
{
    routes_begin_drain();
    conns_begin_drain(&conns);
    long long start = clock_mono_ms(), quiet_since = start;
    unsigned long last = atomic_get(&served, RELAXED);
    bool cut = false;
    while (conns_open_count(&conns) > 0) {
        bool now_cut = drain_pause(set);
        long long now = clock_mono_ms();
        unsigned long cur = atomic_get(&served, RELAXED);
        if (cur != last) {
            last = cur;
            quiet_since = now;
        }
        if (now - quiet_since >= STOP_QUIET_MS || now - start >= STOP_GRACE_MS)
            conns_close_idle(&conns);
        if (!cut && (now_cut || now - start >= STOP_HARD_MS)) {
            int n = conns_cut_busy(&conns);
            if (n > 0)
                log_error("drain: cut %d connection%s still in a request", n, n == 1 ? "" : "s");
            cut = true;
        }
    }
}

static void stop_workers(struct worker *ws, int started)
{
    conns_stop(&conns);
    for (int i = 0; i < started; i++) {
        pthread_join(ws[i].tid, NULL);
        ctx_free(ws[i].ctx);
    }
}

/* The signals the main thread takes with sigwait; blocked in every thread. */
static void signals_block(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGUSR1);
    sigaddset(set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, set, NULL);
}

/* FCGX_Init installs libfcgi's handlers (SIGUSR1 and SIGTERM set a flag
 * that fails every later accept; SIGPIPE an empty handler that interrupts
 * syscalls). Put back ours: the signals are blocked and taken by sigwait,
 * and a write to a closed connection fails with EPIPE. */
static void signals_restore(void)
{
    signal(SIGPIPE, SIG_IGN);
    signal(SIGUSR1, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
}

/*
 * Returns SIGTERM or SIGINT. SIGHUP, SIGUSR1 and SIGUSR2 (an operator's
 * reload or log-reopen habit from nginx-style daemons) change nothing
 * here: the app has no configuration file and logs to stderr. Each is
 * logged, at most once a second.
 */
static int wait_for_stop(const sigset_t *set)
{
    static struct log_limit lim_hup = LOG_LIMIT_INIT, lim_usr1 = LOG_LIMIT_INIT,
                            lim_usr2 = LOG_LIMIT_INIT;
    for (;;) {
        int sig = 0;
        if (sigwait(set, &sig) != 0)
            continue;
        if (sig == SIGTERM || sig == SIGINT)
            return sig;
        struct log_limit *lim = sig == SIGHUP ? &lim_hup : sig == SIGUSR1 ? &lim_usr1 : &lim_usr2;
        log_info_limited(lim,
                         "%s received: ignored (nothing to reload: settings come from the "
                         "environment and flags, logs go to stderr)",
                         sig == SIGHUP    ? "SIGHUP"
                         : sig == SIGUSR1 ? "SIGUSR1"
                                          : "SIGUSR2");
    }
}

static int start_workers(struct worker *ws, const struct config *cfg, const struct store_ops *ops)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, WORKER_STACK);
    int started = 0;
    while (started < cfg->workers && worker_start(&ws[started], cfg, ops, &attr) == 0)
        started++;
    pthread_attr_destroy(&attr);
    return started;
}

static int serve(const struct config *cfg, const struct store_ops *ops, const sigset_t *set,
                 int max_open)
{
    struct worker *ws = calloc((size_t)cfg->workers, sizeof *ws);
    int started = ws ? start_workers(ws, cfg, ops) : 0;
    bool ok = ws && started == cfg->workers;
    if (ok) {
        log_info("serving on %s with %d workers, up to %d connections", cfg->listen, started,
                 max_open);
        int sig = wait_for_stop(set);
        log_info("%s received: finishing requests in flight",
                 sig == SIGTERM ? "SIGTERM" : "SIGINT");
        drain(set);
    }
    stop_workers(ws, started);
    free(ws);
    return ok ? 0 : 1;
}

int server_run(const struct config *cfg, const struct store_ops *ops)
{
    sigset_t set;
    signals_block(&set);
    if (FCGX_Init() != 0) {
        log_error("libfcgi failed to initialise");
        return 1;
    }
    signals_restore();
    int max_open = connection_budget(cfg->workers);
    if (max_open < 16) {
        log_error("too few file descriptors (RLIMIT_NOFILE) for %d workers and their connections",
                  cfg->workers);
        return 1;
    }
    int listen_fd = open_listener(cfg);
    if (listen_fd < 0 || conns_init(&conns, listen_fd, max_open) < 0)
        return 1;
    int rc = serve(cfg, ops, &set, max_open);
    conns_fini(&conns);
    if (rc == 0)
        log_info("stopped");
    return rc;
}

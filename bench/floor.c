/*
 * The floor: the cheapest libfcgi responder, one fixed page per request,
 * N threads each with its own FCGX_Request (libfcgi's threaded example
 * shape). bench/run measures sessionlab-app against it behind the same
 * nginx front.  usage: sessionlab-floor LISTEN [THREADS]
 */
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static int listen_fd;

static void *serve(void *arg)
{
    static const char page[] = "Status: 200 OK\r\nContent-Type: text/plain\r\n"
                               "Content-Length: 6\r\n\r\nfloor\n";
    FCGX_Request req;
    (void)arg;
    FCGX_InitRequest(&req, listen_fd, 0);
    while (FCGX_Accept_r(&req) >= 0) {
        FCGX_PutStr(page, (int)sizeof page - 1, req.out);
        FCGX_Finish_r(&req);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: sessionlab-floor LISTEN [THREADS]\n");
        return 2;
    }
    int n = argc > 2 ? atoi(argv[2]) : 64;
    if (n < 1 || n > 1024) {
        fprintf(stderr, "sessionlab-floor: THREADS must be 1-1024\n");
        return 2;
    }
    FCGX_Init();
    listen_fd = FCGX_OpenSocket(argv[1], 1024);
    if (listen_fd < 0) {
        perror("sessionlab-floor: listen");
        return 1;
    }
    /* SIGTERM/SIGINT end the process from the main thread with exit(0),
     * so profilers (valgrind) write their data; workers never see them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    pthread_t t;
    for (int i = 0; i < n; i++)
        if (pthread_create(&t, NULL, serve, NULL) != 0) {
            fprintf(stderr, "sessionlab-floor: cannot start thread %d\n", i);
            return 1;
        }
    int sig;
    sigwait(&set, &sig);
    return 0;
}

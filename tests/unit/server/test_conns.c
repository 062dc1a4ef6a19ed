#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conns.h"

static struct conns cs;
static struct sockaddr_in addr;

static void set_up(int max_open)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    cr_assert_eq(bind(lfd, (struct sockaddr *)&addr, sizeof addr), 0);
    cr_assert_eq(listen(lfd, 16), 0);
    cr_assert_eq(getsockname(lfd, (struct sockaddr *)&addr, &len), 0);
    cr_assert_eq(conns_init(&cs, lfd, max_open), 0);
}

/* A client that has sent one byte. */
static int client(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_eq(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    cr_assert_eq(write(fd, "x", 1), 1);
    return fd;
}

static struct conn next_with_byte(void)
{
    struct conn cn;
    char b;
    cr_assert(conns_next(&cs, &cn));
    cr_assert_eq(read(cn.fd, &b, 1), 1);
    return cn;
}

static bool peer_closed(int fd)
{
    char b;
    return read(fd, &b, 1) == 0;
}

Test(conns, a_kept_connection_comes_back_with_its_next_request, .timeout = 10)
{
    set_up(8);
    int cl = client();
    struct conn a = next_with_byte();
    cr_assert_not(conns_done(&cs, a, CONN_KEEP), "nothing more to read: idle");
    cr_assert_eq(conns_open_count(&cs), 1);
    cr_assert_eq(write(cl, "y", 1), 1);
    struct conn b = next_with_byte();
    cr_assert_eq(b.fd, a.fd);
    cr_assert_eq(b.gen, a.gen);
    cr_assert_not(conns_done(&cs, b, CONN_CLOSE));
    cr_assert_eq(conns_open_count(&cs), 0);
    cr_assert(peer_closed(cl));
    close(cl);
    conns_fini(&cs);
}

static void *waiter(void *arg)
{
    struct conn cn;
    *(bool *)arg = conns_next(&cs, &cn); /* sees the busy connection's event, then the stop */
    return NULL;
}

Test(conns, a_request_that_arrives_while_busy_is_served_by_the_same_worker, .timeout = 10)
{
    set_up(8);
    int cl = client();
    struct conn a = next_with_byte();
    bool got = true;
    pthread_t t;
    pthread_create(&t, NULL, waiter, &got);
    usleep(100 * 1000);
    cr_assert_eq(write(cl, "y", 1), 1); /* the next request, while a is busy */
    usleep(100 * 1000);
    cr_assert(conns_done(&cs, a, CONN_KEEP), "serve it again: no other worker was woken");
    char b;
    cr_assert_eq(read(a.fd, &b, 1), 1);
    cr_assert_eq(b, 'y');
    cr_assert_not(conns_done(&cs, a, CONN_KEEP));
    conns_stop(&cs);
    pthread_join(t, NULL);
    cr_assert_not(got, "the other worker got no connection");
    close(cl);
    conns_fini(&cs);
}

Test(conns, at_max_open_accepting_waits_for_a_close, .timeout = 10)
{
    set_up(1);
    int c1 = client(), c2 = client();
    struct conn a = next_with_byte();
    cr_assert_eq(conns_open_count(&cs), 1, "the second waits in the backlog");
    conns_done(&cs, a, CONN_CLOSE);
    struct conn b = next_with_byte();
    cr_assert_eq(conns_open_count(&cs), 1);
    cr_assert(peer_closed(c1));
    conns_done(&cs, b, CONN_CLOSE);
    cr_assert(peer_closed(c2));
    close(c1);
    close(c2);
    conns_fini(&cs);
}

Test(conns, the_drain_closes_idle_and_finished_connections, .timeout = 10)
{
    set_up(8);
    int c1 = client(), c2 = client();
    struct conn a = next_with_byte(), b = next_with_byte();
    conns_done(&cs, a, CONN_KEEP);
    conns_begin_drain(&cs);
    cr_assert_eq(conns_close_idle(&cs), 1, "a was idle");
    conns_done(&cs, b, CONN_KEEP); /* draining: closed, not kept */
    cr_assert_eq(conns_open_count(&cs), 0);
    cr_assert(peer_closed(c1));
    cr_assert(peer_closed(c2));
    int c3 = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_neq(connect(c3, (struct sockaddr *)&addr, sizeof addr), 0, "no longer accepting");
    close(c1);
    close(c2);
    close(c3);
    conns_fini(&cs);
}

Test(conns, a_connection_libfcgi_closed_is_forgotten, .timeout = 10)
{
    set_up(8);
    int cl = client();
    struct conn a = next_with_byte();
    close(a.fd); /* as libfcgi does on a protocol error */
    conns_done(&cs, a, CONN_GONE);
    cr_assert_eq(conns_open_count(&cs), 0);
    cr_assert(peer_closed(cl));
    close(cl);
    conns_fini(&cs);
}

Test(conns, the_drain_keeps_an_idle_connection_whose_request_is_waiting, .timeout = 10)
{
    set_up(8);
    int cl = client();
    struct conn a = next_with_byte();
    conns_done(&cs, a, CONN_KEEP);
    cr_assert_eq(write(cl, "y", 1), 1); /* the next request, no worker has taken it yet */
    usleep(50 * 1000);
    conns_begin_drain(&cs);
    cr_assert_eq(conns_close_idle(&cs), 0, "a request waits on it: kept for a worker");
    struct conn b = next_with_byte(); /* its event was queued again */
    cr_assert_eq(b.fd, a.fd);
    conns_done(&cs, b, CONN_KEEP); /* draining: closed after that request */
    cr_assert(peer_closed(cl));
    close(cl);
    conns_fini(&cs);
}


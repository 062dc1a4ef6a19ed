/*
 * Process-wide counters for /metrics (Prometheus text format 0.0.4).
 * Every update is one relaxed atomic add: callable from any worker.
 */
#ifndef SESSIONLAB_METRICS_H
#define SESSIONLAB_METRICS_H

#include <stdbool.h>

#include "buf.h"

enum route_id {
    ROUTE_ROOT,
    ROUTE_API,
    ROUTE_SET,
    ROUTE_CLEAR,
    ROUTE_LOGIN,
    ROUTE_LOGOUT,
    ROUTE_CART,
    ROUTE_HELLO,
    ROUTE_HEALTHZ,
    ROUTE_READYZ,
    ROUTE_METRICS,
    ROUTE_OTHER,
    ROUTE_COUNT
};

/* The path a route answers ("other" for the 404 catch-all). */
const char *route_label(enum route_id r);

void metrics_request(enum route_id r, int status);
void metrics_session_created(void);
void metrics_session_destroyed(void);
void metrics_login(void);
void metrics_logout(void);
/* Sessions ended by "log out everywhere" besides the requester's own. */
void metrics_sessions_revoked(long long n);
void metrics_id_rotation(void);
void metrics_store_error(void);
void metrics_store_latency(long long ns);
void metrics_connection_opened(void);
void metrics_connection_closed(void);

/* Writes the whole exposition; live < 0 leaves out the live-sessions gauge. */
void metrics_render(struct buf *b, const char *store, long long live, bool store_up);

#endif

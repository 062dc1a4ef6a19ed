/* Response bodies: the session page, its JSON, and plain message pages. */
#ifndef SESSIONLAB_RENDER_H
#define SESSIONLAB_RENDER_H

#include "buf.h"
#include "session.h"

/* "yyyy/MM/dd HH:mm:ss" in local time; out needs 20 bytes. */
void render_date(long long unix_seconds, char out[20]);

/* The HTML session page. store is "memory" or "redis"; instance is the
 * name of this replica. Every session field is escaped. */
void render_page(struct buf *b, const struct session *s, const char *instance, const char *store);

/* The /api/session JSON object (docs/architecture.md), newline-terminated. */
void render_json(struct buf *b, const struct session *s, const char *instance, const char *store);

/* A small HTML page for errors and notices: title and one sentence. */
void render_message(struct buf *b, const char *title, const char *text);

#endif

/*
 * What a Redis Cluster node sends, as bytes on the wire: hiredis's reader
 * turns them into a reply, then the CLUSTER SLOTS walker and the MOVED/ASK
 * reader must accept only what is valid: slots in range with first <=
 * last, ports 1-65535, NUL-terminated host names that pass host_valid.
 */
#include <hiredis/hiredis.h>

#include "cluster_map.h"
#include "cluster_slot.h"
#include "fuzz_check.h"
#include "host.h"
#include "redis_reader.h"

static int each(void *ctx, unsigned first, unsigned last, const char *host, int port)
{
    (void)ctx;
    FUZZ_CHECK(first <= last && last < CLUSTER_SLOTS);
    FUZZ_CHECK(port >= 1 && port <= 65535);
    size_t n = strnlen(host, REDIS_HOST_MAX);
    FUZZ_CHECK(n > 0 && n < REDIS_HOST_MAX);
    FUZZ_CHECK(host_valid(host, n, memchr(host, ':', n) != NULL));
    return 0;
}

static void check_redirect(const redisReply *r)
{
    unsigned slot = CLUSTER_SLOTS;
    char host[REDIS_HOST_MAX];
    int port = 0;
    enum cluster_redirect k =
        cluster_map_parse_redirect(r, "asked", &slot, host, sizeof host, &port);
    if (k == CLUSTER_NO_REDIRECT)
        return;
    FUZZ_CHECK(k == CLUSTER_MOVED || k == CLUSTER_ASK);
    FUZZ_CHECK(slot < CLUSTER_SLOTS && port >= 1 && port <= 65535);
    FUZZ_CHECK(memchr(host, '\0', sizeof host) != NULL && host[0] != '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    redisReader *rd = redisReaderCreate();
    if (rd == NULL)
        return 0;
    redis_reader_bound(rd); /* as every connection of the app is */
    redisReaderFeed(rd, (const char *)data, size);
    void *reply = NULL;
    if (redisReaderGetReply(rd, &reply) == REDIS_OK && reply != NULL) {
        char err[128];
        int n = cluster_map_parse_slots(reply, "asked", each, NULL, err, sizeof err);
        FUZZ_CHECK(n >= -1);
        if (n < 0)
            FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL && err[0] != '\0');
        check_redirect(reply);
        freeReplyObject(reply);
    }
    redisReaderFree(rd);
    return 0;
}

/*
 * Bounds on what hiredis's reply reader allocates. hiredis 0.14 allocates
 * an array reply's element table as soon as it reads the count, so a node
 * that sends "*1000000000\r\n" makes it allocate 8 GB before one element
 * has arrived (found by fuzz_cluster_map). A bounded reader refuses an
 * array longer than REDIS_REPLY_ARRAY_MAX: the read fails ("Out of
 * memory", hiredis's word for it) and the connection is dropped, as for
 * any protocol error. Every other allocation grows only with the bytes
 * that arrived. The largest reply sessionlab expects is CLUSTER SLOTS: at
 * most 16384 ranges.
 */
#ifndef SESSIONLAB_REDIS_READER_H
#define SESSIONLAB_REDIS_READER_H

#include <hiredis/hiredis.h>

#define REDIS_REPLY_ARRAY_MAX 65536

/* Makes reader r (created with hiredis's default reply functions) bounded. */
void redis_reader_bound(redisReader *r);

#endif

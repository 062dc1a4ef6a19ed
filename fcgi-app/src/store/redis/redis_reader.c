/* A bounded hiredis reply reader (redis_reader.h). */
#include "redis_reader.h"

#include <pthread.h>

static redisReplyObjectFunctions bounded;
static redisReplyObjectFunctions *defaults;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void *bounded_array(const redisReadTask *task, int elements)
{
    if (elements > REDIS_REPLY_ARRAY_MAX)
        return NULL; /* the reader reports "Out of memory" */
    return defaults->createArray(task, elements);
}

/* hiredis keeps its default functions private: a reader it creates points
 * at them. */
static void capture_defaults(void)
{
    static redisReplyObjectFunctions copy;
    redisReader *probe = redisReaderCreate();
    if (probe == NULL || probe->fn == NULL) {
        if (probe != NULL)
            redisReaderFree(probe);
        return;
    }
    copy = *probe->fn;
    redisReaderFree(probe);
    defaults = &copy;
    bounded = copy;
    bounded.createArray = bounded_array;
}

void redis_reader_bound(redisReader *r)
{
    pthread_once(&once, capture_defaults);
    if (r != NULL && defaults != NULL && r->fn != NULL)
        r->fn = &bounded;
}

#include "store.h"

#include <string.h>

const struct store_ops *store_ops_find(const char *name)
{
    if (strcmp(name, "memory") == 0)
        return &store_memory_ops;
    if (strcmp(name, "redis") == 0)
        return &store_redis_ops;
    return NULL;
}

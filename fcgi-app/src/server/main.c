/* sessionlab-app: the FastCGI responder. The contract: docs/architecture.md. */
#include <stdio.h>

#include "config.h"
#include "log.h"
#include "server.h"
#include "store.h"

extern char **environ;

int main(int argc, char **argv)
{
    static struct config cfg;
    static char out[4096];
    char err[1024] = "", line[1024];

    switch (config_load(&cfg, argc, argv, environ, out, sizeof out, err, sizeof err)) {
    case CONFIG_EXIT_OK:
        fputs(out, stdout);
        return 0;
    case CONFIG_ERROR:
        fprintf(stderr, "sessionlab-app: %s\n", err);
        return 2;
    case CONFIG_OK:
        break;
    }
    const struct store_ops *ops = store_ops_find(cfg.store);
    if (ops->global_init && ops->global_init(&cfg, err, sizeof err) < 0) {
        fprintf(stderr, "sessionlab-app: store %s: %s\n", cfg.store, err);
        return 1;
    }
    config_describe(&cfg, line, sizeof line);
    log_info("sessionlab-app %s starting: %s", SESSIONLAB_VERSION, line);
    int rc = server_run(&cfg, ops);
    if (ops->global_fini)
        ops->global_fini();
    return rc;
}

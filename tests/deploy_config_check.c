/* Loads a passerelled configuration with the daemon's own parser (config.h) and checks what a
 * deployment needs from it: a real Kafka cluster (not the embedded mock) and the HTTP listener
 * on every interface at the given port, where the orchestrator probes it.
 * Usage: deploy_config_check FILE PORT   — exit 0 when valid, 1 with the reason otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: deploy_config_check FILE PORT\n");
        return 2;
    }
    config *cfg = NULL;
    px_error err = {0};
    if (config_load(argv[1], &cfg, &err)) {
        printf("FAIL: %s\n", err.msg);
        return 1;
    }
    int status = 0;
    if (cfg->kafka_embedded) {
        printf("FAIL: %s: [kafka] bootstrap.servers is the embedded mock cluster, not a real "
               "cluster\n",
               argv[1]);
        status = 1;
    }
    if (!cfg->http_enabled || strcmp(cfg->http_address, "0.0.0.0") ||
        cfg->http_port != atoi(argv[2])) {
        printf("FAIL: %s: [http] must be enabled on 0.0.0.0:%s (got %s on %s:%d)\n", argv[1],
               argv[2], cfg->http_enabled ? "enabled" : "disabled", cfg->http_address,
               cfg->http_port);
        status = 1;
    }
    if (status == 0)
        printf("ok: %s loads with config_load(), real Kafka, HTTP on 0.0.0.0:%d\n", argv[1],
               cfg->http_port);
    config_free(cfg);
    return status;
}

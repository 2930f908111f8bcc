/* passerelled — the passerelle daemon: profile and skill events in from Kafka, suggestions out,
 * state in Redis. See daemon/daemon.h and docs/operations.md. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <librdkafka/rdkafka.h>

#include "config.h"
#include "daemon.h"
#include "kafka_io.h"

static void usage(FILE *out) {
    fprintf(
        out,
        "usage: passerelled --config FILE     run the daemon\n"
        "       passerelled --check-config FILE\n"
        "                                     validate FILE and print the effective configuration\n"
        "       passerelled --help | --version\n"
        "\n"
        "With `bootstrap.servers = embedded` in [kafka], a Kafka broker (librdkafka's mock "
        "cluster)\n"
        "runs inside the daemon; its address is printed on stdout for other clients.\n"
        "Signals: SIGTERM/SIGINT finish the open batch, commit, leave the group and exit 0.\n"
        "Exit status: 0 clean shutdown, 1 fatal error (bad configuration, fatal Kafka error), 2 "
        "usage.\n");
}

/* Validates a configuration as far as it can be without the network, with the daemon's own
 * checks: the file itself, every librdkafka property set on a bare configuration object exactly
 * as the clients will get it, and the local ROME index with the matcher built on it (so the
 * [matching] constraints name contextes that exist). */
static int check_config(const char *path) {
    config *cfg = NULL;
    px_error err = {0};
    if (config_load(path, &cfg, &err)) {
        fprintf(stderr, "passerelled: %s\n", err.msg);
        return 1;
    }
    kafka_io_property props[CONFIG_MAX_KAFKA_PROPERTIES];
    for (size_t i = 0; i < cfg->n_kafka; i++)
        props[i] = (kafka_io_property){cfg->kafka[i].name, cfg->kafka[i].value};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int rc = 0;
    if (kafka_conf_apply(conf, props, cfg->n_kafka, &err) < 0) {
        fprintf(stderr, "passerelled: %s: [kafka] %s\n", path, err.msg);
        rc = 1;
    }
    rd_kafka_conf_destroy(conf);
    if (!rc && daemon_index_check(cfg, &err)) {
        fprintf(stderr, "passerelled: %s: %s\n", path, err.msg);
        rc = 1;
    }
    if (!rc) {
        printf("# %s: configuration is valid\n", path);
        config_explain(cfg, stdout);
    }
    config_free(cfg);
    return rc;
}

static int run(const char *path) {
    config *cfg = NULL;
    px_error err = {0};
    if (config_load(path, &cfg, &err)) {
        fprintf(stderr, "passerelled: %s\n", err.msg);
        return 1;
    }
    px_log *log =
        px_log_new(STDERR_FILENO, cfg->log_level, (uint64_t)time(NULL) ^ (uint64_t)getpid(), &err);
    if (!log) {
        fprintf(stderr, "passerelled: %s\n", err.msg);
        config_free(cfg);
        return 1;
    }
    daemon_pipeline_size_threadpool(cfg);
    uv_loop_t loop;
    uv_loop_init(&loop);
    px_daemon d;
    if (daemon_start(&d, &loop, cfg, log, &err)) {
        PX_LOG_ERRF(log, "cannot start", PX_LOG_STR("error", err.msg));
        daemon_stop(&d, 1);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    int rc = d.exit_code;
    daemon_free(&d);
    if (uv_loop_close(&loop) != 0) PX_LOG_WARNF(log, "some handles were still open at exit");
    PX_LOG_INFOF(log, "stopped", PX_LOG_INT("exit_code", rc));
    px_log_free(log);
    config_free(cfg);
    return rc;
}

/* glibc gives every thread that allocates an arena of its own (up to 8 per core), each reserving
 * 64 MiB and keeping what it once held: the worker threads and librdkafka's threads would spread
 * the daemon's memory over a dozen of them. Two arenas hold it close at the same speed here
 * (bench/README.md, issue 15). MALLOC_ARENA_MAX in the environment, read by glibc itself, wins. */
static void limit_arenas(void) {
#if defined(__GLIBC__)
    if (!getenv("MALLOC_ARENA_MAX")) mallopt(M_ARENA_MAX, 2);
#endif
}

int main(int argc, char **argv) {
    limit_arenas();
    /* hiredis and librdkafka write to sockets with write(2): a peer that goes away must be an
     * error to handle (EPIPE), not a signal that kills the process. */
    signal(SIGPIPE, SIG_IGN);
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", required_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL, *check_path = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'k': check_path = optarg; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("passerelled %s\n", PASSERELLE_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || (config_path == NULL) == (check_path == NULL)) {
        usage(stderr);
        return 2;
    }
    return check_path ? check_config(check_path) : run(config_path);
}

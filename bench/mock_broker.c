/* mock_broker — librdkafka's mock cluster as a standalone broker, for benchmarks that run the daemon
 * and other clients as separate processes against one cluster (bench_e2e).
 *
 * usage: mock_broker [--brokers N] [--partitions P] TOPIC...
 * Starts N brokers (default 3) on 127.0.0.1 with every TOPIC created with P partitions (default
 * 32), prints `bootstrap.servers=HOST:PORT,…` on stdout, then serves until SIGTERM, SIGINT or the
 * end of its standard input (so that it ends with the process that started it).
 *
 * The mock's limits hold (src/edge/kafka/kafka_embedded.h): each partition keeps about 5 MiB and
 * drops older messages silently, while its end offset keeps counting; no transaction markers. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kafka_embedded.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static int usage(void) {
    fprintf(stderr, "usage: mock_broker [--brokers N] [--partitions P] TOPIC...\n");
    return 2;
}

int main(int argc, char **argv) {
    int brokers = 3, partitions = 32, i = 1;
    for (; i < argc && !strncmp(argv[i], "--", 2); i += 2) {
        if (i + 1 >= argc) return usage();
        if (!strcmp(argv[i], "--brokers"))
            brokers = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--partitions"))
            partitions = atoi(argv[i + 1]);
        else
            return usage();
    }
    if (i >= argc) return usage();
    px_error err = {0};
    kafka_embedded *kb = kafka_embedded_start(brokers, (const char *const *)argv + i,
                                              (size_t)(argc - i), partitions, &err);
    if (!kb) {
        fprintf(stderr, "mock_broker: %s\n", err.msg);
        return 1;
    }
    printf("bootstrap.servers=%s\n", kafka_embedded_bootstraps(kb));
    fflush(stdout);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    /* Serve until a signal or the end of stdin (the parent gone). */
    while (!stop_requested) {
        struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
        int n = poll(&p, 1, 500);
        if (n < 0 && errno != EINTR) break;
        if (n > 0) {
            char buf[256];
            ssize_t r = read(STDIN_FILENO, buf, sizeof buf);
            if (r <= 0) break;
        }
    }
    kafka_embedded_stop(kb);
    return 0;
}

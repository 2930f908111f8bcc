/* passerelle broker — a standalone Kafka cluster (librdkafka's mock, kafka_embedded.h) for tests,
 * benchmarks and trying the daemon: it outlives the daemons and clients that connect to it, so a
 * test can kill and restart them, and it takes faults on its standard input while it runs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "kafka_embedded.h"

#define TOOL       "broker"
#define MAX_TOPICS KAFKA_EMBEDDED_MAX_TOPICS

static void usage(FILE *out) {
    fprintf(out,
            "usage: passerelle broker [--brokers N] [--partitions P] [--replication R] TOPIC…\n\n"
            "Starts a Kafka cluster of N brokers (default 3) on 127.0.0.1, librdkafka's mock\n"
            "cluster, with each TOPIC created with P partitions (default 8) and R replicas\n"
            "(default N). Prints `bootstrap.servers=HOST:PORT,…` on the first line of its\n"
            "output, then reads faults on its standard input, one a line, and answers each\n"
            "with `ok` or `error: …`:\n"
            "  down BROKER | up BROKER          (BROKER: 1..N or all)\n"
            "  rtt BROKER MS\n"
            "  errors API COUNT ERROR [ERROR…]  e.g. errors Produce 5 NOT_LEADER_FOR_PARTITION\n"
            "  leader TOPIC PARTITION BROKER\n"
            "It stops at the end of its input, on `quit`, or on SIGTERM/SIGINT. Everything is\n"
            "in memory; each partition keeps at most ~5 MiB (older messages are dropped).\n");
}

static int parse_count(const char *flag, const char *s, long max, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > max) {
        fprintf(stderr, "passerelle " TOOL ": %s expects an integer in 1..%ld, got '%s'\n", flag,
                max, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int cli_broker_main(int argc, char **argv) {
    int brokers = 3, partitions = 8, replication = 0;
    const char *topics[MAX_TOPICS];
    size_t n_topics = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        int *target = !strcmp(a, "--brokers")       ? &brokers
                      : !strcmp(a, "--partitions")  ? &partitions
                      : !strcmp(a, "--replication") ? &replication
                                                    : NULL;
        long max =
            target == &partitions ? KAFKA_EMBEDDED_MAX_PARTITIONS : KAFKA_EMBEDDED_MAX_BROKERS;
        if (target) {
            if (i + 1 >= argc || parse_count(a, argv[++i], max, target)) return 2;
        } else if (a[0] == '-') {
            fprintf(stderr, "passerelle " TOOL ": unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (n_topics == MAX_TOPICS) {
            fprintf(stderr, "passerelle " TOOL ": more than %d topics\n", MAX_TOPICS);
            return 2;
        } else {
            topics[n_topics++] = a;
        }
    }
    if (!replication) replication = brokers;
    px_error err = {0};
    kafka_embedded *kb =
        kafka_embedded_start(brokers, topics, n_topics, partitions, replication, &err);
    if (!kb) {
        fprintf(stderr, "passerelle " TOOL ": %s\n", err.msg);
        return 1;
    }
    printf("bootstrap.servers=%s\n", kafka_embedded_bootstraps(kb));
    fflush(stdout);
    char line[1024];
    while (fgets(line, sizeof line, stdin)) {
        if (!strchr(line, '\n') && !feof(stdin)) {
            printf("error: a fault line is at most %zu bytes\n", sizeof line - 2);
            int c;
            while ((c = getchar()) != EOF && c != '\n') continue;
        } else if (!strncmp(line, "quit", 4) && strspn(line + 4, " \t\r\n") == strlen(line + 4)) {
            break;
        } else if (strspn(line, " \t\r\n") == strlen(line)) {
            continue;
        } else if (kafka_embedded_fault(kb, line, &err)) {
            printf("error: %s\n", err.msg);
        } else {
            printf("ok\n");
        }
        fflush(stdout);
    }
    kafka_embedded_stop(kb);
    return 0;
}

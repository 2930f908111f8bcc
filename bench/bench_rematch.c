/* bench_rematch — the scan + produce side of `passerelle rematch` on many stored users.
 *
 *   bench_rematch PASSERELLE_BIN REDIS_PORT [USERS] [PARTITIONS] [BATCH]
 *
 * Writes USERS (default 1,000,000) state keys bench-rematch:user:u<n> into the Redis on
 * 127.0.0.1:REDIS_PORT (pipelined; the values are never read by the walk), starts the embedded
 * broker (PARTITIONS, default 64: the mock keeps 5 MiB per partition), runs the real
 * `passerelle rematch` against both, and prints users/s and the projection to six million. The
 * daemon's consumption rate is measured elsewhere (bench_kafka, bench_match). Use a scratch
 * Redis: the keys are deleted at the end (UNLINK), nothing else is touched. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "kafka_embedded.h"

#define PREFIX "bench-rematch:user:"
#define CHUNK  10000

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* SET (or UNLINK) the keys u0..u<n-1>, CHUNK commands per round trip. */
static int pipeline(redisContext *c, long n, int set) {
    for (long i = 0; i < n; i += CHUNK) {
        long end = i + CHUNK < n ? i + CHUNK : n;
        for (long k = i; k < end; k++)
            if (set)
                redisAppendCommand(c, "SET " PREFIX "u%ld x", k);
            else
                redisAppendCommand(c, "UNLINK " PREFIX "u%ld", k);
        for (long k = i; k < end; k++) {
            void *r = NULL;
            if (redisGetReply(c, &r) != REDIS_OK) return -1;
            freeReplyObject(r);
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr,
                "usage: bench_rematch PASSERELLE_BIN REDIS_PORT [USERS] [PARTITIONS] [BATCH]\n");
        return 2;
    }
    int port = atoi(argv[2]);
    long users = argc > 3 ? atol(argv[3]) : 1000000;
    int partitions = argc > 4 ? atoi(argv[4]) : 64;
    const char *batch = argc > 5 ? argv[5] : "10000";
    redisContext *c = redisConnect("127.0.0.1", port);
    if (!c || c->err) {
        fprintf(stderr, "bench_rematch: redis 127.0.0.1:%d: %s\n", port,
                c ? c->errstr : "no memory");
        return 1;
    }
    double t = now_s();
    if (pipeline(c, users, 1))
        return fprintf(stderr, "bench_rematch: SET failed: %s\n", c->errstr), 1;
    printf("filled %ld state keys in %.1f s\n", users, now_s() - t);

    const char *topics[] = {"passerelle.profile.v1"};
    px_error err = {0};
    kafka_embedded *kb = kafka_embedded_start(1, topics, 1, partitions, 1, &err);
    if (!kb) return fprintf(stderr, "bench_rematch: %s\n", err.msg), 1;
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
    t = now_s();
    pid_t pid = fork();
    if (pid == 0) {
        execl(argv[1], argv[1], "rematch", "--redis", url, "--brokers",
              kafka_embedded_bootstraps(kb), "--prefix", PREFIX, "--rome-version", "4.0-61",
              "--batch", batch, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    double secs = now_s() - t;
    kafka_embedded_stop(kb);
    pipeline(c, users, 0);
    redisFree(c);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_rematch: passerelle rematch failed (status %d)\n", status);
        return 1;
    }
    double rate = (double)users / secs;
    printf("rematch: %ld users scanned and produced in %.1f s: %.0f users/s (COUNT %s, %d "
           "partitions)\n",
           users, secs, rate, batch, partitions);
    printf("projection: 6,000,000 users in %.0f s (%.1f min)\n", 6e6 / rate, 6e6 / rate / 60);
    return 0;
}

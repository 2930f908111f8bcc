/* tests/support/redis_server: the throw-away redis-server dies with its test process, even one
 * that crashes, and a stopped server restarts on the same port. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "redis_server.h"

static int answers(int port) {
    struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    int ok = c && !c->err;
    redisFree(c);
    return ok;
}

/* Polls for up to 3 s until the port stops answering. */
static int gone_within_3s(int port) {
    for (int i = 0; i < 300; i++) {
        if (!answers(port)) return 1;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* What a crashed test leaves behind is only its directory; removed here so runs leave nothing. */
static void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

typedef struct started {
    int port;
    char socket_path[256];
} started;

static void test_server_dies_with_a_crashing_test(void **state) {
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        px_error err;
        redis_server_options so = {.unix_socket = 1};
        redis_server *srv = redis_server_start(&so, &err);
        started info = {.port = srv ? redis_server_port(srv) : -1};
        if (srv)
            snprintf(info.socket_path, sizeof info.socket_path, "%s",
                     redis_server_socket_path(srv));
        if (write(fds[1], &info, sizeof info) != sizeof info) _exit(3);
        signal(SIGABRT, SIG_DFL);
        abort(); /* a crash: no teardown runs */
    }
    close(fds[1]);
    started info = {.port = -1};
    assert_int_equal(read(fds[0], &info, sizeof info), (ssize_t)sizeof info);
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status));
    assert_true(info.port > 0);
    int gone = gone_within_3s(info.port);
    *strrchr(info.socket_path, '/') = '\0';
    remove_dir(info.socket_path);
    assert_true(gone);
}

static void test_stop_restart_same_port_and_cleanup(void **state) {
    (void)state;
    px_error err;
    redis_server_options so = {.unix_socket = 1};
    redis_server *srv = redis_server_start(&so, &err);
    if (!srv) fail_msg("%s", err.msg);
    int port = redis_server_port(srv);
    char url[64], dir[128];
    redis_server_url(srv, url, sizeof url);
    assert_true(strstr(url, "redis://127.0.0.1:") == url);
    assert_int_equal(atoi(url + strlen("redis://127.0.0.1:")), port);
    struct stat st;
    assert_int_equal(stat(redis_server_socket_path(srv), &st), 0);
    snprintf(dir, sizeof dir, "%s", redis_server_socket_path(srv));
    *strrchr(dir, '/') = '\0';

    assert_int_equal(redis_server_restart(srv, &err), -1); /* still running */
    assert_non_null(strstr(err.msg, "still running"));
    assert_int_equal(redis_server_stop(srv, &err), 0);
    assert_false(answers(port));
    assert_int_equal(redis_server_stop(srv, &err), -1);
    assert_non_null(strstr(err.msg, "not running"));
    assert_int_equal(redis_server_restart(srv, &err), 0);
    assert_int_equal(redis_server_port(srv), port);
    redisContext *c = redis_server_connect(srv, &err);
    assert_non_null(c);
    redisReply *r = redisCommand(c, "PING");
    assert_non_null(r);
    assert_string_equal(r->str, "PONG");
    freeReplyObject(r);
    redisFree(c);
    redis_server_free(srv);
    assert_true(gone_within_3s(port));
    assert_int_equal(stat(dir, &st), -1); /* its directory is removed */
}

static void test_bad_options(void **state) {
    (void)state;
    px_error err;
    redis_server_options so = {.acl_user = "bob"};
    assert_null(redis_server_start(&so, &err));
    assert_non_null(strstr(err.msg, "acl_user 'bob' needs an acl_password"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_dies_with_a_crashing_test),
        cmocka_unit_test(test_stop_restart_same_port_and_cleanup),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

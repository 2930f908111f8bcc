/* Unit tests of service_notify.h against a fake service manager: a unix datagram socket bound in a
 * temporary directory and named by NOTIFY_SOCKET, as systemd does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "service_notify.h"

typedef struct fake_manager {
    char dir[64];
    char path[96];
    int fd;
} fake_manager;

static int manager_setup(void **state) {
    fake_manager *fm = calloc(1, sizeof *fm);
    snprintf(fm->dir, sizeof fm->dir, "/tmp/px-notify-XXXXXX");
    assert_non_null(mkdtemp(fm->dir));
    snprintf(fm->path, sizeof fm->path, "%.60s/notify", fm->dir);
    fm->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fm->fd >= 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", fm->path);
    assert_int_equal(bind(fm->fd, (struct sockaddr *)&addr, sizeof addr), 0);
    setenv("NOTIFY_SOCKET", fm->path, 1);
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    *state = fm;
    return 0;
}

static int manager_teardown(void **state) {
    fake_manager *fm = *state;
    close(fm->fd);
    unlink(fm->path);
    rmdir(fm->dir);
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    free(fm);
    return 0;
}

/* Returns the next datagram, or "" when none is waiting. */
static const char *next_message(fake_manager *fm) {
    static char buf[1024];
    ssize_t n = recv(fm->fd, buf, sizeof buf - 1, MSG_DONTWAIT);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static void test_messages_reach_the_manager(void **state) {
    fake_manager *fm = *state;
    service_notify n;
    px_error err = {0};
    assert_int_equal(service_notify_init(&n, &err), 0);
    assert_true(n.enabled);
    assert_int_equal(service_notify_ready(&n, "ready: 6 partitions, ROME v60", &err), 0);
    assert_string_equal(next_message(fm), "READY=1\nSTATUS=ready: 6 partitions, ROME v60");
    assert_int_equal(service_notify_status(&n, "120 events/s\nline two", &err), 0);
    assert_string_equal(next_message(fm), "STATUS=120 events/s line two");
    assert_int_equal(service_notify_watchdog(&n, &err), 0);
    assert_string_equal(next_message(fm), "WATCHDOG=1");
    assert_int_equal(service_notify_extend_timeout(&n, 30000000, &err), 0);
    assert_string_equal(next_message(fm), "EXTEND_TIMEOUT_USEC=30000000");
    assert_int_equal(service_notify_stopping(&n, NULL, &err), 0);
    assert_string_equal(next_message(fm), "STOPPING=1");
    assert_string_equal(next_message(fm), "");
}

static void test_status_is_bounded(void **state) {
    fake_manager *fm = *state;
    service_notify n;
    assert_int_equal(service_notify_init(&n, NULL), 0);
    char long_status[SERVICE_NOTIFY_STATUS_MAX * 2];
    memset(long_status, 's', sizeof long_status - 1);
    long_status[sizeof long_status - 1] = '\0';
    assert_int_equal(service_notify_status(&n, long_status, NULL), 0);
    const char *got = next_message(fm);
    assert_int_equal(strlen(got), strlen("STATUS=") + SERVICE_NOTIFY_STATUS_MAX);
}

/* What systemd sets for a unit with WatchdogSec=: the timeout, and the pid it is meant for. */
static void set_watchdog_env(const char *usec) {
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    setenv("WATCHDOG_USEC", usec, 1);
    setenv("WATCHDOG_PID", pid, 1);
}

static void test_watchdog_interval_is_half_the_timeout(void **state) {
    (void)state;
    set_watchdog_env("10000000");
    service_notify n;
    assert_int_equal(service_notify_init(&n, NULL), 0);
    assert_int_equal(service_notify_watchdog_usec(&n), 5000000);
    /* The variables stay set for the rest of the process's life. */
    assert_non_null(getenv("WATCHDOG_USEC"));
    /* A watchdog meant for another process is not ours. */
    setenv("WATCHDOG_PID", "1", 1);
    assert_int_equal(service_notify_init(&n, NULL), 0);
    assert_int_equal(service_notify_watchdog_usec(&n), 0);
    /* Malformed values are an error that says what is wrong. */
    set_watchdog_env("ten seconds");
    px_error err = {0};
    assert_int_equal(service_notify_init(&n, &err), -1);
    assert_non_null(strstr(err.msg, "WATCHDOG_USEC"));
}

static void test_without_manager_everything_is_a_no_op(void **state) {
    fake_manager *fm = *state;
    unsetenv("NOTIFY_SOCKET");
    set_watchdog_env("10000000");
    service_notify n;
    assert_int_equal(service_notify_init(&n, NULL), 0);
    assert_false(n.enabled);
    assert_int_equal(service_notify_watchdog_usec(&n), 0);
    assert_int_equal(service_notify_ready(&n, "x", NULL), 0);
    assert_int_equal(service_notify_watchdog(&n, NULL), 0);
    assert_int_equal(service_notify_stopping(&n, "x", NULL), 0);
    assert_string_equal(next_message(fm), "");
}

static void test_send_failure_is_reported(void **state) {
    fake_manager *fm = *state;
    char missing[160];
    snprintf(missing, sizeof missing, "%s/nobody-listens", fm->dir);
    setenv("NOTIFY_SOCKET", missing, 1);
    service_notify n;
    assert_int_equal(service_notify_init(&n, NULL), 0);
    px_error err = {0};
    assert_int_equal(service_notify_ready(&n, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "READY=1"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_messages_reach_the_manager, manager_setup,
                                        manager_teardown),
        cmocka_unit_test_setup_teardown(test_status_is_bounded, manager_setup, manager_teardown),
        cmocka_unit_test_setup_teardown(test_watchdog_interval_is_half_the_timeout, manager_setup,
                                        manager_teardown),
        cmocka_unit_test_setup_teardown(test_without_manager_everything_is_a_no_op, manager_setup,
                                        manager_teardown),
        cmocka_unit_test_setup_teardown(test_send_failure_is_reported, manager_setup,
                                        manager_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#include "loop_wait.h"

static void on_deadline(uv_timer_t *t) { *(int *)t->data = 1; }

int px_test_run_until(uv_loop_t *loop, const volatile int *done, unsigned timeout_ms) {
    int expired = 0;
    uv_timer_t deadline;
    uv_timer_init(loop, &deadline);
    deadline.data = &expired;
    uv_timer_start(&deadline, on_deadline, timeout_ms, 0);
    while (!*done && !expired) uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&deadline, NULL);
    uv_run(loop, UV_RUN_NOWAIT); /* lets the close complete before `deadline` goes out of scope */
    return *done ? 0 : -1;
}

void px_test_run_for(uv_loop_t *loop, unsigned ms) {
    static const int never = 0;
    (void)px_test_run_until(loop, &never, ms);
}

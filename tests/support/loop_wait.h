/* loop_wait — run a libuv loop in a test until a condition holds, never longer than a bound.
 *
 * Tests drive asynchronous code by running the loop; these helpers make every such wait bounded,
 * so a missing callback fails the test instead of hanging it. They use a private uv timer, which
 * is closed before they return. */
#ifndef PX_TEST_LOOP_WAIT_H
#define PX_TEST_LOOP_WAIT_H

#include <uv.h>

/* Runs loop until *done becomes non-zero or timeout_ms elapse. Returns 0 if *done, -1 on
 * timeout. */
int px_test_run_until(uv_loop_t *loop, const volatile int *done, unsigned timeout_ms);

/* Runs loop for ms milliseconds, processing whatever happens meanwhile. */
void px_test_run_for(uv_loop_t *loop, unsigned ms);

#endif

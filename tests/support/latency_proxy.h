/* latency_proxy — a loopback TCP forwarder that delays every server→client chunk, for tests.
 *
 * It runs on the test's own libuv loop (no thread). Clients connect to latency_proxy_port();
 * each connection is forwarded to 127.0.0.1:target_port, and what the server sends back reaches
 * the client delay_ms later. A request/reply exchange therefore costs at least delay_ms per round
 * trip, so a test can tell one pipelined round trip (≈ delay_ms) from one per command
 * (≈ n × delay_ms) by timing it. It also counts the round trips it saw: server→client chunks
 * that followed new client data (latency_proxy_round_trips).
 *
 * Ownership: latency_proxy_close closes every handle; the memory is released by the loop's close
 * callbacks (run the loop afterwards). Not thread-safe. */
#ifndef PX_TEST_LATENCY_PROXY_H
#define PX_TEST_LATENCY_PROXY_H

#include <stdint.h>
#include <uv.h>

#include "px_error.h"

typedef struct latency_proxy latency_proxy;

latency_proxy *latency_proxy_start(uv_loop_t *loop, int target_port, unsigned delay_ms,
                                   px_error *err);
int latency_proxy_port(const latency_proxy *p);
/* Makes the link thin as well as long: server→client chunks (up to 64 KiB each) also leave at
 * least pace_ms apart, so a large reply trickles in over many loop iterations. 0 = no pacing. */
void latency_proxy_set_pace(latency_proxy *p, unsigned pace_ms);
/* Times the server answered after the client had sent something new since the last answer. */
uint64_t latency_proxy_round_trips(const latency_proxy *p);
void latency_proxy_close(latency_proxy *p);

#endif

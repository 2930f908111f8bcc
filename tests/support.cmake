# px_test_support: helpers shared by tests (link it, include "redis_server.h" / "loop_wait.h").
#   tests/support/redis_server.{c,h}  start/stop/restart/pause a real redis-server on a free port
#   tests/support/loop_wait.{c,h}     run a libuv loop until a condition holds, within a bound
#   tests/support/latency_proxy.{c,h} loopback TCP forwarder delaying replies: proves round trips by timing
add_library(px_test_support STATIC
  ${CMAKE_SOURCE_DIR}/tests/support/redis_server.c
  ${CMAKE_SOURCE_DIR}/tests/support/loop_wait.c
  ${CMAKE_SOURCE_DIR}/tests/support/latency_proxy.c)
target_include_directories(px_test_support PUBLIC ${CMAKE_SOURCE_DIR}/tests/support)
target_link_libraries(px_test_support PUBLIC passerelle)

# px_reference_scorer: docs/matching.md §1, §3, §4 computed the plain way (full scans, double
# precision), for the matcher's tests to compare the engine with (tests/support/reference_scorer.h).
add_library(px_reference_scorer STATIC ${CMAKE_SOURCE_DIR}/tests/support/reference_scorer.c)
target_include_directories(px_reference_scorer PUBLIC ${CMAKE_SOURCE_DIR}/tests/support)
target_link_libraries(px_reference_scorer PUBLIC px_core)

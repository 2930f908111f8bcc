# Tests of the operations area: metrics registry, HTTP listener, service notification, logging.
find_package(Threads REQUIRED)

foreach(ops_test metrics_test log_test service_notify_test http_server_test)
  add_executable(${ops_test} tests/${ops_test}.c)
  target_link_libraries(${ops_test} PRIVATE passerelle PkgConfig::CMOCKA Threads::Threads)
  add_test(NAME ${ops_test} COMMAND ${ops_test})
  set_tests_properties(${ops_test} PROPERTIES LABELS "unit;ops" TIMEOUT 60)
endforeach()

# A running passerelled: /healthz, /readyz, /metrics (documented in docs/operations.md), log
# format, systemd notifications and SIGTERM. Skipped (exit 77) while passerelled is not built.
add_executable(notify_listener tests/notify_listener.c)
add_test(NAME ops_scrape COMMAND bash ${CMAKE_SOURCE_DIR}/tests/ops_scrape.sh ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR})
set_tests_properties(ops_scrape PROPERTIES LABELS "ops" TIMEOUT 120 SKIP_RETURN_CODE 77)

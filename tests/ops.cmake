# Tests of the operations area: metrics registry, HTTP listener, service notification, logging.
find_package(Threads REQUIRED)

foreach(ops_test metrics_test log_test service_notify_test http_server_test)
  add_executable(${ops_test} tests/${ops_test}.c)
  target_link_libraries(${ops_test} PRIVATE passerelle PkgConfig::CMOCKA Threads::Threads)
  add_test(NAME ${ops_test} COMMAND ${ops_test})
  set_tests_properties(${ops_test} PROPERTIES LABELS "unit;ops" TIMEOUT 60)
endforeach()

# Redis edge: endpoint parsing (unit), store_redis + store_publish against a real redis-server,
# and the redis-server test support itself.
add_executable(redis_endpoint_test ${CMAKE_SOURCE_DIR}/tests/redis_endpoint_test.c)
target_link_libraries(redis_endpoint_test PRIVATE passerelle PkgConfig::CMOCKA)
add_test(NAME redis_endpoint COMMAND redis_endpoint_test)
set_tests_properties(redis_endpoint PROPERTIES TIMEOUT 30)

find_program(REDIS_SERVER_EXECUTABLE redis-server)
if(REDIS_SERVER_EXECUTABLE)
  add_executable(redis_store_test ${CMAKE_SOURCE_DIR}/tests/redis_store_test.c)
  target_link_libraries(redis_store_test PRIVATE px_test_support passerelle PkgConfig::CMOCKA)
  add_test(NAME redis_store COMMAND redis_store_test)
  # Each wait inside is bounded (5 s at most); the whole file runs in ~6 s.
  set_tests_properties(redis_store PROPERTIES TIMEOUT 120)

  # A primary, a replica and three sentinels (redis-server --sentinel); a failover mid-stream.
  add_executable(redis_sentinel_test ${CMAKE_SOURCE_DIR}/tests/redis_sentinel_test.c)
  target_link_libraries(redis_sentinel_test PRIVATE px_test_support passerelle PkgConfig::CMOCKA)
  add_test(NAME redis_sentinel COMMAND redis_sentinel_test)
  set_tests_properties(redis_sentinel PROPERTIES TIMEOUT 180)

  add_executable(redis_server_test ${CMAKE_SOURCE_DIR}/tests/redis_server_test.c)
  target_link_libraries(redis_server_test PRIVATE px_test_support passerelle PkgConfig::CMOCKA)
  add_test(NAME redis_server COMMAND redis_server_test)
  set_tests_properties(redis_server PROPERTIES TIMEOUT 60)
else()
  message(WARNING "redis-server not found: the redis_store test is not built (deploy/install-deps.sh installs it)")
endif()

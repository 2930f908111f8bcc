# Redis edge benchmark: batched vs per-key round trips against a real redis-server (a program that
# prints figures, never a test).   bench_redis [USERS] [BATCH] [VALUE_BYTES] [LINK_DELAY_MS]
add_executable(bench_redis ${CMAKE_SOURCE_DIR}/bench/bench_redis.c)
target_link_libraries(bench_redis PRIVATE px_test_support passerelle)

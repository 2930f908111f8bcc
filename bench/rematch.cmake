# Rematch benchmark: SCAN + produce of `passerelle rematch` on a million stored users, against a
# scratch redis-server and the embedded broker (a program that prints figures, never a test).
#   bench_rematch PASSERELLE_BIN REDIS_PORT [USERS] [PARTITIONS] [BATCH]
add_executable(bench_rematch ${CMAKE_SOURCE_DIR}/bench/bench_rematch.c)
target_link_libraries(bench_rematch PRIVATE passerelle)

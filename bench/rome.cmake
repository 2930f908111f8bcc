# Benchmarks are programs that print figures; they are built, never run as tests.
add_executable(bench_rome ${CMAKE_SOURCE_DIR}/bench/bench_rome.c)
target_link_libraries(bench_rome PRIVATE px_core)

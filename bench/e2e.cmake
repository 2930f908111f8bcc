# The whole daemon against a raw passthrough (issue 15; a program that prints figures, never a
# test): a standalone mock cluster (`passerelle broker`), the passthrough (bench_passthrough) and the
# controller, which starts them, redis-server and passerelled.
#   bench_e2e [--rome DIR] [--events N] [--rounds R] [--rate N] [--latency-s S] [--daemon PATH]
add_executable(bench_passthrough ${CMAKE_SOURCE_DIR}/bench/bench_passthrough.c)
target_link_libraries(bench_passthrough PRIVATE PkgConfig::RDKAFKA)
add_executable(bench_e2e ${CMAKE_SOURCE_DIR}/bench/bench_e2e.c)
target_compile_definitions(bench_e2e PRIVATE
  PASSERELLE_ROME_DIR="${PASSERELLE_ROME_DIR}"
  BENCH_PASSERELLED="$<TARGET_FILE:passerelled>"
  BENCH_PASSTHROUGH="$<TARGET_FILE:bench_passthrough>"
  BENCH_MOCK_BROKER="$<TARGET_FILE:passerelle-cli>")
target_link_libraries(bench_e2e PRIVATE passerelle)
add_dependencies(bench_e2e passerelled passerelle-cli bench_passthrough)

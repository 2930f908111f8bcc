# Title resolver benchmark (owner: titles helper): prints figures, never a test.
#   bench_titles [ROME_DIR] [REPEATS]      resolve times p50/p99/max, real-world and adversarial
#   bench_titles ROME_DIR -q TITLE...      the top 5 appellations of each title
add_executable(bench_titles ${CMAKE_SOURCE_DIR}/bench/bench_titles.c)
target_compile_definitions(bench_titles PRIVATE PASSERELLE_ROME_DIR="${PASSERELLE_ROME_DIR}")
target_link_libraries(bench_titles PRIVATE px_core)

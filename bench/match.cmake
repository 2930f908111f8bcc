# Matching benchmark (owner: matcher helper): a program that prints figures, never a test.
#   bench_match [ROME_DIR] [PROFILES]
add_executable(bench_match ${CMAKE_SOURCE_DIR}/bench/bench_match.c)
target_compile_definitions(bench_match PRIVATE PASSERELLE_ROME_DIR="${PASSERELLE_ROME_DIR}")
target_link_libraries(bench_match PRIVATE passerelle px_matcher_gen)

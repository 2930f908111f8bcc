# Matching benchmark (owner: matcher helper): a program that prints figures, never a test.
#   bench_match [ROME_DIR] [PROFILES]
add_executable(bench_match ${CMAKE_SOURCE_DIR}/bench/bench_match.c)
target_compile_definitions(bench_match PRIVATE PASSERELLE_ROME_DIR="${PASSERELLE_ROME_DIR}")
target_link_libraries(bench_match PRIVATE passerelle px_matcher_gen)

# The same benchmark over the matcher built without its x86 vector paths (target_clones, AVX-512
# intrinsics): the portable C that other CPUs run. Its matcher.c object is linked before the
# library's, so the library's is not pulled in.
add_executable(bench_match_portable ${CMAKE_SOURCE_DIR}/bench/bench_match.c ${CMAKE_SOURCE_DIR}/src/matcher.c)
target_compile_definitions(bench_match_portable PRIVATE PASSERELLE_ROME_DIR="${PASSERELLE_ROME_DIR}"
                           PX_MATCHER_PORTABLE)
target_link_libraries(bench_match_portable PRIVATE passerelle px_matcher_gen)

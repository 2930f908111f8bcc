# Ranking quality against the ROME 4.0 expert mobilités (dev half): a program that prints figures,
# never a test (data/eval/README.md: measure only, never tune to the lists).
#   bench_quality [ROME_DIR] [--eval FILE] [--list FICHE | --tsv]
add_executable(bench_quality ${CMAKE_SOURCE_DIR}/bench/quality.c)
target_compile_definitions(bench_quality PRIVATE PASSERELLE_ROME_DIR="${PASSERELLE_ROME_DIR}")
target_link_libraries(bench_quality PRIVATE px_core)

# Codec benchmark (owner: codec helper): strict decoding vs msgpack-c's bare unpack, the user state
# round trip, and the answers' encoding vs memcpy on real matches (a program that prints figures,
# never a test).   bench_codec [ITERATIONS] [ROME_DIR]
add_executable(bench_codec ${CMAKE_SOURCE_DIR}/bench/bench_codec.c)
target_compile_definitions(bench_codec PRIVATE PASSERELLE_ROME_DIR="${PASSERELLE_ROME_DIR}")
target_link_libraries(bench_codec PRIVATE passerelle px_matcher_gen PkgConfig::XXHASH)

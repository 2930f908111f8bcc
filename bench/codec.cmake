# Codec benchmark (owner: codec helper): strict decoding vs msgpack-c's bare unpack, and the user
# state round trip (a program that prints figures, never a test).   bench_codec [ITERATIONS]
add_executable(bench_codec ${CMAKE_SOURCE_DIR}/bench/bench_codec.c)
target_link_libraries(bench_codec PRIVATE passerelle)

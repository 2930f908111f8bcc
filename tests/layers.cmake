# The layers: cmake/layer_check.sh, the compiler launcher of the checked targets, refuses I/O and
# higher-layer headers in the core (and I/O headers in the codecs and edge-common).
add_test(NAME layer_check COMMAND bash ${CMAKE_SOURCE_DIR}/tests/layer_check_test.sh ${CMAKE_SOURCE_DIR}
         ${CMAKE_C_COMPILER})

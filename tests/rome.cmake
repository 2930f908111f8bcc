# ROME loader, index and snapshot: unit tests on the hand-written fixture, integration tests on
# the official export, and the `passerelle rome` command line. Core tests link the core alone.
add_library(px_rome_fixture STATIC ${CMAKE_SOURCE_DIR}/tests/support/rome_fixture.c)
target_include_directories(px_rome_fixture PUBLIC ${CMAKE_SOURCE_DIR}/tests/support)

add_executable(rome_index_test ${CMAKE_SOURCE_DIR}/tests/rome_index_test.c)
target_compile_definitions(rome_index_test PRIVATE FIXTURE_DIR="${CMAKE_SOURCE_DIR}/tests/fixtures/rome_mini")
target_link_libraries(rome_index_test PRIVATE px_core px_rome_fixture PkgConfig::XXHASH PkgConfig::CMOCKA)
add_test(NAME rome_index COMMAND rome_index_test)

add_executable(rome_real_test ${CMAKE_SOURCE_DIR}/tests/rome_real_test.c)
target_link_libraries(rome_real_test PRIVATE px_core PkgConfig::CMOCKA)
add_test(NAME rome_real COMMAND rome_real_test)
set_tests_properties(rome_real PROPERTIES ENVIRONMENT "PASSERELLE_ROME_DIR=${PASSERELLE_ROME_DIR}")

add_test(NAME cli_rome COMMAND ${CMAKE_SOURCE_DIR}/tests/cli_rome_test.sh $<TARGET_FILE:passerelle-cli>
         ${PASSERELLE_ROME_DIR} ${CMAKE_SOURCE_DIR}/tests/fixtures/rome_mini)

add_executable(code_table_test ${CMAKE_SOURCE_DIR}/tests/code_table_test.c)
target_link_libraries(code_table_test PRIVATE px_core PkgConfig::CMOCKA)
add_test(NAME code_table COMMAND code_table_test)

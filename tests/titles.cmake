# Title resolver (owner: titles helper).
#   title_resolver_test  on tests/fixtures/titles (generic vs specific titles, acronyms,
#                        ambiguity, typos, refusals) and on the official export (generic titles,
#                        acronyms, real-world spellings, a 1 ms bound on adversarial titles;
#                        skipped when PASSERELLE_ROME_DIR does not hold it)
add_executable(title_resolver_test ${CMAKE_SOURCE_DIR}/tests/title_resolver_test.c)
target_compile_definitions(title_resolver_test PRIVATE
                           FIXTURE_DIR="${CMAKE_SOURCE_DIR}/tests/fixtures/titles")
target_link_libraries(title_resolver_test PRIVATE px_core px_rome_fixture PkgConfig::CMOCKA)
add_test(NAME title_resolver COMMAND title_resolver_test)
set_tests_properties(title_resolver PROPERTIES
                     ENVIRONMENT "PASSERELLE_ROME_DIR=${PASSERELLE_ROME_DIR}" TIMEOUT 120)

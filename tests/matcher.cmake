# Matching engine (owner: matcher helper).
#   matcher_test       matcher, title resolver and suggestion codec on tests/fixtures/matcher, every
#                      profile checked against the reference scorer (tests/support/reference_scorer.h)
#   matcher_real_test  properties over generated profiles, the reference comparison and real-world
#                      title spellings on the official export (skipped when PASSERELLE_ROME_DIR
#                      does not hold it)
#   personas_test      20+ personas written from ROME's content, with PLAUSIBILITY expectations;
#                      prints each top 10 for a reader to judge (skipped without the export)
#   cli_match          `passerelle match`: JSON Lines in and out, errors per line, --config, exit status
#   cli_explain        `passerelle match --labels` and `passerelle explain` (en, fr) on the fixture,
#                      and on the official export when PASSERELLE_ROME_DIR holds it
add_library(px_matcher_gen STATIC ${CMAKE_SOURCE_DIR}/tests/matcher_gen.c)
target_include_directories(px_matcher_gen PUBLIC ${CMAKE_SOURCE_DIR}/tests)
target_link_libraries(px_matcher_gen PUBLIC px_core)

add_executable(matcher_test ${CMAKE_SOURCE_DIR}/tests/matcher_test.c)
target_compile_definitions(matcher_test PRIVATE FIXTURE_DIR="${CMAKE_SOURCE_DIR}/tests/fixtures/matcher")
target_link_libraries(matcher_test PRIVATE px_codec px_rome_fixture px_reference_scorer PkgConfig::CMOCKA)
add_test(NAME matcher COMMAND matcher_test)

add_executable(matcher_real_test ${CMAKE_SOURCE_DIR}/tests/matcher_real_test.c)
target_link_libraries(matcher_real_test PRIVATE px_codec px_matcher_gen px_reference_scorer PkgConfig::CMOCKA)
add_test(NAME matcher_real COMMAND matcher_real_test)
set_tests_properties(matcher_real PROPERTIES ENVIRONMENT "PASSERELLE_ROME_DIR=${PASSERELLE_ROME_DIR}" TIMEOUT 300)

add_executable(personas_test ${CMAKE_SOURCE_DIR}/tests/personas_test.c)
target_link_libraries(personas_test PRIVATE px_core PkgConfig::CMOCKA)
add_test(NAME personas COMMAND personas_test)
set_tests_properties(personas PROPERTIES ENVIRONMENT "PASSERELLE_ROME_DIR=${PASSERELLE_ROME_DIR}" TIMEOUT 120)

add_test(NAME cli_match COMMAND ${CMAKE_SOURCE_DIR}/tests/cli_match_test.sh $<TARGET_FILE:passerelle-cli>
         ${PASSERELLE_ROME_DIR})
set_tests_properties(cli_match PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
add_test(NAME cli_explain
         COMMAND ${CMAKE_SOURCE_DIR}/tests/cli_explain_test.sh $<TARGET_FILE:passerelle-cli>
                 ${PASSERELLE_ROME_DIR} ${CMAKE_SOURCE_DIR}/tests/fixtures/matcher)
set_tests_properties(cli_explain PROPERTIES TIMEOUT 120)

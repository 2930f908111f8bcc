# The event rules (owner: rules helper). Core tests: they link the core alone.
#   user_rules_test  user_rules_apply on tests/fixtures/matcher: erasure, corrupt state, repeats
#                    inside (the latest: same answer; older: superseded) and after the
#                    idempotency window, decision merging, the version
#                    stamp, the outputs, matcher refusals → dead-letter reasons, the decisions cap
add_executable(user_rules_test ${CMAKE_SOURCE_DIR}/tests/user_rules_test.c)
target_compile_definitions(user_rules_test PRIVATE
                           FIXTURE_DIR="${CMAKE_SOURCE_DIR}/tests/fixtures/matcher")
target_link_libraries(user_rules_test PRIVATE px_core px_rome_fixture PkgConfig::CMOCKA)
add_test(NAME user_rules COMMAND user_rules_test)

# Codec, configuration and contract tests (owner: codec helper).
#   codec_event_test   v1 event decoding: good events, every refusal reason, every limit at its boundary
#   codec_state_test   DLQ records and persistent user state (round trips, corrupt input)
#   codec_json_test    msgpack <-> JSON conversion rules and bounds
#   codec_fuzz_test    seeded random and mutated inputs through every decoder: must never crash
#   config_test        INI configuration: good and bad files, explain round trip, example file
#   codec_suggestion_test  jobs.suggested fields (components, flags, excluded with every `because`)
#                      on hand-made results over tests/fixtures/matcher, and determinism
foreach(name codec_event_test codec_state_test codec_json_test codec_fuzz_test config_test)
  add_executable(${name} ${CMAKE_SOURCE_DIR}/tests/${name}.c)
  target_link_libraries(${name} PRIVATE passerelle PkgConfig::CMOCKA)
  target_compile_definitions(${name} PRIVATE PASSERELLE_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  add_test(NAME ${name} COMMAND ${name})
endforeach()

add_executable(codec_suggestion_test ${CMAKE_SOURCE_DIR}/tests/codec_suggestion_test.c)
target_compile_definitions(codec_suggestion_test PRIVATE
                           FIXTURE_DIR="${CMAKE_SOURCE_DIR}/tests/fixtures/matcher")
target_link_libraries(codec_suggestion_test PRIVATE passerelle px_rome_fixture PkgConfig::CMOCKA)
add_test(NAME codec_suggestion_test COMMAND codec_suggestion_test)

# The libFuzzer target fuzz_codecs is tests/fuzz.cmake's, with the other fuzz targets.

# Contract: docs/asyncapi.yaml against the codecs. contract_dump prints the decoder's field tables
# and real encoder outputs; check_asyncapi.mjs (Node.js, the `yaml` package pinned in
# tests/contract/package-lock.json, installed with `npm ci` into the build directory) compares them
# with the document, both ways.
add_executable(contract_dump ${CMAKE_SOURCE_DIR}/tests/contract/contract_dump.c)
target_link_libraries(contract_dump PRIVATE passerelle px_rome_fixture)
add_test(NAME codec_contract
         COMMAND ${CMAKE_SOURCE_DIR}/tests/contract/run.sh $<TARGET_FILE:contract_dump>
                 ${CMAKE_SOURCE_DIR}/tests/fixtures/matcher ${CMAKE_SOURCE_DIR}/docs/asyncapi.yaml
                 ${CMAKE_BINARY_DIR}/contract-node)
set_tests_properties(codec_contract PROPERTIES TIMEOUT 300)

# libFuzzer targets (PASSERELLE_FUZZ=ON with clang; not ctests): scripts/fuzz.sh SECONDS builds
# and runs each over its seed corpus tests/fuzz/corpus/<target>/. Each links the project's own
# static libraries, built for fuzzing with the same sanitizers (CMakeLists.txt).
#   fuzz_codecs        event_decode, user_state_decode, msgpack → JSON → msgpack → JSON
#   fuzz_event         event_decode_with: strict, unknown-key reports, tight limits; messages UTF-8
#   fuzz_json          a `passerelle match/send` line: msgpack_json_text_to_msgpack, then
#                      event_decode_profile_message (lenient and strict)
#   fuzz_dlq           dlq_record_decode on any msgpack; encode → decode round trip
#   fuzz_rome_csv      the input as one CSV (its first byte chooses which) of fixtures/rome_mini:
#                      rome_load_csv, then snapshot round trip and title_resolver_build
#   fuzz_rome_snapshot rome_snapshot_adopt and rome_snapshot_load on arbitrary bytes
#   fuzz_config        config_load and config_load_matching on the input as a file
#   fuzz_title         title_resolve on the tests/fixtures/titles index
if(PASSERELLE_FUZZ)
  set(px_fuzz_targets fuzz_codecs fuzz_event fuzz_json fuzz_dlq fuzz_rome_csv fuzz_rome_snapshot
                      fuzz_config fuzz_title)
  foreach(name ${px_fuzz_targets})
    add_executable(${name} ${CMAKE_SOURCE_DIR}/tests/fuzz/${name}.c)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(${name} PRIVATE px_codec px_core)
  endforeach()
  target_link_libraries(fuzz_config PRIVATE px_edge_common)
  foreach(name fuzz_rome_csv fuzz_title)
    target_link_libraries(${name} PRIVATE px_rome_fixture)
  endforeach()
  target_compile_definitions(fuzz_rome_csv PRIVATE
                             FIXTURE_DIR="${CMAKE_SOURCE_DIR}/tests/fixtures/rome_mini")
  target_compile_definitions(fuzz_title PRIVATE
                             FIXTURE_DIR="${CMAKE_SOURCE_DIR}/tests/fixtures/titles")
  add_custom_target(fuzz_all DEPENDS ${px_fuzz_targets})
endif()

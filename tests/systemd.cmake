# systemd units: `systemd-analyze verify`, `systemd-analyze security --offline=true` (exposure <= 2.0),
# sandboxing kept in step across units, sysusers.d/tmpfiles.d snippets applied to an empty root.
add_test(NAME systemd_units
         COMMAND bash ${CMAKE_SOURCE_DIR}/tests/systemd_units.sh ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR})
set_tests_properties(systemd_units PROPERTIES LABELS "ops" TIMEOUT 120)

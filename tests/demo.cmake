# The README's main job (scripts/demo.sh), twice side by side: every port is picked free.
add_test(NAME demo_side_by_side COMMAND bash ${CMAKE_SOURCE_DIR}/tests/demo_side_by_side.sh
         ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR} ${PASSERELLE_ROME_DIR})
set_tests_properties(demo_side_by_side PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)

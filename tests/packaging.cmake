# Debian package: a separate plain build with the prefix /usr, `cpack -G DEB`, then the package's
# control fields, Depends (against the binaries' NEEDED libraries), files, conffiles and scripts.
# Not registered in the sanitizer build: it builds its own plain release, so it would only repeat
# the same check.
if(NOT PASSERELLE_SANITIZE)
  add_test(NAME packaging_deb
           COMMAND bash ${CMAKE_SOURCE_DIR}/tests/packaging_deb.sh ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR})
  set_tests_properties(packaging_deb PROPERTIES LABELS "ops" TIMEOUT 900)
endif()

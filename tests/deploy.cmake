# deploy/: compose and Kubernetes manifests parse and agree with each other; the configuration they
# carry loads with the daemon's parser (and passes `passerelled --check-config` once it is built).
add_executable(deploy_config_check tests/deploy_config_check.c)
target_link_libraries(deploy_config_check PRIVATE passerelle)
add_test(NAME deploy_manifests
         COMMAND bash ${CMAKE_SOURCE_DIR}/tests/deploy_check.sh ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR})
set_tests_properties(deploy_manifests PROPERTIES LABELS "ops" TIMEOUT 300)

# --check-config runs the daemon's start checks: a missing ROME directory and an unknown
# constraint code are refused.
add_test(NAME check_config COMMAND bash ${CMAKE_SOURCE_DIR}/tests/check_config_test.sh
         ${CMAKE_SOURCE_DIR} $<TARGET_FILE:passerelled>)

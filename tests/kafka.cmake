# Kafka edge: kafka_io and the embedded broker against librdkafka's mock cluster on loopback,
# and the `passerelle send/tail/replay` tools.
add_executable(kafka_io_test ${CMAKE_SOURCE_DIR}/tests/kafka_io_test.c)
find_package(Threads REQUIRED)
target_link_libraries(kafka_io_test PRIVATE passerelle px_test_support PkgConfig::CMOCKA Threads::Threads)
add_test(NAME kafka_io COMMAND kafka_io_test)
set_tests_properties(kafka_io PROPERTIES LABELS "integration;kafka" TIMEOUT 600)

add_executable(kafka_cli_test ${CMAKE_SOURCE_DIR}/tests/kafka_cli_test.c)
target_link_libraries(kafka_cli_test PRIVATE passerelle PkgConfig::CMOCKA)
add_test(NAME kafka_cli COMMAND kafka_cli_test $<TARGET_FILE:passerelle-cli>)
set_tests_properties(kafka_cli PROPERTIES LABELS "integration;kafka" TIMEOUT 300)

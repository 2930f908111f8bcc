# Kafka edge benchmark: kafka_io (loop + batches) vs a plain blocking librdkafka loop on the
# embedded mock cluster (a program that prints figures, never a test).
#   bench_kafka [MESSAGES] [PARTITIONS] [BATCH]
add_executable(bench_kafka ${CMAKE_SOURCE_DIR}/bench/bench_kafka.c)
target_link_libraries(bench_kafka PRIVATE passerelle)

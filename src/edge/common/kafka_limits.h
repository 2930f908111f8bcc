/* kafka_limits — Kafka's naming rules and the embedded cluster's limits, without librdkafka.
 *
 * The configuration checks topic names and embedded-cluster sizes before any Kafka handle exists,
 * and it must not depend on librdkafka to do so; kafka_io and kafka_embedded apply the same rules.
 * Pure functions; thread-safe. */
#ifndef KAFKA_LIMITS_H
#define KAFKA_LIMITS_H

#include "px_error.h"

#define KAFKA_EMBEDDED_MAX_BROKERS    16
#define KAFKA_EMBEDDED_MAX_PARTITIONS 1024 /* per topic; partitions are the unit of parallelism */
#define KAFKA_EMBEDDED_MAX_TOPICS     64
#define KAFKA_TOPIC_NAME_MAX          249 /* Kafka's own limit: [a-zA-Z0-9._-]{1,249} */

/* Checks a Kafka topic name; returns 0 or -1 with err naming the problem. */
int kafka_topic_name_check(const char *topic, px_error *err);

#endif

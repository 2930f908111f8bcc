/* The Kafka helpers of cli_kafka.c that the other tools (cli_rematch.c) produce with: the same
 * idempotent producer, properties and error reporting as `passerelle send`. Blocking
 * librdkafka, no event loop. */
#ifndef PASSERELLE_CLI_KAFKA_H
#define PASSERELLE_CLI_KAFKA_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "kafka_io.h"

typedef void (*cli_kafka_dr_cb)(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);

/* An idempotent producer on brokers, with the n_props (name, value) librdkafka properties in
 * order; delivery reports go to dr_cb with opaque. NULL when a property or the client is refused
 * (reported on stderr, naming tool). */
rd_kafka_t *cli_kafka_producer(const char *tool, const char *brokers,
                               const kafka_io_property *props, size_t n_props,
                               cli_kafka_dr_cb dr_cb, void *opaque);

/* Produces one message (copied), waiting for queue room instead of failing when the queue is
 * full. 0, or -1 reported on stderr. */
int produce_blocking(rd_kafka_t *p, const char *tool, const char *topic, const void *key,
                     size_t key_len, const void *value, size_t value_len);

/* Waits for every delivery report (30 s at most). 0, or -1 reported on stderr. */
int flush_producer(rd_kafka_t *p, const char *tool);

#endif

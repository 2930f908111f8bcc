/* kafka_embedded — librdkafka's mock Kafka cluster, run inside the process as the embedded broker.
 *
 * `bootstrap.servers = embedded` in the configuration means "start this and point every client at
 * it". The mock cluster (rdkafka_mock.h) is a real Kafka protocol server on 127.0.0.1 with
 * ephemeral ports: producers, consumer groups, idempotence and the transaction protocol work
 * against it, so the daemon, the CLI tools, kcat and other client libraries can all connect to the
 * address given by kafka_embedded_bootstraps().
 *
 * Limits of librdkafka 2.0.2's mock (documented, not worked around):
 *   - each partition keeps at most 5 MiB or 100,000 message sets; older ones are dropped, so size
 *     tests and benchmarks with enough partitions;
 *   - transactions: the protocol runs (InitProducerId, AddPartitions/AddOffsets, EndTxn) but no
 *     commit/abort markers are written and transactional offsets are not stored, so
 *     read_committed isolation and exactly-once can only be proven on a real cluster;
 *   - everything is in memory and lost when the cluster stops.
 *
 * Ownership: kafka_embedded_start() returns a handle owning a dedicated librdkafka handle and the
 * cluster (its own threads); kafka_embedded_stop() destroys both. Stop it only after every client
 * connected to it is destroyed or closing clients will wait for their broker timeouts.
 * Thread-safety: the handle is used from one thread; the cluster serves clients on its own
 * threads. */
#ifndef KAFKA_EMBEDDED_H
#define KAFKA_EMBEDDED_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "kafka_limits.h"
#include "px_error.h"

typedef struct kafka_embedded kafka_embedded;

/* Starts a cluster of broker_count (1..KAFKA_EMBEDDED_MAX_BROKERS) brokers and creates each topic
 * with `partitions` partitions (1..KAFKA_EMBEDDED_MAX_PARTITIONS) and `replication` replicas
 * (1..broker_count). Topic names must be valid Kafka names and distinct. Returns NULL with err set
 * otherwise. */
kafka_embedded *kafka_embedded_start(int broker_count, const char *const *topics, size_t n_topics,
                                     int partitions, int replication, px_error *err);

/* "127.0.0.1:PORT[,127.0.0.1:PORT…]": the bootstrap.servers value other clients use.
 * Valid until kafka_embedded_stop(). */
const char *kafka_embedded_bootstraps(const kafka_embedded *kb);

/* The underlying mock cluster, for fault injection in tests (rd_kafka_mock_broker_set_down,
 * rd_kafka_mock_push_request_errors, …). Owned by kb. */
rd_kafka_mock_cluster_t *kafka_embedded_mock(kafka_embedded *kb);

/* Applies one fault, written as a line of words, to the cluster (`passerelle broker` reads them on
 * its standard input; tests and benchmarks drive faults with them):
 *   down BROKER | up BROKER          disconnect a broker and refuse connections / accept them again
 *                                    (BROKER: its id, 1..broker_count, or "all")
 *   rtt BROKER MS                    delay every answer of the broker(s) by MS milliseconds
 *   errors API COUNT ERROR [ERROR…]  the next COUNT requests of API fail, with the errors in turn
 *                                    (API: Produce, Fetch, OffsetCommit, … or its number; ERROR:
 *                                    librdkafka's name without RD_KAFKA_RESP_ERR_, e.g.
 *                                    NOT_LEADER_FOR_PARTITION, _TRANSPORT, or its number)
 *   leader TOPIC PARTITION BROKER    move a partition's leadership (BROKER -1: no leader)
 * Returns 0, or -1 with err naming the word that is wrong and what was expected. */
int kafka_embedded_fault(kafka_embedded *kb, const char *command, px_error *err);

/* Stops the cluster and frees everything; NULL is accepted. */
void kafka_embedded_stop(kafka_embedded *kb);

#endif

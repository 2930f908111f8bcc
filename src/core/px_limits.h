/* px_limits — limits that several modules of different layers must agree on, defined once here
 * so that no module keeps a copy "equal to the other one's" by comment.
 *
 * Constants only; in core so that every layer may include it. */
#ifndef PX_LIMITS_H
#define PX_LIMITS_H

/* Messages in one consumed batch: kafka_io's ceiling of batch_max_messages, the configuration's
 * [limits] batch_size and store_redis's max_batch (one state read and write per message). */
#define PX_BATCH_MAX 100000

/* Bytes of an index snapshot version label ("4.0-60"), without the NUL: what redis_endpoint
 * accepts as a published version and what a user state records as its last match. */
#define PX_VERSION_LABEL_MAX 32

#endif

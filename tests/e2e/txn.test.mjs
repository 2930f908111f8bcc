// passerelled with `transactional.id`: each batch's outputs and offsets in one Kafka transaction.
// librdkafka 2.0.2's mock cluster runs the transaction protocol (InitProducerId, AddPartitions,
// AddOffsets, EndTxn) but writes no commit markers and stores no transactional offsets, so this
// proves the code path and the outputs, not read_committed exactly-once (a real cluster does).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  produce, collect, eventMessage, newEvent, TOPICS, useStack,
} from './harness.mjs';

const stack = useStack('[kafka]\ntransactional.id = passerelle-e2e-txn\n');

test('outputs of transactional batches are delivered, good and bad events alike', async () => {
  const events = Array.from({ length: 30 }, (_, i) =>
    newEvent('profile.upserted', `txn-${i % 7}`, { experiences: [{ appellation: 11640 }] }));
  const bad = { key: 'txn-bad', value: Buffer.from([0xc1]) };
  await produce(stack.daemon.kafka, TOPICS.profile, [...events.slice(0, 15).map(eventMessage), bad, ...events.slice(15).map(eventMessage)]);
  const got = await collect(stack.daemon.kafka, [TOPICS.suggestions, TOPICS.dlq], (g) =>
    events.every((e) => g.some((m) => m.value && m.value.answers === e.event_id && m.value.type === 'jobs.suggested')) &&
    g.some((m) => m.topic === TOPICS.dlq && m.key === 'txn-bad'));
  for (const e of events)
    assert.ok(got.some((m) => m.value && m.value.answers === e.event_id && m.value.type === 'jobs.suggested'));
  assert.ok(got.some((m) => m.topic === TOPICS.dlq && m.value.reason === 'bad_msgpack'));
  assert.match(stack.daemon.stderr, /msg="kafka consumer started".*transactions=true/);
});

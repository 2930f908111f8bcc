// profile.upserted → skills.suggested + jobs.suggested, read back with kafkajs (an independent
// Kafka client) and @msgpack/msgpack.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  produce, collect, eventMessage, newEvent, TOPICS, redisCommand, useStack,
} from './harness.mjs';

const stack = useStack();

test('a cashier profile gets competences to confirm and occupations', async () => {
  const ev = newEvent('profile.upserted', 'alice', {
    experiences: [{ appellation: 11640, months: 36 }, { title: 'hotesse d accueil', months: 12 }],
    avoid: ['no_night'],
  });
  await produce(stack.daemon.kafka, TOPICS.profile, [eventMessage(ev)]);
  const got = await collect(stack.daemon.kafka, [TOPICS.suggestions],
    (g) => g.filter((m) => m.value && m.value.answers === ev.event_id).length >= 2);
  const answers = got.filter((m) => m.value && m.value.answers === ev.event_id);
  const skills = answers.find((m) => m.value.type === 'skills.suggested');
  const jobs = answers.find((m) => m.value.type === 'jobs.suggested');
  assert.ok(skills && jobs, 'both outputs arrive');
  assert.equal(skills.key, 'alice');
  assert.equal(jobs.value.rome_version, '4.0-60');
  assert.match(jobs.value.suggestion_id, /^[0-9a-f]{32}$/);
  assert.ok(skills.value.skills.length > 0);
  assert.ok(skills.value.skills.some((s) => s.code === 300303), 'encaissement is suggested to a cashier');
  assert.ok(jobs.value.jobs.length > 0);
  let last = 1;
  for (const j of jobs.value.jobs) {
    assert.ok(j.score >= 0 && j.score <= last, 'scores sorted, in [0,1]');
    last = j.score;
    assert.ok(Array.isArray(j.held) && Array.isArray(j.missing) && Array.isArray(j.contexts));
    assert.ok(!j.contexts.includes(300803), 'no_night is respected');
    assert.notEqual(j.rome, 'D1505', 'the current occupation is not suggested as a change');
  }
  const state = await redisCommand(stack.redis.port, 'EXISTS', 'passerelle:user:alice');
  assert.equal(state, '1', 'the state is stored in Redis');
});

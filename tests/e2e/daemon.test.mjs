// passerelled integration: the embedded broker + a real redis-server; kafkajs and @msgpack/msgpack
// as the independent clients. Confirmations, erasure, replay (one event, one answer), dead letters,
// health and metrics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  produce, collect, eventMessage, newEvent, encode, TOPICS, redisCommand, useStack,
} from './harness.mjs';

const stack = useStack();

const answering = (got, id, type) => got.find((m) => m.value && m.value.answers === id && m.value.type === type);

// Sends events and waits for the output of the given type answering each one.
async function roundTrip(topic, events, type = 'jobs.suggested') {
  await produce(stack.daemon.kafka, topic, events.map(eventMessage));
  const got = await collect(stack.daemon.kafka, [TOPICS.suggestions],
    (g) => events.every((e) => answering(g, e.event_id, type)));
  return events.map((e) => {
    const m = answering(got, e.event_id, type);
    assert.ok(m, `an answer of type ${type} to ${e.event_id}`);
    return m.value;
  });
}

const rankOf = (jobs, rome) => jobs.jobs.findIndex((j) => j.rome === rome);

test('confirming what a fiche needs moves it up; rejecting what a fiche uses moves it down', async () => {
  const [first] = await roundTrip(TOPICS.profile, [newEvent('profile.upserted', 'bob',
    { experiences: [{ appellation: 11640, months: 48 }] })]);
  // A fiche in the middle of the list, and everything it still misses, confirmed as held.
  const target = first.jobs[10];
  assert.ok(target.missing.length > 0);
  const [after] = await roundTrip(TOPICS.skills, [newEvent('skills.confirmed', 'bob', { added: target.missing })]);
  const rank = rankOf(after, target.rome);
  assert.ok(rank >= 0 && rank < 10, `${target.rome} rose from 10 to ${rank}`);
  assert.ok(after.jobs[rank].score > target.score);
  assert.equal(after.jobs[rank].missing.length, 0);
  // Rejecting what the new top job relies on lowers its score.
  const top = after.jobs[0];
  const [rejected] = await roundTrip(TOPICS.skills, [newEvent('skills.confirmed', 'bob', { rejected: top.held })]);
  const again = rejected.jobs.find((j) => j.rome === top.rome);
  assert.ok(!again || again.score < top.score, 'rejected competences no longer count');
  if (again) for (const c of top.held) assert.ok(!again.held.includes(c), 'a rejected competence is never held');
});

test('a replayed event yields the same suggestion_id and changes no state', async () => {
  const ev = newEvent('profile.upserted', 'carol', { experiences: [{ rome: 'J1501' }] });
  const [first] = await roundTrip(TOPICS.profile, [ev]);
  const before = await redisCommand(stack.redis.port, 'GET', 'passerelle:user:carol');
  const [second] = await roundTrip(TOPICS.profile, [{ ...ev, ts: ev.ts + 1000 }]);
  const after = await redisCommand(stack.redis.port, 'GET', 'passerelle:user:carol');
  assert.equal(second.suggestion_id, first.suggestion_id);
  assert.deepEqual(second.jobs, first.jobs);
  assert.equal(second.ts, ev.ts, 'the answer carries the ts of the event, not of the repeat');
  assert.ok(before && after && before.equals(after), 'the stored state is byte-identical');
});

test('profile.erased drops the profile, keeps the applied ids for a while, and produces a tombstone', async () => {
  const first = newEvent('profile.upserted', 'dave', { experiences: [{ appellation: 11640 }], avoid: ['no_weekend'] });
  await roundTrip(TOPICS.profile, [first]);
  const stored = await redisCommand(stack.redis.port, 'GET', 'passerelle:user:dave');
  assert.ok(stored.includes('no_weekend'), 'the profile is stored');
  const erase = newEvent('profile.erased', 'dave', {});
  await produce(stack.daemon.kafka, TOPICS.profile, [eventMessage(erase)]);
  const got = await collect(stack.daemon.kafka, [TOPICS.suggestions], (g) => g.some((m) => m.key === 'dave' && m.value === null));
  assert.ok(got.some((m) => m.key === 'dave' && m.value === null), 'a tombstone for the key');
  const kept = await redisCommand(stack.redis.port, 'GET', 'passerelle:user:dave');
  assert.ok(!kept.includes('no_weekend') && !kept.includes('11640'), 'the profile is gone');
  assert.ok(kept.includes(first.event_id) && kept.includes(erase.event_id), 'the applied ids stay');
  const ttl = Number(await redisCommand(stack.redis.port, 'TTL', 'passerelle:user:dave'));
  assert.ok(ttl > 0 && ttl <= 7 * 86400, `kept for erased_ttl_s (TTL ${ttl})`);
  // the first event delivered again after the erasure gets no answer; a later event is answered
  const later = newEvent('profile.upserted', 'dave', { experiences: [{ appellation: 11640 }] });
  await produce(stack.daemon.kafka, TOPICS.profile, [eventMessage(first), eventMessage(later)]);
  const answers = await collect(stack.daemon.kafka, [TOPICS.suggestions], (g) => g.some((m) => m.value && m.value.answers === later.event_id));
  assert.equal(answers.filter((m) => m.value && m.value.answers === first.event_id && m.offset > got.find((t) => t.key === 'dave' && t.value === null).offset).length, 0,
    'no second answer to the event from before the erasure');
});

test('bad events go to the DLQ with a precise reason while good ones around them are answered', async () => {
  const good = () => newEvent('profile.upserted', 'erin', { experiences: [{ appellation: 11640 }] });
  const base = () => newEvent('profile.upserted', 'erin', { experiences: [{ appellation: 11640 }] });
  const raw = (buf, key = 'erin') => ({ key, value: Buffer.from(buf) });
  const withBadUtf8 = () => {
    const b = Buffer.from(encode(newEvent('profile.upserted', 'erin', { experiences: [{ title: 'QQQQ' }] })));
    b.write('\xff\xfe\xfd\xfc', b.indexOf('QQQQ'), 'latin1');
    return b;
  };
  const { event_id: _drop, ...noId } = base();
  const cases = [
    ['bad_msgpack', raw([0xc1])],
    ['not_a_map', raw(encode([1, 2, 3]))],
    ['missing_field', raw(encode(noId))],
    ['wrong_type', raw(encode({ ...base(), v: '1' }))],
    ['unknown_version', raw(encode({ ...base(), v: 2 }))],
    ['unknown_type', raw(encode({ ...base(), type: 'profile.deleted' }))],
    ['key_mismatch', raw(encode(base()), 'mallory')],
    ['over_limit', raw(encode({ ...base(), experiences: Array.from({ length: 33 }, () => ({ appellation: 11640 })) }))],
    ['over_limit', raw(encode({ ...base(), experiences: [{ title: 'x'.repeat(201) }] }))],
    ['trailing_bytes', raw(Buffer.concat([Buffer.from(encode(base())), Buffer.from([0x00])]))],
    ['bad_utf8', raw(withBadUtf8())],
    ['empty_value', raw(encode({ ...base(), experiences: [] }))],
    ['out_of_range', raw(encode({ ...base(), experiences: [{ appellation: 11640, months: -5 }] }))],
    ['conflicting_fields', raw(encode({ ...base(), experiences: [{ appellation: 11640, title: 'caissier' }] }))],
    ['bad_format', raw(encode({ ...base(), experiences: [{ rome: '123' }] }))],
    ['unknown_code', raw(encode({ ...base(), experiences: [{ appellation: 99999999 }] }))],
    ['unknown_code', raw(encode({ ...base(), experiences: [{ rome: 'N9999' }] }))],
    ['unknown_code', raw(encode({ ...base(), avoid: ['no_mondays'] }))],
    ['unknown_code', raw(encode({ ...base(), domains: ['Z'] }))],
  ];
  const goods = [good(), good(), good()];
  const messages = [eventMessage(goods[0])];
  cases.forEach(([, m], i) => {
    messages.push(m);
    if (i === 9) messages.push(eventMessage(goods[1]));
  });
  messages.push(eventMessage(goods[2]));
  await produce(stack.daemon.kafka, TOPICS.profile, messages);
  const got = await collect(stack.daemon.kafka, [TOPICS.dlq, TOPICS.suggestions],
    (g) => g.filter((m) => m.topic === TOPICS.dlq && m.value && m.value.topic === TOPICS.profile).length >= cases.length &&
      goods.every((e) => answering(g, e.event_id, 'jobs.suggested')));
  for (const e of goods) assert.ok(answering(got, e.event_id, 'jobs.suggested'), 'good events around bad ones are answered');
  const dlq = got.filter((m) => m.topic === TOPICS.dlq).map((m) => m.value);
  for (const [reason, msg] of cases) {
    const rec = dlq.find((r) => Buffer.from(r.value).equals(msg.value));
    assert.ok(rec, `a DLQ record carries the original bytes of the ${reason} case`);
    assert.equal(rec.reason, reason, `reason of ${rec.message}`);
    assert.equal(rec.topic, TOPICS.profile);
    assert.ok(Number.isInteger(rec.partition) && Number(rec.offset) >= 0);
    assert.ok(rec.message.length > 10, 'a human explanation');
  }
  assert.ok(new Set(cases.map(([r]) => r)).size >= 12, 'at least 12 distinct reasons are exercised');
});

const httpGet = (path) => new Promise((resolve, reject) => {
  http.get({ host: '127.0.0.1', port: stack.daemon.httpPort, path }, (res) => {
    let body = '';
    res.on('data', (c) => { body += c; });
    res.on('end', () => resolve({ status: res.statusCode, body }));
  }).on('error', reject);
});

test('health, readiness and Prometheus metrics are served', async () => {
  assert.equal((await httpGet('/healthz')).status, 200);
  assert.equal((await httpGet('/readyz')).status, 200);
  const { status, body } = await httpGet('/metrics');
  assert.equal(status, 200);
  assert.match(body, /^passerelle_events_consumed_total\{topic="passerelle\.profile\.v1"\} [1-9]/m);
  assert.match(body, /^passerelle_events_dead_lettered_total\{topic="passerelle\.profile\.v1",reason="bad_msgpack"\} 1$/m);
  assert.match(body, /^passerelle_events_produced_total\{topic="passerelle\.suggestions\.v1",type="jobs\.suggested"\} [1-9]/m);
  assert.match(body, /^passerelle_match_duration_seconds_count [1-9]/m);
  assert.match(body, /^passerelle_rome_version\{version="4\.0-60"\} 60$/m);
  assert.match(body, /^passerelle_ready 1$/m);
});

const metricValue = (body, name) => {
  const m = new RegExp(`^${name} ([0-9.e+]+)$`, 'm').exec(body);
  return m ? Number(m[1]) : 0;
};

test('Redis is paid per batch, not per event: one MGET and one MULTI/EXEC per batch', async (t) => {
  const before = (await httpGet('/metrics')).body;
  const events = Array.from({ length: 200 }, (_, i) =>
    newEvent('profile.upserted', `batch-${i % 20}`, { experiences: [{ appellation: 11640 }] }));
  await roundTrip(TOPICS.profile, events);
  const after = (await httpGet('/metrics')).body;
  const batches = metricValue(after, 'passerelle_batch_size_count') - metricValue(before, 'passerelle_batch_size_count');
  const trips = metricValue(after, 'passerelle_redis_round_trips_total') - metricValue(before, 'passerelle_redis_round_trips_total');
  assert.ok(batches >= 1 && batches < events.length / 4, `${events.length} events came in ${batches} batches`);
  t.diagnostic(`${trips} Redis round trips for ${batches} batches`);
  // both counters are live: each batch has read (MGET) and written (MULTI/EXEC) before its outputs
  assert.ok(trips >= batches && trips <= 2 * batches, `${trips} Redis round trips for ${batches} batches of ${events.length} events`);
});

test('an unreadable stored state dead-letters the person\'s events, and erasure still works', async () => {
  assert.equal(await redisCommand(stack.redis.port, 'SET', 'passerelle:user:frank', 'not a state'), 'OK');
  const ev = newEvent('profile.upserted', 'frank', { experiences: [{ appellation: 11640 }] });
  await produce(stack.daemon.kafka, TOPICS.profile, [eventMessage(ev)]);
  const dlq = await collect(stack.daemon.kafka, [TOPICS.dlq], (g) => g.some((m) => m.value.event_id === ev.event_id));
  assert.equal(dlq.find((m) => m.value.event_id === ev.event_id).value.reason, 'corrupt_state');
  await produce(stack.daemon.kafka, TOPICS.profile, [eventMessage(newEvent('profile.erased', 'frank', {}))]);
  await collect(stack.daemon.kafka, [TOPICS.suggestions], (g) => g.some((m) => m.key === 'frank' && m.value === null));
  assert.notEqual(await redisCommand(stack.redis.port, 'GET', 'passerelle:user:frank'), 'not a state', 'the unreadable state is replaced');
});

test('unknown keys are ignored, counted by topic and key, each new one logged once', async () => {
  const series = (key) => `passerelle_unknown_keys_total{topic="${TOPICS.profile}",key="${key}"}`;
  const value = (body, key) => {
    const line = body.split('\n').find((l) => l.startsWith(`${series(key)} `));
    return line ? Number(line.slice(series(key).length + 1)) : 0;
  };
  const before = (await httpGet('/metrics')).body;
  const typo = () => newEvent('profile.upserted', 'ulla',
    { experiences: [{ appellation: 11640, titel: 'caissier' }], avoids: ['no_weekend'] });
  const [jobs] = await roundTrip(TOPICS.profile, [typo(), typo()]);
  assert.equal(jobs.excluded.constraints.length, 0, 'the misspelt constraint is ignored');
  const after = (await httpGet('/metrics')).body;
  assert.equal(value(after, 'avoids') - value(before, 'avoids'), 2, series('avoids'));
  assert.equal(value(after, 'experiences[].titel') - value(before, 'experiences[].titel'), 2);
  const logged = stack.daemon.stderr.split('\n')
    .filter((l) => /msg="unknown key in an input event, ignored"/.test(l));
  const avoids = logged.filter((l) => / key=avoids did_you_mean=avoid/.test(l));
  assert.equal(avoids.length, 1, `logged once: ${logged.join('\n')}`);
  assert.ok(logged.some((l) => / key=experiences\[0\]\.titel did_you_mean=title/.test(l)));
});

test('one event, one answer: a repeated event is re-sent byte for byte, the latest or an older one', async () => {
  const series = (outcome) => `passerelle_events_replayed_total{outcome="${outcome}"}`;
  const replayed = (body, outcome) => {
    const line = body.split('\n').find((l) => l.startsWith(`${series(outcome)} `));
    return line ? Number(line.slice(series(outcome).length + 1)) : 0;
  };
  // two events of one person on one topic (so one partition, in order); e2 changes the answer
  const e1 = newEvent('profile.upserted', 'olga', { experiences: [{ appellation: 11640, months: 36 }] });
  const e2 = newEvent('profile.upserted', 'olga', { experiences: [{ rome: 'J1501', months: 24 }] });
  const types = ['skills.suggested', 'jobs.suggested'];
  const answers = (g, e) => g.filter((m) => m.key === 'olga' && m.value && m.value.answers === e.event_id);
  const before = (await httpGet('/metrics')).body;
  await produce(stack.daemon.kafka, TOPICS.profile, [e1, e2].map(eventMessage));
  const firstRun = await collect(stack.daemon.kafka, [TOPICS.suggestions],
    (g) => answers(g, e1).length === 2 && answers(g, e2).length === 2);
  const first = new Map(answers(firstRun, e2).map((m) => [m.value.type, m]));
  const firstE1 = new Map(answers(firstRun, e1).map((m) => [m.value.type, m]));
  assert.deepEqual([...first.keys()].sort(), [...types].sort());
  assert.equal(first.get('jobs.suggested').value.ts, e2.ts, 'an answer carries its event\'s ts');

  // e1 then e2 again, the same bytes in, as after a crash between the Redis write and delivery
  await produce(stack.daemon.kafka, TOPICS.profile, [e1, e2].map(eventMessage));
  const got = await collect(stack.daemon.kafka, [TOPICS.suggestions], (g) => answers(g, e2).length === 4);
  const e2Answers = answers(got, e2);
  assert.equal(e2Answers.length, 4, 'the repeat of the latest event is answered again');
  for (const m of e2Answers.slice(2)) {
    assert.ok(m.raw.equals(first.get(m.value.type).raw), `the repeated ${m.value.type} is byte for byte the first`);
  }
  // e1's state is gone (e2 replaced it): its answers kept with its write are sent again, before
  // e2's (the outputs of a key keep the input order); without them a crash between the write and
  // the delivery would have lost e1's answers for good
  const e1Answers = answers(got, e1);
  assert.equal(e1Answers.length, 4, 'the repeat of an older event is answered again');
  for (const m of e1Answers.slice(2)) {
    assert.ok(m.raw.equals(firstE1.get(m.value.type).raw), `the repeated ${m.value.type} is byte for byte the first`);
  }
  assert.ok(got.indexOf(e1Answers[3]) < got.indexOf(e2Answers[2]), 'in the input order');
  const ttl = Number(await redisCommand(stack.redis.port, 'TTL', `passerelle:answers:olga:${e1.event_id}`));
  assert.ok(ttl > 0 && ttl <= 86400, `kept for answers_ttl_s (TTL ${ttl})`);
  const after = (await httpGet('/metrics')).body;
  assert.equal(replayed(after, 'same_answer') - replayed(before, 'same_answer'), 1, series('same_answer'));
  assert.equal(replayed(after, 'superseded') - replayed(before, 'superseded'), 1, series('superseded'));
});

// passerelled under change and failure: a ROME index published while events flow, and Redis
// stopped and restarted mid-stream. Nothing may be lost, nothing mixed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, symlinkSync, rmSync } from 'node:fs';
import path from 'node:path';
import {
  cli, produce, collect, eventMessage, newEvent, ROME_DIR, TOPICS, sleep, tmpDir, redisCommand, useStack,
} from './harness.mjs';

const stack = useStack();

const PROFILES = [
  { experiences: [{ appellation: 11640 }] },
  { experiences: [{ rome: 'J1501', months: 24 }], avoid: ['no_night'] },
  { experiences: [{ title: 'aide soignante' }, { rome: 'K1303', extra: true }] },
];

function traffic(n, tag) {
  return Array.from({ length: n }, (_, i) => newEvent('profile.upserted', `${tag}-${i % 25}`, PROFILES[i % PROFILES.length]));
}

async function answersFor(events, timeoutMs = 60000) {
  const ids = new Set(events.map((e) => e.event_id));
  const got = await collect(stack.daemon.kafka, [TOPICS.suggestions], (g) => {
    const seen = new Set(g.filter((m) => m.value && m.value.type === 'jobs.suggested' && ids.has(m.value.answers))
      .map((m) => m.value.answers));
    return seen.size === ids.size;
  }, timeoutMs);
  return got.filter((m) => m.value && ids.has(m.value.answers));
}

// The same export under another version number: the loader reads the version from file names.
function exportAsVersion61() {
  const dir = tmpDir();
  const out = path.join(dir, 'rome-v461');
  mkdirSync(out);
  for (const f of readdirSync(ROME_DIR)) {
    if (f.endsWith('.csv')) symlinkSync(path.join(ROME_DIR, f), path.join(out, f.replace('v460', 'v461')));
  }
  return { dir, out };
}

test('a new ROME version published under traffic: swapped without restart, no event lost or mixed', async () => {
  const v61 = exportAsVersion61();
  const before = traffic(100, 'swap-a');
  await produce(stack.daemon.kafka, TOPICS.profile, before.map(eventMessage));
  // Once the daemon is answering on version 60 (group joined), publish 61 and keep events flowing
  // until the swap: the new index is built off the loop, so how long that takes is not ours to fix.
  await answersFor(before.slice(0, 1));
  cli('rome', 'publish', '--redis', stack.redis.url, '--rome', v61.out);
  const during = [];
  const swapped = /msg="ROME index swapped" version=4\.0-61/;
  const end = Date.now() + 30000;
  while (!swapped.test(stack.daemon.stderr)) {
    assert.ok(Date.now() < end, 'the published version 61 was swapped in within 30 s');
    const batch = traffic(5, `swap-b${during.length}`);
    during.push(...batch);
    await produce(stack.daemon.kafka, TOPICS.profile, batch.map(eventMessage));
    await sleep(100);
  }
  const after = traffic(40, 'swap-c');
  await produce(stack.daemon.kafka, TOPICS.profile, after.map(eventMessage));
  const events = [...before, ...during, ...after];
  const got = await answersFor(events);
  rmSync(v61.dir, { recursive: true, force: true });
  const jobs = got.filter((m) => m.value.type === 'jobs.suggested');
  assert.equal(new Set(jobs.map((m) => m.value.answers)).size, events.length, 'every event answered');
  const versions = new Set(jobs.map((m) => m.value.rome_version));
  assert.deepEqual([...versions].sort(), ['4.0-60', '4.0-61'], 'both versions served');
  // An event is matched on one version: its two outputs agree.
  for (const j of jobs) {
    const s = got.find((m) => m.value.type === 'skills.suggested' && m.value.answers === j.value.answers);
    assert.equal(s.value.rome_version, j.value.rome_version);
  }
  // Per partition, in offset order, the version only moves forward.
  const byPartition = new Map();
  for (const m of got.sort((a, b) => a.offset - b.offset)) {
    const last = byPartition.get(m.partition);
    if (last === '4.0-61') assert.equal(m.value.rome_version, '4.0-61', 'no return to the old version');
    byPartition.set(m.partition, m.value.rome_version);
  }
  // Events sent after the swap was logged are read after it, so they are matched on 61.
  const afterIds = new Set(after.map((e) => e.event_id));
  for (const j of jobs.filter((m) => afterIds.has(m.value.answers))) assert.equal(j.value.rome_version, '4.0-61');
});

test('Redis stopped and restarted mid-stream: consumption pauses, resumes, no event lost', async () => {
  const events = traffic(90, 'redis');
  await produce(stack.daemon.kafka, TOPICS.profile, events.slice(0, 30).map(eventMessage));
  await sleep(300);
  await stack.redis.stop();
  await produce(stack.daemon.kafka, TOPICS.profile, events.slice(30).map(eventMessage));
  await stack.daemon.waitFor(/msg="redis unavailable"/, 10000);
  await sleep(1500);
  await stack.redis.restart();
  await stack.daemon.waitFor(/msg="consumption resumed"/, 15000);
  const got = await answersFor(events);
  const answered = new Set(got.filter((m) => m.value.type === 'jobs.suggested').map((m) => m.value.answers));
  assert.equal(answered.size, events.length, 'every event answered after Redis came back');
});

test('Redis up but refusing writes (OOM): batches are retried with a growing pause, not in a loop', async () => {
  const { redis, daemon } = stack;
  const events = traffic(20, 'oom');
  assert.equal(await redisCommand(redis.port, 'CONFIG', 'SET', 'maxmemory-policy', 'noeviction'), 'OK');
  assert.equal(await redisCommand(redis.port, 'CONFIG', 'SET', 'maxmemory', '1'), 'OK');
  const before = (daemon.stderr.match(/batch given back/g) || []).length;
  await produce(daemon.kafka, TOPICS.profile, events.map(eventMessage));
  await sleep(3000);
  const retries = (daemon.stderr.match(/batch given back/g) || []).length - before;
  // 100 ms doubling: about 5 give-backs in 3 s; a retry loop would make thousands.
  assert.ok(retries >= 2 && retries <= 8, `${retries} give-backs in 3 s`);
  assert.equal(await redisCommand(redis.port, 'CONFIG', 'SET', 'maxmemory', '0'), 'OK');
  const got = await answersFor(events);
  assert.equal(new Set(got.filter((m) => m.value.type === 'jobs.suggested').map((m) => m.value.answers)).size, events.length);
});

// issue 12: every input ends somewhere, and replay ends.
const REPLAY_HEADER = 'passerelle-replay-count';
const dlqOf = (events) => collect(stack.daemon.kafka, [TOPICS.dlq],
  (g) => events.every((e) => g.some((m) => m.value && m.value.event_id === e.event_id)), 30000);

test('an input over message.max.bytes gets a truncated dead letter; its partition moves on', async () => {
  const big = newEvent('profile.upserted', 'big-1', { experiences: [{ appellation: 11640 }], pad: 'x'.repeat(1536 * 1024) });
  const next = newEvent('profile.upserted', 'big-1', PROFILES[0]);
  const bigMsg = eventMessage(big);
  await produce(stack.daemon.kafka, TOPICS.profile, [bigMsg, eventMessage(next)]);
  // Refused on its size before its envelope is read: found by its key.
  const [rec] = (await collect(stack.daemon.kafka, [TOPICS.dlq], (g) => g.some((m) => m.key === 'big-1'), 30000))
    .filter((m) => m.key === 'big-1').map((m) => m.value);
  assert.equal(rec.reason, 'over_limit');
  assert.equal(rec.truncated, true);
  assert.equal(rec.original_size, bigMsg.value.length);
  assert.equal(rec.value.length, 65536);
  assert.ok(Buffer.from(rec.value).equals(bigMsg.value.subarray(0, 65536)), 'the head, exactly');
  const got = await answersFor([next]);
  assert.ok(got.some((m) => m.value.type === 'jobs.suggested'), 'the next event of the partition is answered');
});

test('an event of the other input topic is dead-lettered as wrong_topic, both ways', async () => {
  const skills = newEvent('skills.confirmed', 'wt-1', { confirmed: [100011] });
  const profile = newEvent('profile.upserted', 'wt-2', PROFILES[0]);
  await produce(stack.daemon.kafka, TOPICS.profile, [eventMessage(skills)]);
  await produce(stack.daemon.kafka, TOPICS.skills, [eventMessage(profile)]);
  const dlq = (await dlqOf([skills, profile])).map((m) => m.value);
  const s = dlq.find((r) => r.event_id === skills.event_id);
  const p = dlq.find((r) => r.event_id === profile.event_id);
  assert.equal(s.reason, 'wrong_topic');
  assert.equal(s.topic, TOPICS.profile);
  assert.equal(p.reason, 'wrong_topic');
  assert.equal(p.topic, TOPICS.skills);
  assert.match(p.message, /profile\.upserted is an event of passerelle\.profile\.v1/);
});

test('the replay count goes from input to dead letter; replay refuses it at --max-replays', async () => {
  const bad = { ...newEvent('profile.upserted', 'rp-1', PROFILES[0]), v: 2 };
  await produce(stack.daemon.kafka, TOPICS.profile,
    [{ ...eventMessage(bad), headers: { [REPLAY_HEADER]: '2' } }]);
  const counts = async (n) => (await collect(stack.daemon.kafka, [TOPICS.dlq],
    (g) => g.filter((m) => m.key === bad.user_id).length >= n, 30000))
    .filter((m) => m.key === bad.user_id).map((m) => m.headers[REPLAY_HEADER]?.toString());
  assert.deepEqual(await counts(1), ['2']);
  const replay = () => cli('replay', '--brokers', stack.daemon.bootstrap, '--reason', 'unknown_version',
    '--group', 'e2e-replay', '--timeout-ms', '20000', '-X', 'session.timeout.ms=6000',
    '-X', 'heartbeat.interval.ms=500');
  const first = replay();
  assert.match(first, /"replay":3/);
  assert.deepEqual((await counts(2)).sort(), ['2', '3'], 'dead-lettered again, with the count');
  assert.equal(replay(), '', 'replayed 3 times already: skipped');
});

// passerelle rematch (issue 14): after a new ROME version is published, every stored profile gets
// fresh suggestions stamped with it; a walk stopped after its first batches resumes from its
// cursor file and completes; a second full walk yields the same outputs, byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import {
  produce, collect, eventMessage, newEvent, TOPICS, BIN_DIR, ROME_DIR, cli, tmpDir, useStack,
} from './harness.mjs';

const stack = useStack();
const N = 40;
const users = Array.from({ length: N }, (_, i) => `rm-${i}`);
const APPELLATIONS = [11640, 38584, 10320, 13164];

const rematch = (...args) => spawnSync(path.join(BIN_DIR, 'passerelle'),
  ['rematch', '--redis', stack.redis.url, '--brokers', stack.daemon.bootstrap, ...args], { encoding: 'utf8' });

// The same export under another version number: the version is read from the file names.
function nextVersionDir() {
  const dir = path.join(tmpDir(), 'rome-v461');
  mkdirSync(dir);
  for (const f of readdirSync(ROME_DIR))
    symlinkSync(path.join(ROME_DIR, f), path.join(dir, f.replace('_v460', '_v461')));
  return dir;
}

// The rematch answers (type → user → value) on the suggestions topic, once every user has both.
async function rematchAnswers(profiled) {
  const id = (u) => `rematch-4.0-61-${u}`;
  const pick = (g, type) => new Map(g.filter((m) => m.value && m.value.type === type &&
    m.value.answers.startsWith('rematch-')).map((m) => [m.key, m]));
  const got = await collect(stack.daemon.kafka, [TOPICS.suggestions], (g) => {
    const jobs = pick(g, 'jobs.suggested'), skills = pick(g, 'skills.suggested');
    return profiled.every((u) => jobs.has(u) && skills.has(u) && jobs.get(u).value.answers === id(u));
  }, 30000);
  return { got, jobs: pick(got, 'jobs.suggested'), skills: pick(got, 'skills.suggested') };
}

test('rematch refreshes every stored profile on the new version, resumes, repeats identically', async () => {
  const events = users.map((u, i) => newEvent('profile.upserted', u,
    { experiences: [{ appellation: APPELLATIONS[i % APPELLATIONS.length], months: 24 }] }));
  // decisions but no profile, and a profile erased: neither has anything to refresh
  const decided = newEvent('skills.confirmed', 'rm-decided', { added: [300303] });
  const erased = [newEvent('profile.upserted', 'rm-erased', { experiences: [{ appellation: 11640 }] }),
    newEvent('profile.erased', 'rm-erased', {})];
  await produce(stack.daemon.kafka, TOPICS.profile, [...events, ...erased].map(eventMessage));
  await produce(stack.daemon.kafka, TOPICS.skills, [eventMessage(decided)]);
  await collect(stack.daemon.kafka, [TOPICS.suggestions], (g) => events.every((e) =>
    g.some((m) => m.value && m.value.answers === e.event_id && m.value.type === 'jobs.suggested')) &&
    g.some((m) => m.key === 'rm-erased' && m.value === null) &&
    g.some((m) => m.value && m.value.answers === decided.event_id));

  cli('rome', 'publish', '--redis', stack.redis.url, '--rome', nextVersionDir());
  await stack.daemon.waitFor(/ROME index swapped.* version=4\.0-61/, 20000);

  // stopped after two small batches: exit 3, the cursor file says where it stands
  const cursorFile = path.join(tmpDir(), 'rematch.cursor');
  let r = rematch('--batch', '4', '--max-batches', '2', '--cursor-file', cursorFile);
  assert.equal(r.status, 3, r.stderr);
  const saved = readFileSync(cursorFile, 'utf8');
  assert.match(saved, /^version 4\.0-61\n/);
  assert.doesNotMatch(saved, /\ncursor 0\n/, 'the walk is not over after two batches');
  assert.match(saved, /\ncomplete 0\n/);
  r = rematch('--batch', '4', '--cursor-file', cursorFile, '--resume', '--rate', '2000');
  assert.equal(r.status, 0, r.stderr);
  assert.match(readFileSync(cursorFile, 'utf8'), /\ncursor 0\n[^]*\ncomplete 1\n/);
  assert.match(r.stderr, /complete/);

  const first = await rematchAnswers(users);
  for (const u of users) {
    const jobs = first.jobs.get(u).value;
    assert.equal(jobs.rome_version, '4.0-61', `${u} refreshed on the new version`);
    assert.ok(jobs.jobs.length > 0);
    assert.equal(first.skills.get(u).value.rome_version, '4.0-61');
  }
  assert.ok(!first.jobs.has('rm-decided') && !first.jobs.has('rm-erased'), 'nothing for no profile');
  const firstCount = first.got.filter((m) => m.value && m.value.answers?.startsWith('rematch-')).length;

  // a second full walk: the same ids and the same content, the repeat being a replay
  r = rematch('--batch', '100');
  assert.equal(r.status, 0, r.stderr);
  const again = await collect(stack.daemon.kafka, [TOPICS.suggestions], (g) =>
    g.filter((m) => m.value && m.value.answers?.startsWith('rematch-')).length >= firstCount + 2 * N, 30000);
  const repeats = again.filter((m) => m.value && m.value.answers?.startsWith('rematch-')).slice(firstCount);
  assert.equal(repeats.length, 2 * N);
  // one event, one answer: the rematch is each person's latest event, so its repeat (sent later,
  // with another ts) is answered with the very same bytes, ts included
  for (const m of repeats) {
    const before = (m.value.type === 'jobs.suggested' ? first.jobs : first.skills).get(m.key);
    assert.ok(m.raw.equals(before.raw), `${m.key} ${m.value.type} repeated byte for byte`);
  }
});

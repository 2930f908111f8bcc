// passerelled on several worker threads against one: the same events give the same bytes, one
// person's events are answered in order, and a tiny in-flight budget holds batches back (counted)
// without losing or reordering anything.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  produce, collect, eventMessage, newEvent, TOPICS, startStack,
} from './harness.mjs';

// many: 4 workers, batches of at most 10, a budget of 1 byte (every batch after the first waits
// until the outputs before it are delivered); one: 1 worker, the defaults.
let many, one;
before(async () => {
  many = await startStack('[limits]\nbatch_size = 10\n[daemon]\nworkers = 4\ninflight_bytes = 1\n');
  one = await startStack('[daemon]\nworkers = 1\n');
});
after(async () => {
  await many.stop(assert);
  await one.stop(assert);
});

const metrics = (daemon) => new Promise((resolve, reject) => {
  http.get({ host: '127.0.0.1', port: daemon.httpPort, path: '/metrics' }, (res) => {
    let body = '';
    res.on('data', (c) => { body += c; });
    res.on('end', () => resolve(body));
  }).on('error', reject);
});
const metricValue = (body, name) => {
  const m = new RegExp(`^${name} ([0-9.e+]+)$`, 'm').exec(body);
  return m ? Number(m[1]) : 0;
};

// A person with 24 events in a row (profiles that change, an erasure, a repeat), and 20 others
// with 2 each, interleaved, all on the profile topic (one partition per person: a fixed order).
function workload() {
  const apps = [11640, 10200, 10201, 10603, 11006, 11413];
  const events = [];
  const hot = [];
  for (let i = 0; i < 24; i++) {
    const ev = i === 12
      ? newEvent('profile.erased', 'hot', {})
      : newEvent('profile.upserted', 'hot', { experiences: [{ appellation: apps[i % apps.length], months: 12 + i }] });
    hot.push(ev);
    events.push(ev);
    if (i === 20) events.push({ ...ev }); // the latest event repeated: answered again, same bytes
    if (i < 20) events.push(newEvent('profile.upserted', `p-${i}`, { experiences: [{ rome: 'J1501' }] }));
    if (i < 20) events.push(newEvent('profile.upserted', `p-${i}`, { experiences: [{ title: 'caissiere', months: 24 }] }));
  }
  return { events, hot };
}

// The outputs answering the events (suggestions and tombstones), read until each event has its
// answers: jobs.suggested for an upsert, a tombstone for the erasure.
async function answers(daemon, events) {
  const upserts = events.filter((e) => e.type === 'profile.upserted');
  return collect(daemon.kafka, [TOPICS.suggestions], (g) =>
    upserts.every((e) => g.filter((m) => m.value && m.value.answers === e.event_id && m.value.type === 'jobs.suggested').length >=
      events.filter((x) => x.event_id === e.event_id).length) &&
    g.some((m) => m.key === 'hot' && m.value === null), 60000);
}

test('4 workers and a 1-byte budget: the bytes of 1 worker, a person\'s answers in event order', async () => {
  const { events, hot } = workload();
  const waitedBefore = metricValue(await metrics(many.daemon), 'passerelle_batches_waited_total');
  await produce(many.daemon.kafka, TOPICS.profile, events.map(eventMessage));
  await produce(one.daemon.kafka, TOPICS.profile, events.map(eventMessage));
  const [a, b] = await Promise.all([answers(many.daemon, events), answers(one.daemon, events)]);

  // The same bytes for every event, output by output, in the same order per person.
  const byKey = (got) => {
    const m = new Map();
    for (const x of got) {
      if (!m.has(x.key)) m.set(x.key, []);
      m.get(x.key).push(x.raw === null ? 'tombstone' : x.raw.toString('base64'));
    }
    return m;
  };
  const ka = byKey(a), kb = byKey(b);
  assert.deepEqual([...ka.keys()].sort(), [...kb.keys()].sort());
  for (const [key, outs] of ka) assert.deepEqual(outs, kb.get(key), `outputs of ${key}`);

  // The busy person's answers follow the events: each upsert's skills then jobs, the tombstone at
  // the erasure, the repeat answered again identically.
  const mine = a.filter((m) => m.key === 'hot')
    .map((m) => (m.value === null ? 'tombstone' : `${m.value.answers}/${m.value.type}`));
  const want = [];
  for (const [i, e] of hot.entries()) {
    if (e.type === 'profile.erased') want.push('tombstone');
    else want.push(`${e.event_id}/skills.suggested`, `${e.event_id}/jobs.suggested`);
    if (i === 20) want.push(`${e.event_id}/skills.suggested`, `${e.event_id}/jobs.suggested`);
  }
  assert.deepEqual(mine, want);
  const repeated = a.filter((m) => m.value && m.value.answers === hot[20].event_id && m.value.type === 'jobs.suggested');
  assert.equal(repeated.length, 2);
  assert.ok(repeated[0].raw.equals(repeated[1].raw), 'the repeat is answered with the same bytes');

  // Batches waited for the budget, and the daemon said how many workers it runs.
  const body = await metrics(many.daemon);
  assert.ok(metricValue(body, 'passerelle_batches_waited_total') > waitedBefore,
    `batches waited for the 1-byte budget:\n${body.split('\n').filter((l) => l.startsWith('passerelle_batch')).join('\n')}`);
  assert.match(body, /^passerelle_inflight_bytes 0$/m);
  // The running average of output bytes per event that admits batches follows what was produced:
  // within a factor 4 of the run's own average (it weighs the last batches most).
  const outBytes = a.reduce((n, m) => n + Buffer.byteLength(m.key) + (m.raw ? m.raw.length : 0), 0);
  const perEvent = metricValue(body, 'passerelle_output_bytes_per_event');
  assert.ok(perEvent > outBytes / events.length / 4 && perEvent < (outBytes / events.length) * 4,
    `passerelle_output_bytes_per_event ${perEvent}, measured ${outBytes / events.length}`);
  assert.match(many.daemon.stderr, /msg=starting .*workers=4/);
  assert.match(one.daemon.stderr, /msg=starting .*workers=1/);
});

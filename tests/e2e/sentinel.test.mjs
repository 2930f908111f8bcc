// passerelled behind Redis Sentinel: a primary, its replica and three sentinels; the primary is
// stopped while events are flowing, the sentinels promote the replica, and the daemon finds it
// and goes on. Every event is answered (repeats byte-identical), and the promoted replica holds
// every person's state once, with the answered event applied.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import {
  RedisServer, Daemon, cli, collect, produce, eventMessage, newEvent, redisCommand,
  freePort, tmpDir, sleep, ROME_DIR, TOPICS,
} from './harness.mjs';

const MASTER = 'pxmaster';
const USERS = 300;

// One redis-sentinel on a free port, watching the primary (quorum 2, down after 500 ms).
class Sentinel {
  static async start(primaryPort) {
    const s = new Sentinel();
    s.port = await freePort();
    s.dir = tmpDir();
    const conf = path.join(s.dir, 'sentinel.conf'); // sentinel rewrites it: its own directory
    writeFileSync(conf, `port ${s.port}\nbind 127.0.0.1\ndir ${s.dir}\n` +
      `sentinel monitor ${MASTER} 127.0.0.1 ${primaryPort} 2\n` +
      `sentinel down-after-milliseconds ${MASTER} 500\nsentinel failover-timeout ${MASTER} 2000\n`);
    s.proc = spawn('redis-sentinel', [conf], { stdio: 'ignore' });
    return s;
  }
  // SENTINEL master MASTER as a field → value map (redis-cli prints one value a line).
  master() {
    const r = spawnSync('redis-cli', ['-p', String(this.port), 'SENTINEL', 'master', MASTER], { encoding: 'utf8' });
    const lines = (r.stdout || '').trim().split('\n');
    const m = {};
    for (let i = 0; i + 1 < lines.length; i += 2) m[lines[i]] = lines[i + 1];
    return m;
  }
  async stop() {
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGKILL');
    await exited;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function until(what, ok, ms = 20000) {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

let primary, replica, sentinels, daemon;
before(async () => {
  primary = await RedisServer.start();
  replica = await RedisServer.start(['--replicaof', '127.0.0.1', String(primary.port)]);
  sentinels = [];
  for (let i = 0; i < 3; i++) sentinels.push(await Sentinel.start(primary.port));
  await until('the sentinels to know the replica and each other', () => sentinels.every((s) => {
    const m = s.master();
    return Number(m['num-slaves']) >= 1 && Number(m['num-other-sentinels']) >= 2;
  }), 30000);
  const redisConf = `sentinels = ${sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}\nmaster = ${MASTER}\n`;
  const publishConf = path.join(primary.dir, 'publish.conf');
  writeFileSync(publishConf, `[redis]\n${redisConf}`);
  cli('rome', 'publish', '--config', publishConf, '--rome', ROME_DIR);
  daemon = await Daemon.start({ conf: redisConf });
});
after(async () => {
  const { code } = await daemon.stop();
  for (const s of sentinels) await s.stop();
  await primary.destroy();
  await replica.destroy();
  assert.equal(code, 0, `passerelled exits 0 on SIGTERM; its log ends with:\n${daemon.stderr.slice(-4000)}`);
});

test('the primary stops mid-stream: the daemon follows the failover, every event applied once', async () => {
  const events = [];
  for (let u = 0; u < USERS; u++)
    events.push(newEvent('profile.upserted', `s-${u}`, { experiences: [{ rome: ['J1501', 'F1703', 'M1607', 'G1609'][u % 4], months: 12 + u }] }));
  const answers = (from) => collect(daemon.kafka, [TOPICS.suggestions], (got) =>
    from.every((e) => got.some((m) => m.value && m.value.type === 'jobs.suggested' && m.value.answers === e.event_id)), 90000);
  const half = USERS / 2;
  await produce(daemon.kafka, TOPICS.profile, events.slice(0, half).map(eventMessage));
  await answers(events.slice(0, half));
  // SIGTERM: Redis 7 hands its last writes to the replica before it exits, so every write it
  // acknowledged survives the failover (a SIGKILL may lose the last ones: Redis replicates
  // asynchronously, docs/operations.md). The other half arrives during the stop and the election.
  const stopping = primary.stop('SIGTERM');
  for (let k = half; k < USERS; k += 10) {
    await produce(daemon.kafka, TOPICS.profile, events.slice(k, k + 10).map(eventMessage));
    await sleep(100);
  }
  await stopping;
  const got = await answers(events);

  // every event answered; an answer sent twice (a batch retried across the failover) is the same bytes
  const byEvent = new Map();
  for (const m of got.filter((x) => x.value && x.value.type === 'jobs.suggested')) {
    const prev = byEvent.get(m.value.answers);
    if (prev) assert.ok(prev.equals(m.raw), `the two answers to ${m.value.answers} are the same bytes`);
    else byEvent.set(m.value.answers, m.raw);
  }
  for (const e of events) assert.ok(byEvent.has(e.event_id), `${e.event_id} (${e.user_id}) answered`);

  // the sentinels promoted the replica, and it holds each person's state with the event applied
  // (the daemon may find it through the sentinel that led the failover before the others know)
  const named = (s) => spawnSync('redis-cli', ['-p', String(s.port), 'SENTINEL', 'get-master-addr-by-name', MASTER],
    { encoding: 'utf8' }).stdout.trim().split('\n')[1];
  await until('every sentinel to name the replica as the master', () => sentinels.every((s) => Number(named(s)) === replica.port));
  for (const e of events) {
    const state = await redisCommand(replica.port, 'GET', `passerelle:user:${e.user_id}`);
    assert.ok(state, `${e.user_id}'s state is on the promoted replica`);
    assert.ok(state.includes(Buffer.from(e.event_id)), `${e.user_id}'s state records ${e.event_id} as applied`);
  }
  // what an operator sees: the master lost, intake paused, the promoted one found
  const log = daemon.stderr;
  const lost = log.search(/msg="redis unavailable"/);
  assert.ok(lost >= 0, 'the daemon logged the lost master');
  assert.ok(log.indexOf('msg="consumption paused" reason="redis unavailable"', lost) > lost, 'intake paused while no master answered');
  assert.ok(log.indexOf('msg="redis available"', lost) > lost, 'the daemon found the promoted replica');
});

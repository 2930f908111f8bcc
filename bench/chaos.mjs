// bench/chaos — the delivery guarantees under faults, measured against a clean control run.
//
// One deterministic stream of events (distinct and repeated users, profile and skill events
// interleaved, exact repeats, bad inputs) goes twice through passerelled on a standalone broker
// (`passerelle broker`: librdkafka's mock cluster, 3 brokers, replication 3) with a real
// redis-server (AOF, appendfsync always): once without faults (the control), once with them
// (daemons SIGKILLed and restarted, redis-server killed and restarted, broker request errors,
// a broker down and up, instances added to and removed from the group). A reader follows the
// output topics from the start and keeps, for every answer, its suggestion_id and a hash of its
// bytes. It prints, for the fault run against the control:
//   lost        answers of the control the fault run never sent
//   differ      answers sent with other bytes or another suggestion_id than the control's
//   duplicates  answers sent more than once beyond the control's count (identical or not)
//   state       users whose final Redis state differs from the control's
// and the throughput and p99 of each run. Exit status 1 when lost, differ or state is not 0.
//
//   node bench/chaos.mjs --events 1000000 [--kills 20] [--redis-restarts 3] [--instances 2]
//        [--bin build] [--rome ../shared/data/rome4] [--seed 1] [--check]
// --check: the small version (5,000 events, each fault kind once); --no-faults: the second run
// without faults, a check of the bench itself (every figure 0); --logs DIR keeps the daemons' logs;
// --events-of USER prints that person's events; --faults kill,redis,errors,broker,rebalance runs
// only those kinds (rebalance: the third instance joining, then SIGKILLed); CHAOS_DEBUG=1 prints the first differing answers.
//
// Limits of the mock broker (kafka_embedded.h): each partition keeps ~5 MiB, so the feeder keeps
// the stream at most --lead events ahead of the daemons' committed offsets and the reader follows
// live (it checks that it saw every offset of every output partition); the mock stores no
// transactional offsets, so the exactly-once mode cannot be measured here: runs are in the
// default mode (at-least-once with identical repeats).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { Kafka, logLevel, encode, decode, sleep, tmpDir, freePort, redisCommand } from '../tests/e2e/harness.mjs';

const BENCH_START = Date.now();
const FAULT_KINDS = ['kill', 'redis', 'errors', 'broker', 'rebalance'];
const TOPICS = { profile: 'chaos.profile', skills: 'chaos.skills', suggestions: 'chaos.suggestions', dlq: 'chaos.dlq' };

function parseArgs(argv) {
  const o = { stallMs: 120000, events: 0, kills: -1, redisRestarts: -1, instances: 2, seed: 1, lead: 20000, check: false,
    bin: process.env.PASSERELLE_BIN_DIR || 'build', rome: process.env.PASSERELLE_ROME_DIR || '../shared/data/rome4' };
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i], v = argv[i + 1];
    const num = () => { const n = Number(v); if (!Number.isInteger(n) || n < 0) throw new Error(`${a} expects a count, got '${v}'`); i++; return n; };
    if (a === '--events') o.events = num();
    else if (a === '--kills') o.kills = num();
    else if (a === '--redis-restarts') o.redisRestarts = num();
    else if (a === '--instances') o.instances = Math.max(1, num());
    else if (a === '--seed') o.seed = num();
    else if (a === '--lead') o.lead = Math.max(100, num());
    else if (a === '--stall-s') o.stallMs = 1000 * Math.max(10, num());
    else if (a === '--no-faults') o.noFaults = true;
    else if (a === '--faults') { // only these kinds, e.g. --faults kill,redis
      o.faults = new Set(String(v).split(','));
      for (const k of o.faults) if (!FAULT_KINDS.includes(k)) throw new Error(`--faults: unknown kind '${k}' (${FAULT_KINDS.join(', ')})`);
      i++;
    }
    else if (a === '--logs') { o.logs = path.resolve(v); i++; } // keep each daemon's log there
    else if (a === '--events-of') { o.eventsOf = v; i++; }
    else if (a === '--bin') { o.bin = v; i++; } else if (a === '--rome') { o.rome = v; i++; } else if (a === '--check') o.check = true;
    else throw new Error(`unknown argument '${a}' (see the head of bench/chaos.mjs)`);
  }
  if (!o.events) o.events = o.check ? 5000 : 1000000;
  if (o.kills < 0) o.kills = o.check ? 1 : 20;
  if (o.redisRestarts < 0) o.redisRestarts = o.check ? 1 : 3;
  return o;
}

// ---- the stream ----

function prng(seed) { // mulberry32: the same stream for the same seed
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function csvColumn(file, column) {
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l);
  const head = lines[0].split('","').map((h) => h.replace(/"/g, ''));
  const at = head.indexOf(column);
  return lines.slice(1).map((l) => l.split('","')[at]?.replace(/"/g, '')).filter((v) => v);
}

// Events as the daemon reads them, with their topic and key; a few are bad inputs (raw bytes).
function makeStream(o) {
  const rnd = prng(o.seed);
  const pick = (v) => v[Math.floor(rnd() * v.length)];
  const appellations = csvColumn(path.join(o.rome, 'unix_referentiel_appellation_v460_utf8.csv'), 'code_ogr').map(Number);
  const titles = csvColumn(path.join(o.rome, 'unix_referentiel_appellation_v460_utf8.csv'), 'libelle_appellation_court');
  const fiches = csvColumn(path.join(o.rome, 'unix_referentiel_code_rome_v460_utf8.csv'), 'code_rome');
  const competences = csvColumn(path.join(o.rome, 'unix_referentiel_competence_v460_utf8.csv'), 'code_ogr').map(Number);
  const users = Math.max(10, Math.floor(o.events / 6));
  const constraints = ['no_weekend', 'no_night', 'no_heavy_loads', 'no_travel'];
  const out = [], latest = new Map();
  const ts0 = 1767225600000; // 2026-01-01: every ts is a function of the event's place
  for (let i = 0; out.length < o.events; i++) {
    const user = `u${Math.floor(rnd() < 0.5 ? rnd() * users * 0.1 : rnd() * users)}`; // a busy tenth
    const base = { v: 1, event_id: `chaos-${o.seed}-${i}`, user_id: user, ts: ts0 + i * 1000 };
    const r = rnd();
    let ev, topic = TOPICS.profile;
    // an exact repeat of the person's latest event (a producer's retry); older repeats come from
    // the faults themselves (redeliveries after a kill)
    if (r < 0.004 && latest.has(user)) { out.push(latest.get(user)); continue; }
    if (r < 0.006) { // not msgpack (0xc1 is never used), unique bytes so that its dead letter is found
      out.push({ topic: TOPICS.profile, key: user, value: Buffer.concat([Buffer.from([0xc1]), Buffer.from(base.event_id)]) });
      continue;
    }
    if (r < 0.007) ev = { ...base, type: 'profile.upserted', experiences: 'none' }; // wrong type
    else if (r < 0.008) ev = { ...base, type: 'profile.exploded' }; // unknown type
    else if (r < 0.012) ev = { ...base, type: 'profile.erased' };
    else if (r < 0.75) {
      const n = 1 + Math.floor(rnd() * 3), experiences = [];
      for (let k = 0; k < n; k++) {
        const e = rnd() < 0.6 ? { appellation: pick(appellations) } : rnd() < 0.5 ? { rome: pick(fiches) } : { title: pick(titles) };
        if (rnd() < 0.6) e.months = 1 + Math.floor(rnd() * 240);
        experiences.push(e);
      }
      ev = { ...base, type: 'profile.upserted', experiences };
      if (rnd() < 0.2) ev.avoid = [pick(constraints)];
    } else {
      topic = TOPICS.skills;
      const confirmed = [], rejected = [];
      for (let k = Math.floor(rnd() * 5); k >= 0; k--) confirmed.push(pick(competences));
      for (let k = Math.floor(rnd() * 2); k > 0; k--) rejected.push(pick(competences));
      ev = { ...base, type: 'skills.confirmed', confirmed, rejected, added: [] };
    }
    const item = { topic, key: user, value: Buffer.from(encode(ev)), eventId: ev.event_id, erase: ev.type === 'profile.erased' };
    out.push(item);
    latest.set(user, item);
  }
  return out;
}

// ---- components ----

class Broker {
  static async start(bin, partitions) {
    const b = new Broker();
    b.proc = spawn(path.join(bin, 'passerelle'), ['broker', '--brokers', '3', '--partitions', String(partitions),
      ...Object.values(TOPICS)], { stdio: ['pipe', 'pipe', 'inherit'] });
    b.lines = readline.createInterface({ input: b.proc.stdout });
    b.waiting = [];
    b.lines.on('line', (l) => {
      const m = /^bootstrap\.servers=(\S+)/.exec(l);
      if (m) b.bootstrap = m[1];
      else b.waiting.shift()?.(l);
    });
    for (let i = 0; !b.bootstrap; i++) { if (i > 200) throw new Error('passerelle broker never printed its address'); await sleep(25); }
    return b;
  }
  fault(line) {
    return new Promise((resolve, reject) => {
      this.waiting.push((answer) => (answer === 'ok' ? resolve() : reject(new Error(`broker fault '${line}': ${answer}`))));
      this.proc.stdin.write(`${line}\n`);
    });
  }
  async stop() { const done = new Promise((r) => this.proc.once('exit', r)); this.proc.stdin.end(); await done; }
}

class Redis {
  static async start() {
    const r = new Redis();
    r.port = await freePort();
    r.dir = tmpDir();
    await r.restart();
    return r;
  }
  get url() { return `redis://127.0.0.1:${this.port}/0`; }
  async restart() {
    this.proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir,
      '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', '--enable-debug-command', 'yes'], { stdio: 'ignore' });
    for (let i = 0; i < 200; i++) {
      try { if ((await redisCommand(this.port, 'PING')) === 'PONG') return; } catch { /* loading */ }
      await sleep(50);
    }
    throw new Error('redis-server did not answer PING');
  }
  async kill() { const done = new Promise((r) => this.proc.once('exit', r)); this.proc.kill('SIGKILL'); await done; }
  // Each user's state as a digest of its value (DEBUG DIGEST-VALUE: TTLs left out).
  states() {
    const cli = (args, input) => spawnSync('redis-cli', ['-p', String(this.port), ...args], { encoding: 'utf8', input, maxBuffer: 1 << 30 });
    const keys = cli(['--scan', '--pattern', 'chaos:user:*']).stdout.split('\n').filter((k) => k);
    const states = new Map();
    for (let at = 0; at < keys.length; at += 1000) {
      const part = keys.slice(at, at + 1000);
      const digests = cli(['DEBUG', 'DIGEST-VALUE', ...part]).stdout.split('\n').filter((d) => d);
      part.forEach((k, j) => states.set(k, digests[j]));
    }
    return states;
  }
  async destroy() { await this.kill(); rmSync(this.dir, { recursive: true, force: true }); }
}

class Daemon {
  constructor(bin, conf, name, logDir) {
    this.bin = bin; this.conf = conf; this.name = name; this.restarts = 0; this.log = '';
    if (logDir) { mkdirSync(logDir, { recursive: true }); this.logFile = path.join(logDir, `${name}.log`); }
  }
  start() {
    this.proc = spawn(path.join(this.bin, 'passerelled'), ['--config', this.conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    let partial = '';
    this.proc.stderr.on('data', (b) => {
      this.log = (this.log + b.toString()).slice(-20000);
      if (!this.logFile) return;
      // each line stamped with the bench's clock, to line up the instances' logs and the faults
      const lines = (partial + b.toString()).split('\n');
      partial = lines.pop();
      const t = ((Date.now() - BENCH_START) / 1000).toFixed(3);
      if (lines.length) appendFileSync(this.logFile, lines.map((l) => `t=${t} ${l}\n`).join(''));
    });
    this.exited = new Promise((r) => this.proc.once('exit', (code, signal) => r({ code, signal })));
  }
  async kill() { this.killing = true; this.proc.kill('SIGKILL'); await this.exited; this.restarts++; this.killing = false; }
  async stop() { this.proc.kill('SIGTERM'); return this.exited; }
}

function daemonConf(dir, bootstrap, redis, name) {
  const conf = path.join(dir, `${name}.conf`);
  writeFileSync(conf, `[kafka]\nbootstrap.servers = ${bootstrap}\n` +
    // the mock lets a member back in only once the old session expired: keep sessions short
    `session.timeout.ms = 6000\nheartbeat.interval.ms = 500\n` +
    // CHAOS_KAFKA="debug = eos,cgrp" adds librdkafka properties (lines, separated by ';')
    (process.env.CHAOS_KAFKA ? `${process.env.CHAOS_KAFKA.split(';').join('\n')}\n` : '') +
    `[topics]\nprofile = ${TOPICS.profile}\nskills = ${TOPICS.skills}\nsuggestions = ${TOPICS.suggestions}\ndlq = ${TOPICS.dlq}\ngroup = chaos\n` +
    `[redis]\nurl = ${redis.url}\nkey_prefix = chaos:\nbackoff_initial_ms = 50\nbackoff_max_ms = 500\n` +
    `[rome]\nkey_prefix = chaos:\n` +
    // small answers: the reader follows ~2 of them an event and the mock keeps ~5 MiB a partition
    `[matching]\ntop = 5\nskills_asked = 10\n[log]\nlevel = ${process.env.CHAOS_LOG_LEVEL || 'info'}\n[http]\nenabled = false\n`);
  return conf;
}

// Follows the output topics from the start: every answer's id and bytes' hash, by what it answers.
class Reader {
  static async start(kafka, fedAt) {
    const r = new Reader();
    r.fedAt = fedAt;
    r.answers = new Map(); // "answers|type" → [{id, hash}] one entry an output
    r.deadLetters = new Map(); // hash of the original bytes → count
    r.tombstones = new Map(); // user → count
    r.offsets = new Map(); // "topic/partition" → count of messages seen
    r.firstOffset = new Map();
    r.outputs = 0;
    r.lastAt = Date.now();
    r.latencies = [];
    r.kafka = kafka;
    r.next = new Map(); // "topic/partition" → offset after the last one taken
    r.restarts = 0;
    await r.connect();
    return r;
  }
  // A fresh consumer (own group, from the beginning): what was taken already is skipped by offset.
  async connect() {
    this.consumer = this.kafka.consumer({ groupId: `chaos-reader-${process.pid}-${Date.now()}`, maxWaitTimeInMs: 100,
      maxBytesPerPartition: 4 << 20, maxBytes: 64 << 20, retry: { retries: 100, maxRetryTime: 2000 } });
    this.consumer.on(this.consumer.events.CRASH, (e) => console.log(`  reader: ${e.payload.error.message} (restart: ${e.payload.restart})`));
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [TOPICS.suggestions, TOPICS.dlq], fromBeginning: true });
    await this.consumer.run({ eachBatchAutoResolve: true, eachBatch: async ({ batch }) => this.take(batch) });
  }
  // kafkajs' consumer can stop fetching for minutes after the broker's injected Fetch errors
  // (measured: 117 s with every daemon idle and caught up, the outputs in the topics unread):
  // the reader is then replaced, so that the bench measures the daemons, not kafkajs' retries.
  async restart() {
    this.restarts++;
    const old = this.consumer;
    await withTimeout(old.disconnect(), 10000).catch(() => {});
    await this.connect();
  }
  take(batch) {
    const tp = `${batch.topic}/${batch.partition}`;
    if (!this.firstOffset.has(tp) && batch.messages.length) this.firstOffset.set(tp, Number(batch.messages[0].offset));
    const now = Date.now();
    let taken = 0;
    for (const m of batch.messages) {
      if (Number(m.offset) < (this.next.get(tp) ?? 0)) continue; // taken before a restart
      this.next.set(tp, Number(m.offset) + 1);
      this.offsets.set(tp, (this.offsets.get(tp) ?? 0) + 1);
      taken++;
      this.outputs++;
      if (batch.topic === TOPICS.dlq) {
        const rec = decode(m.value);
        const h = createHash('sha1').update(rec.value ?? Buffer.alloc(0)).digest('hex').slice(0, 16);
        this.deadLetters.set(h, (this.deadLetters.get(h) ?? 0) + 1);
      } else if (m.value === null) {
        const user = m.key.toString();
        this.tombstones.set(user, (this.tombstones.get(user) ?? 0) + 1);
      } else {
        const v = decode(m.value);
        const key = `${v.answers}|${v.type}`;
        const hash = createHash('sha1').update(m.value).digest('hex').slice(0, 16);
        const list = this.answers.get(key);
        if (list) { list.push({ id: v.suggestion_id, hash }); if (process.env.CHAOS_DEBUG && list[0].hash !== hash) console.log("TWO WAYS", key, JSON.stringify(list[0].v), JSON.stringify(v)); }
        else {
          this.answers.set(key, [{ id: v.suggestion_id, hash, v: process.env.CHAOS_DEBUG ? v : undefined }]);
          const at = this.fedAt.get(v.answers);
          if (at) this.latencies.push(now - at);
        }
      }
    }
    if (taken) this.lastAt = now;
  }
  // Output partitions whose messages were not all seen (the mock dropped them before the reader
  // came): the figures would not count them.
  gaps(highWater) {
    let missed = 0;
    for (const [tp, high] of highWater) missed += Math.max(0, high - (this.offsets.get(tp) ?? 0));
    return missed;
  }
  async stop() { await this.consumer.disconnect(); }
}

// Sends the stream in its order for each person, the people side by side. A person's profile and
// skill events travel on two topics, which Kafka does not order between them: an event goes out
// only once the person's events on the other topic have been answered (as a front end sends a
// confirmation after showing the suggestions it confirms), so that both runs apply every person's
// events in one order. An event is answered by its jobs.suggested, its dead letter, or (erasure)
// a tombstone; `need` counts the sends of one event_id (repeats are answered again).
class Feeder {
  constructor(stream, reader) {
    this.stream = stream; this.reader = reader; this.at = 0; this.sent = 0; this.answered = 0;
    this.blocked = new Map(); // user → items held back, in order
    this.open = new Map(); // user → {topic, items}: sent, not yet answered
    this.sends = new Map(); // hash of the bytes → sends so far
    this.erases = new Map(); // user → erasures sent
  }
  isAnswered(it) {
    const r = this.reader;
    if ((r.deadLetters.get(it.hash) ?? 0) >= it.need) return true;
    if (it.erase) return (r.tombstones.get(it.key) ?? 0) >= it.need;
    return it.eventId !== undefined && (r.answers.get(`${it.eventId}|jobs.suggested`)?.length ?? 0) >= it.need;
  }
  settle(user) {
    const o = this.open.get(user);
    if (!o) return true;
    while (o.items.length && this.isAnswered(o.items[0])) { o.items.shift(); this.answered++; }
    if (o.items.length) return false;
    this.open.delete(user);
    return true;
  }
  canSend(m) {
    const o = this.open.get(m.key);
    return !o || o.topic === m.topic || this.settle(m.key);
  }
  send(m, out) {
    const hash = createHash('sha1').update(m.value).digest('hex').slice(0, 16);
    const [counts, id] = m.erase ? [this.erases, m.key] : [this.sends, hash]; // repeats: same bytes
    const need = (counts.get(id) ?? 0) + 1;
    counts.set(id, need);
    const o = this.open.get(m.key) ?? this.open.set(m.key, { topic: m.topic, items: [] }).get(m.key);
    o.topic = m.topic;
    o.items.push({ key: m.key, eventId: m.eventId, erase: m.erase, hash, need });
    out.push(m);
    this.sent++;
  }
  unanswered() { let n = 0; for (const o of this.open.values()) n += o.items.length; return n; }
  // What may go out now: held-back events first, then the stream, at most `lead` unanswered.
  ready(lead) {
    const out = [];
    for (const user of [...this.open.keys()]) this.settle(user);
    let room = lead - this.unanswered();
    for (const [user, items] of this.blocked) {
      while (items.length && room > 0 && this.canSend(items[0])) { this.send(items.shift(), out); room--; }
      if (!items.length) this.blocked.delete(user);
    }
    while (this.at < this.stream.length && room > 0 && out.length < 2000) {
      const m = this.stream[this.at++];
      const held = this.blocked.get(m.key);
      if (held) held.push(m);
      else if (this.canSend(m)) { this.send(m, out); room--; } else this.blocked.set(m.key, [m]);
    }
    return out;
  }
  done() { return this.at >= this.stream.length && !this.blocked.size && this.unanswered() === 0; }
  waiting() { return this.unanswered() + [...this.blocked.values()].reduce((n, v) => n + v.length, 0); }
}

function withTimeout(promise, ms) {
  let timer;
  return Promise.race([promise, new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(timer));
}

async function highWaterMarks(admin, topics) {
  const marks = new Map();
  for (const topic of topics)
    for (const p of await admin.fetchTopicOffsets(topic)) marks.set(`${topic}/${p.partition}`, Number(p.high));
  return marks;
}

async function committedLag(admin, produced) {
  let committed = 0;
  for (const t of await admin.fetchOffsets({ groupId: 'chaos', topics: [TOPICS.profile, TOPICS.skills] }))
    for (const p of t.partitions) committed += Math.max(0, Number(p.offset));
  return produced - committed;
}

// One pass of the stream; `faults` is a list of {at: fraction fed, run: async (ctx) => …}.
async function run(o, stream, faults, label) {
  const dir = tmpDir();
  const broker = await Broker.start(o.bin, 16);
  const redis = await Redis.start();
  const confs = [];
  for (let k = 0; k < o.instances; k++) confs.push(daemonConf(dir, broker.bootstrap, redis, `d${k}`));
  const publish = spawnSync(path.join(o.bin, 'passerelle'), ['rome', 'publish', '--config', confs[0], '--rome', o.rome], { encoding: 'utf8' });
  if (publish.status !== 0) throw new Error(`rome publish failed: ${publish.stderr}`);
  const kafka = new Kafka({ clientId: 'chaos', brokers: broker.bootstrap.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const fedAt = new Map(); // event_id → when it was sent, for the latency
  const reader = await Reader.start(kafka, fedAt);
  const daemons = [];
  for (let k = 0; k < o.instances; k++) {
    const d = new Daemon(o.bin, confs[k], `d${k}`, o.logs && path.join(o.logs, label.trim()));
    d.start();
    daemons.push(d);
  }
  const ctx = { broker, redis, daemons, dir, o, log: [] };
  // not idempotent: kafkajs' idempotent producer asks for a controller, which the mock does not name
  const producer = kafka.producer({ allowAutoTopicCreation: false, maxInFlightRequests: 1, retry: { retries: 50, maxRetryTime: 2000 } });
  await producer.connect();
  const started = Date.now();
  const feeder = new Feeder(stream, reader);
  let next = 0, progressAt = Date.now(), lastAnswered = 0, checkedAt = 0;
  const sorted = [...faults].sort((a, b) => a.at - b.at);
  for (;;) {
    const batch = feeder.ready(o.lead);
    if (batch.length) {
      const byTopic = new Map(), now = Date.now();
      for (const m of batch) {
        (byTopic.get(m.topic) ?? byTopic.set(m.topic, []).get(m.topic)).push({ key: m.key, value: m.value });
        if (m.eventId && !fedAt.has(m.eventId)) fedAt.set(m.eventId, now);
      }
      await producer.sendBatch({ topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
    }
    while (next < sorted.length && sorted[next].at <= feeder.sent / stream.length) {
      const f = sorted[next++];
      ctx.log.push(`${((Date.now() - started) / 1000).toFixed(1)} s (t=${((Date.now() - BENCH_START) / 1000).toFixed(1)}), ${feeder.sent} sent: ${f.name}`);
      await f.run(ctx);
    }
    for (const d of daemons) if (d.proc.exitCode !== null && !d.stopped && !d.killing) throw new Error(`${d.name} exited: ${d.log.slice(-3000)}`);
    if (feeder.done()) break;
    if (feeder.answered !== lastAnswered) { lastAnswered = feeder.answered; progressAt = Date.now(); }
    if (Date.now() - reader.lastAt > 8000 && Date.now() - checkedAt > 4000) { // the reader stuck?
      checkedAt = Date.now();
      const marks = await withTimeout(highWaterMarks(admin, [TOPICS.suggestions, TOPICS.dlq]), 5000).catch(() => null);
      if (marks && reader.gaps(marks) > 0) {
        ctx.log.push(`${((Date.now() - started) / 1000).toFixed(1)} s: reader idle with ${reader.gaps(marks)} outputs unread: replaced`);
        await reader.restart();
      }
    }
    if (Date.now() - progressAt > o.stallMs) {
      const marks = await withTimeout(highWaterMarks(admin, [TOPICS.suggestions, TOPICS.dlq]), 10000).catch(() => null);
      const behind = marks ? reader.gaps(marks) : 'unknown';
      ctx.log.push(`no answer for ${o.stallMs / 1000} s: ${feeder.waiting()} events unanswered, ` +
        `${behind} outputs in the topics not seen by the reader, stopped`);
      break;
    }
    if (!batch.length) await sleep(50);
  }
  await producer.disconnect();
  // done: every input committed and no output for 3 s (repeats answered again arrive late)
  for (let end = Date.now() + 60000; Date.now() < end; await sleep(500))
    if (await committedLag(admin, feeder.sent) <= 0 && Date.now() - reader.lastAt > 3000) break;
  const seconds = (reader.lastAt - started) / 1000;
  for (const d of daemons) { d.stopped = true; await d.stop(); }
  const missed = reader.gaps(await withTimeout(highWaterMarks(admin, [TOPICS.suggestions, TOPICS.dlq]), 30000));
  await withTimeout(reader.stop(), 10000).catch((e) => console.log(`  reader stop: ${e.message}`));
  await withTimeout(admin.disconnect(), 10000).catch((e) => console.log(`  admin disconnect: ${e.message}`));
  const states = redis.states();
  await redis.destroy();
  await broker.stop();
  rmSync(dir, { recursive: true, force: true });
  const lat = reader.latencies.sort((a, b) => a - b);
  // feed→answer: the feeder keeps up to --lead events queued, so this is mostly queueing
  const p99 = lat.length ? lat[Math.floor(lat.length * 0.99)] : 0;
  console.log(`${label}: ${stream.length} events in ${seconds.toFixed(1)} s (${Math.round(stream.length / seconds)} events/s), ` +
    `${reader.outputs} outputs, p99 feed→answer ${p99} ms, ${states.size} users in Redis` +
    (missed ? `; READER MISSED ${missed} outputs (mock retention): figures incomplete` : ''));
  for (const l of ctx.log) console.log(`  fault at ${l}`);
  return { reader, states, missed };
}

function compare(control, faulty) {
  let lost = 0, differ = 0, duplicates = 0, identicalDuplicates = 0, extra = 0;
  for (const [key, want] of control.reader.answers) {
    const got = faulty.reader.answers.get(key);
    if (!got) {
      if (process.env.CHAOS_DEBUG && lost < 5) console.log('LOST', key);
      lost++;
      continue;
    }
    const ref = want[0];
    if (want.some((w) => w.hash !== ref.hash || w.id !== ref.id)) throw new Error(`control itself answered ${key} two ways`);
    const wrong = got.filter((g) => g.hash !== ref.hash || g.id !== ref.id).length;
    if (wrong && process.env.CHAOS_DEBUG && differ < 2) console.log('DIFFER', key, JSON.stringify(ref.v), JSON.stringify(got[0].v));
    differ += wrong > 0;
    const over = Math.max(0, got.length - want.length);
    duplicates += over;
    if (!wrong) identicalDuplicates += over;
  }
  for (const key of faulty.reader.answers.keys()) extra += !control.reader.answers.has(key);
  let lostDead = 0;
  for (const [h, n] of control.reader.deadLetters) if ((faulty.reader.deadLetters.get(h) ?? 0) < 1 && n > 0) lostDead++;
  let tombLost = 0;
  for (const user of control.reader.tombstones.keys()) tombLost += !faulty.reader.tombstones.has(user);
  let state = 0;
  for (const [k, v] of control.states) state += faulty.states.get(k) !== v;
  for (const k of faulty.states.keys()) state += !control.states.has(k);
  return { lost, differ, duplicates, identicalDuplicates, extra, lostDead, tombLost, state };
}

function faultPlan(o) {
  const plan = [];
  for (let k = 0; k < o.kills; k++)
    plan.push({ kind: 'kill', at: (k + 0.5) / (o.kills + 1), name: `SIGKILL d${k % o.instances}, restart`, run: async (c) => {
      const d = c.daemons[k % c.daemons.length];
      await d.kill();
      d.start();
    } });
  for (let k = 0; k < o.redisRestarts; k++)
    plan.push({ kind: 'redis', at: (k + 0.7) / (o.redisRestarts + 1), name: 'redis-server SIGKILL, back after 1 s', run: async (c) => {
      await c.redis.kill();
      await sleep(1000);
      await c.redis.restart();
    } });
  plan.push({ kind: 'errors', at: 0.15, name: 'errors Produce ×20, Fetch ×10, OffsetCommit ×5', run: async (c) => {
    await c.broker.fault('errors Produce 20 NOT_LEADER_FOR_PARTITION REQUEST_TIMED_OUT');
    await c.broker.fault('errors Fetch 10 NOT_LEADER_FOR_PARTITION');
    await c.broker.fault('errors OffsetCommit 5 REQUEST_TIMED_OUT COORDINATOR_NOT_AVAILABLE');
  } });
  plan.push({ kind: 'broker', at: 0.35, name: 'broker 2 down 3 s, up', run: async (c) => {
    await c.broker.fault('down 2');
    await sleep(3000);
    await c.broker.fault('up 2');
  } });
  plan.push({ kind: 'rebalance', at: 0.45, name: 'one more instance joins the group', run: async (c) => {
    const d = new Daemon(c.o.bin, daemonConf(c.dir, c.broker.bootstrap, c.redis, 'extra'), 'extra', c.o.logs && path.join(c.o.logs, 'faults'));
    d.start();
    c.extra = d;
  } });
  plan.push({ kind: 'rebalance', at: 0.75, name: 'that instance SIGKILLed for good', run: async (c) => { if (c.extra) { await c.extra.kill(); c.extra = null; } } });
  return o.faults ? plan.filter((f) => o.faults.has(f.kind)) : plan;
}

const o = parseArgs(process.argv);
const stream = makeStream(o);
if (o.eventsOf) { // --events-of USER: that person's events in stream order, as JSON Lines
  for (const m of stream) if (m.key === o.eventsOf) {
    try { console.log(JSON.stringify({ topic: m.topic, ...decode(m.value) })); } catch { console.log(JSON.stringify({ topic: m.topic, raw: m.value.toString('hex') })); }
  }
  process.exit(0);
}
console.log(`chaos: ${stream.length} events (seed ${o.seed}), ${o.instances} instances, ${o.kills} kills, ${o.redisRestarts} redis restarts`);
const control = await run({ ...o, instances: 1 }, stream, [], 'control');
// --no-faults: the second run without faults, which checks the bench itself (all figures 0)
const faulty = await run(o, stream, o.noFaults ? [] : faultPlan(o), o.noFaults ? 'again  ' : 'faults ');
const c = compare(control, faulty);
console.log(`answers: ${control.reader.answers.size} in the control; fault run: lost ${c.lost}, differ ${c.differ}, ` +
  `duplicates ${c.duplicates} (identical ${c.identicalDuplicates}), not in the control ${c.extra}`);
console.log(`dead letters lost ${c.lostDead}, tombstones lost ${c.tombLost}, users whose Redis state differs ${c.state}`);
const bad = c.lost + c.differ + c.extra + c.lostDead + c.tombLost + c.state + control.missed + faulty.missed;
process.exit(bad ? 1 : 0);

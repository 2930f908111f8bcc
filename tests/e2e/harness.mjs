// Test harness for passerelled end-to-end tests: a real redis-server on a free loopback port, the
// daemon with its embedded Kafka broker, and kafkajs + @msgpack/msgpack as independent clients.
import { spawn, spawnSync } from 'node:child_process';
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { encode, decode } from '@msgpack/msgpack';

export const BIN_DIR = process.env.PASSERELLE_BIN_DIR;
export const ROME_DIR = process.env.PASSERELLE_ROME_DIR;
export const TOPICS = {
  profile: 'passerelle.profile.v1',
  skills: 'passerelle.skills.v1',
  suggestions: 'passerelle.suggestions.v1',
  dlq: 'passerelle.dlq.v1',
};

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function tmpDir() {
  return mkdtempSync(path.join(os.tmpdir(), 'passerelle-e2e-'));
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

// A minimal RESP client: one command, one reply (enough for PING, GET, EXISTS, SHUTDOWN).
export function redisCommand(port, ...args) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    sock.on('error', reject);
    sock.on('connect', () => {
      let cmd = `*${args.length}\r\n`;
      for (const a of args) cmd += `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`;
      sock.write(cmd);
    });
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const nl = buf.indexOf('\r\n');
      if (nl < 0) return;
      const head = buf.subarray(0, nl).toString();
      if (head[0] === '$') {
        const len = parseInt(head.slice(1), 10);
        if (len < 0) { sock.destroy(); resolve(null); return; }
        if (buf.length < nl + 2 + len + 2) return;
        sock.destroy();
        resolve(buf.subarray(nl + 2, nl + 2 + len));
      } else {
        sock.destroy();
        if (head[0] === '-') reject(new Error(head.slice(1)));
        else resolve(head.slice(1));
      }
    });
  });
}

export class RedisServer {
  constructor(port, dir, args = []) { this.port = port; this.dir = dir; this.args = args; this.proc = null; }
  // args: more redis-server options (e.g. --replicaof HOST PORT)
  static async start(args = []) {
    const r = new RedisServer(await freePort(), tmpDir(), args);
    await r.restart();
    return r;
  }
  get url() { return `redis://127.0.0.1:${this.port}/0`; }
  async restart() {
    this.proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '',
      '--appendonly', 'no', '--dir', this.dir, ...this.args], { stdio: 'ignore' });
    for (let i = 0; i < 100; i++) {
      try { if ((await redisCommand(this.port, 'PING')) === 'PONG') return; } catch { /* not yet */ }
      await sleep(50);
    }
    throw new Error(`redis-server on ${this.port} did not answer PING`);
  }
  async stop(signal = 'SIGKILL') {
    if (!this.proc) return;
    const p = this.proc;
    this.proc = null;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await exited;
  }
  async destroy() { await this.stop(); rmSync(this.dir, { recursive: true, force: true }); }
}

// Runs the passerelle CLI; throws with its stderr when it fails.
export function cli(...args) {
  const r = spawnSync(path.join(BIN_DIR, 'passerelle'), args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`passerelle ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

export class Daemon {
  constructor() { this.proc = null; this.stderr = ''; this.bootstrap = null; }
  // Starts passerelled with an embedded broker and the given Redis (its `conf`, the [redis] lines
  // that reach it, or else its url); resolves once it is ready.
  static async start(redis, extraConf = '') {
    const d = new Daemon();
    d.dir = tmpDir();
    d.confPath = path.join(d.dir, 'passerelled.conf');
    writeFileSync(d.confPath, `[kafka]\nbootstrap.servers = embedded\npasserelle.embedded.partitions = 4\n` +
      `[redis]\n${redis.conf ?? `url = ${redis.url}\n`}backoff_initial_ms = 50\nbackoff_max_ms = 500\n` +
      `[limits]\nbatch_max_wait_ms = 5\n[log]\nlevel = info\n[http]\nenabled = true\naddress = 127.0.0.1\nport = 0\n` + extraConf);
    d.proc = spawn(path.join(BIN_DIR, 'passerelled'), ['--config', d.confPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    d.exited = new Promise((r) => d.proc.once('exit', (code, signal) => r({ code, signal })));
    d.proc.stdout.on('data', (b) => {
      const m = /bootstrap\.servers=(\S+)/.exec(b.toString());
      if (m) d.bootstrap = m[1];
    });
    d.proc.stderr.on('data', (b) => { d.stderr += b.toString(); });
    await d.waitFor(/msg=ready/, 20000);
    d.httpPort = Number(/msg="metrics and health listening".* port=(\d+)/.exec(d.stderr)[1]);
    d.kafka = new Kafka({ clientId: 'e2e', brokers: [d.bootstrap], logLevel: logLevel.NOTHING });
    return d;
  }
  async waitFor(re, ms) {
    const end = Date.now() + ms;
    while (!re.test(this.stderr)) {
      if (Date.now() > end) throw new Error(`daemon never logged ${re}; stderr:\n${this.stderr}`);
      if (this.proc.exitCode !== null) throw new Error(`daemon exited (${this.proc.exitCode}); stderr:\n${this.stderr}`);
      await sleep(20);
    }
  }
  async stop() {
    this.proc.kill('SIGTERM');
    const r = await this.exited;
    rmSync(this.dir, { recursive: true, force: true });
    return r;
  }
}

// A Redis with the ROME index published and a daemon on it, for one test file: call in before();
// stop() (in after()) asserts the daemon exits 0 on SIGTERM — under ASan that also means no leak.
export async function startStack(extraConf = '') {
  const redis = await RedisServer.start();
  cli('rome', 'publish', '--redis', redis.url, '--rome', ROME_DIR);
  const daemon = await Daemon.start(redis, extraConf);
  return {
    redis,
    daemon,
    async stop(assert) {
      const { code } = await daemon.stop();
      await redis.destroy();
      assert.equal(code, 0, `passerelled exits 0 on SIGTERM (and without leaks under ASan); its log ends with:\n${daemon.stderr.slice(-4000)}`);
    },
  };
}

// Registers the before/after hooks of a test file around one stack; its fields (redis, daemon)
// are there once the tests run.
export function useStack(extraConf = '') {
  const stack = {};
  before(async () => { Object.assign(stack, await startStack(extraConf)); });
  after(() => stack.stop(assert));
  return stack;
}

export async function produce(kafka, topic, messages) {
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages });
  await producer.disconnect();
}

// Encodes an event map as the daemon expects it: MessagePack value, key = user_id.
export const eventMessage = (ev) => ({ key: ev.user_id, value: Buffer.from(encode(ev)) });

let eventSeq = 0;
export function newEvent(type, userId, body) {
  eventSeq += 1;
  return { v: 1, type, event_id: `ev-${process.pid}-${Date.now()}-${eventSeq}`, user_id: userId, ts: Date.now(), ...body };
}

// Reads `topics` from the beginning with a fresh group until done(collected) is true.
export async function collect(kafka, topics, done, timeoutMs = 20000) {
  const consumer = kafka.consumer({ groupId: `e2e-${process.pid}-${Date.now()}-${Math.random()}`, maxWaitTimeInMs: 50 });
  await consumer.connect();
  for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: true });
  const got = [];
  let finish;
  const finished = new Promise((r) => { finish = r; });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      got.push({
        topic, partition, offset: Number(message.offset), key: message.key ? message.key.toString() : null,
        value: message.value === null ? null : decode(message.value), raw: message.value,
        headers: message.headers ?? {},
      });
      if (done(got)) finish();
    },
  });
  const timer = setTimeout(finish, timeoutMs);
  await finished;
  clearTimeout(timer);
  await consumer.disconnect();
  return got;
}

export { encode, decode, Kafka, logLevel };

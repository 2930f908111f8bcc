// Validates the deployment manifests that cannot run on this machine:
//   - every YAML document of deploy/compose.yaml and deploy/k8s/*.yaml parses (the `yaml` package,
//     pinned in package-lock.json), and each Kubernetes object has apiVersion, kind, metadata.name;
//   - the pieces agree with each other: probes on /healthz and /readyz at the port passerelled's
//     [http] section listens on, the ConfigMap mounted where --config points, Kafka and Redis
//     addresses naming services that exist, input partitions >= replicas;
//   - writes the passerelled.conf carried by the ConfigMap and by compose to OUT_DIR, for
//     `passerelled --check-config` (run by tests/deploy_check.sh).
// Usage: node validate.mjs SOURCE_DIR OUT_DIR
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';

const [srcDir, outDir] = process.argv.slice(2);
if (!srcDir || !outDir) {
  console.error('usage: node validate.mjs SOURCE_DIR OUT_DIR');
  process.exit(2);
}
let failures = 0;
const fail = (msg) => { console.log(`FAIL: ${msg}`); failures++; };
const ok = (msg) => console.log(`ok: ${msg}`);
const check = (cond, msg) => (cond ? ok(msg) : fail(msg));

function parseAll(path) {
  const docs = YAML.parseAllDocuments(readFileSync(path, 'utf8'));
  const objects = [];
  for (const doc of docs) {
    if (doc.errors.length) fail(`${path}: ${doc.errors.map((e) => e.message).join('; ')}`);
    else objects.push(doc.toJS());
  }
  if (!docs.some((d) => d.errors.length)) ok(`${path} parses (${docs.length} document(s))`);
  return objects.filter((o) => o !== null);
}

// The few INI facts the cross-checks need: section → key → value (the daemon's own parser,
// run through --check-config, is the judge of validity).
function iniValues(text) {
  const out = {};
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const s = line.match(/^\[(.+)\]$/);
    if (s) { section = s[1]; out[section] ??= {}; continue; }
    const kv = line.match(/^([^=]+?)\s*=\s*(.*)$/);
    if (kv) out[section][kv[1]] = kv[2];
  }
  return out;
}

const hostOf = (hostPort) => hostPort.replace(/:\d+$/, '');

// ---- Kubernetes ----
const k8sDir = join(srcDir, 'deploy/k8s');
const files = readdirSync(k8sDir).filter((f) => f.endsWith('.yaml')).sort();
const objects = [];
for (const f of files) {
  for (const o of parseAll(join(k8sDir, f))) {
    if (!o.apiVersion || !o.kind) fail(`${f}: a document lacks apiVersion or kind`);
    else if (o.kind !== 'Kustomization' && !o.metadata?.name) fail(`${f}: ${o.kind} lacks metadata.name`);
    objects.push({ file: f, ...o });
  }
}
const find = (kind, name) => objects.find((o) => o.kind === kind && o.metadata?.name === name);
const kustomization = objects.find((o) => o.kind === 'Kustomization');
check(kustomization && JSON.stringify([...kustomization.resources].sort()) ===
  JSON.stringify(files.filter((f) => f !== 'kustomization.yaml')),
  'kustomization.yaml lists every other manifest');

const deployment = find('Deployment', 'passerelled');
const configMap = find('ConfigMap', 'passerelled-config');
if (!deployment || !configMap) {
  fail('deploy/k8s needs Deployment passerelled and ConfigMap passerelled-config');
} else {
  const pod = deployment.spec.template.spec;
  const c = pod.containers[0];
  const port = c.ports.find((p) => p.name === 'metrics')?.containerPort;
  const resolve = (probe) => (probe?.httpGet?.port === 'metrics' ? port : probe?.httpGet?.port);
  check(c.livenessProbe?.httpGet?.path === '/healthz' && resolve(c.livenessProbe) === port, 'liveness probe: GET /healthz on the metrics port');
  check(c.readinessProbe?.httpGet?.path === '/readyz' && resolve(c.readinessProbe) === port, 'readiness probe: GET /readyz on the metrics port');
  check(JSON.stringify(deployment.spec.selector.matchLabels) ===
    JSON.stringify(Object.fromEntries(Object.entries(deployment.spec.template.metadata.labels)
      .filter(([k]) => k in deployment.spec.selector.matchLabels))), 'Deployment selector matches its pod labels');

  const configArg = c.command[c.command.indexOf('--config') + 1];
  const volume = pod.volumes.find((v) => v.configMap?.name === 'passerelled-config');
  const mount = c.volumeMounts.find((m) => m.name === volume?.name);
  check(mount && configArg === `${mount.mountPath}/passerelled.conf` && 'passerelled.conf' in configMap.data,
    `--config ${configArg} is the ConfigMap's passerelled.conf`);

  const conf = configMap.data['passerelled.conf'];
  writeFileSync(join(outDir, 'k8s-passerelled.conf'), conf);
  const ini = iniValues(conf);
  check(ini.http?.address === '0.0.0.0' && Number(ini.http?.port) === port,
    `ConfigMap [http] listens on 0.0.0.0:${port}, the probed port`);
  const kafka = find('StatefulSet', 'kafka');
  const brokers = (ini.kafka?.['bootstrap.servers'] ?? '').split(',').map(hostOf);
  check(brokers.length > 0 && brokers.every((h) => {
    const m = h.match(/^kafka-(\d+)\.kafka-headless$/);
    return m && Number(m[1]) < kafka.spec.replicas && find('Service', 'kafka-headless');
  }), `bootstrap.servers (${brokers.join(', ')}) name pods of the kafka StatefulSet`);
  const redisHost = new URL(ini.redis?.url ?? 'redis://missing').hostname;
  check(find('Service', redisHost) && find('StatefulSet', redisHost), `[redis] url names the ${redisHost} Service`);

  const metricsService = find('Service', 'passerelled-metrics');
  check(metricsService?.spec.ports.some((p) => p.targetPort === 'metrics' || p.targetPort === port) &&
    metricsService.spec.selector['app.kubernetes.io/name'] === deployment.spec.template.metadata.labels['app.kubernetes.io/name'],
  'metrics Service selects the passerelled pods on the metrics port');

  // Scaling: partitions of the input topics bound the useful replicas.
  const topicsJob = find('Job', 'kafka-topics');
  const partitions = Number(topicsJob?.spec.template.spec.containers[0].args.join(' ').match(/--partitions (\d+)/)?.[1]);
  check(partitions >= deployment.spec.replicas, `input partitions (${partitions}) >= passerelled replicas (${deployment.spec.replicas})`);
}

// ---- compose ----
const [compose] = parseAll(join(srcDir, 'deploy/compose.yaml'));
const services = compose?.services ?? {};
for (const s of ['kafka', 'kafka-topics', 'redis', 'rome-publish', 'passerelled'])
  if (!services[s]) fail(`compose.yaml lacks the service ${s}`);
const d = services.passerelled;
if (d) {
  const ref = d.configs?.[0];
  const content = compose.configs?.[ref?.source]?.content;
  const configArg = d.command[d.command.indexOf('--config') + 1];
  check(content && ref.target === configArg, `compose: --config ${configArg} is the inline config ${ref?.source}`);
  if (content) {
    writeFileSync(join(outDir, 'compose-passerelled.conf'), content);
    const ini = iniValues(content);
    check(ini.http?.address === '0.0.0.0' && d.expose?.map(String).includes(ini.http?.port) &&
      d.healthcheck?.test?.join(' ').includes(`/${ini.http?.port}`) && d.healthcheck.test.join(' ').includes('/readyz'),
    'compose: [http] on 0.0.0.0, port exposed and probed on /readyz');
    const brokers = (ini.kafka?.['bootstrap.servers'] ?? '').split(',').map(hostOf);
    check(brokers.every((h) => services[h]), `compose: bootstrap.servers (${brokers.join(', ')}) name compose services`);
    check(services[new URL(ini.redis?.url ?? 'redis://missing').hostname], 'compose: [redis] url names a compose service');
    check(services.kafka?.environment?.KAFKA_PROCESS_ROLES === 'broker,controller', 'compose: Kafka runs in KRaft mode');
  }
}

if (failures) {
  console.log(`${failures} check(s) failed`);
  process.exit(1);
}
console.log('deployment manifests: all checks passed');

// Compares docs/asyncapi.yaml with what the code says (the JSON printed by contract_dump):
//   - input schemas (x-codec-tables) must list exactly the fields of the decoder's tables, with the
//     same types and the same required set, and every decoder table must be documented;
//   - output samples (x-codec-sample) must validate against their schema (no undocumented key, no
//     missing required key, types, const, enum, the integer forms of format: uint32), and every
//     documented property must be written by at least one sample: nothing documented that the
//     code never writes;
//   - the DLQ reason enum must be exactly the codec's reason names, and each bad input kind of
//     x-bad-inputs the reason the decoder gives the input contract_dump builds for it, both ways.
// usage: node check_asyncapi.mjs ASYNCAPI_YAML DUMP_JSON NODE_DIR   (exit 1 listing every mismatch)
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const [docPath, dumpPath, nodeDir] = process.argv.slice(2);
const YAML = createRequire(path.resolve(nodeDir, 'package.json'))('yaml');
const doc = YAML.parse(readFileSync(docPath, 'utf8'));
const code = JSON.parse(readFileSync(dumpPath, 'utf8'));
const schemas = doc.components?.schemas ?? {};
const problems = [];
const problem = (msg) => problems.push(msg);

function resolve(schema, where) {
  let s = schema;
  for (let hops = 0; s && s.$ref; hops++) {
    const name = s.$ref.replace('#/components/schemas/', '');
    if (!schemas[name] || hops > 10) { problem(`${where}: unresolvable $ref ${s.$ref}`); return {}; }
    s = schemas[name];
  }
  return s ?? {};
}

const typesOf = (s) => (Array.isArray(s.type) ? s.type : s.type === undefined ? [] : [s.type]);

// The code's type vocabulary (event_field_type_name): integer, string, boolean, binary,
// binary|null, array<integer>, array<string>, array<integer|string>, array<object>.
function codeTypeName(schema, where) {
  const s = resolve(schema, where);
  const names = typesOf(s).map((t) => {
    if (t === 'string' && s.format === 'binary') return 'binary';
    if (t === 'array') return `array<${codeTypeName(s.items ?? {}, `${where}[]`)}>`;
    return t;
  });
  return names.join('|');
}

// --- inputs: schemas vs the decoder's tables ---------------------------------------------------
const documentedTables = new Set();
for (const [name, schema] of Object.entries(schemas)) {
  const tables = schema['x-codec-tables'];
  if (!tables) continue;
  const fields = [];
  for (const t of tables) {
    documentedTables.add(t);
    if (!code.tables[t]) { problem(`${name}: x-codec-tables names "${t}", which the code does not have`); continue; }
    fields.push(...code.tables[t]);
  }
  const props = schema.properties ?? {};
  const required = new Set(schema.required ?? []);
  for (const f of fields) {
    const where = `${name}.${f.name}`;
    if (!(f.name in props)) { problem(`${where}: the decoder reads it (${f.type}), the document does not list it`); continue; }
    const docType = codeTypeName(props[f.name], where);
    if (docType !== f.type) problem(`${where}: the document says ${docType}, the decoder expects ${f.type}`);
    if (required.has(f.name) !== f.required)
      problem(`${where}: the document says ${required.has(f.name) ? 'required' : 'optional'}, the decoder ${f.required ? 'requires it' : 'treats it as optional'}`);
  }
  const names = new Set(fields.map((f) => f.name));
  for (const p of Object.keys(props)) if (!names.has(p)) problem(`${name}.${p}: documented, but the decoder has no such field`);
  for (const r of required) if (!names.has(r)) problem(`${name}: required "${r}" is not a decoder field`);
}
// Every table is documented, except the envelope-less profile of `passerelle match` (a CLI format).
for (const t of Object.keys(code.tables))
  if (t !== 'match.profile' && !documentedTables.has(t)) problem(`code table "${t}" is documented by no schema (x-codec-tables)`);

// --- outputs: samples vs schemas ---------------------------------------------------------------
const seen = new Map(); // schema object -> Set of properties written by some sample

// floats: the paths ("jobs/0/score") of the values the encoder wrote as MessagePack floats, which
// JSON cannot tell from integers when they are integral; uint32: those of the integers it wrote in
// the 5-byte uint32 form (0xce). `format: uint32` documents that form as required whatever the
// value (code lists); elsewhere an integer is in its shortest form, so 0xce only from 65536 on.
let floats = new Set();
let uint32 = new Set();

function jsonType(v, at) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) && !floats.has(at) ? 'integer' : 'number';
  if (typeof v === 'object' && Object.keys(v).length === 1 && typeof v.$bin === 'string') return 'binary';
  return typeof v; // boolean, string, object
}

function validate(value, schema, where, at = '') {
  const s = resolve(schema, where);
  const actual = jsonType(value, at);
  const allowed = typesOf(s).map((t) => (t === 'string' && s.format === 'binary' ? 'binary' : t));
  const ok = allowed.includes(actual) || (actual === 'integer' && allowed.includes('number'));
  if (!ok) { problem(`${where}: the code writes ${actual}, the document says ${allowed.join('|')}`); return; }
  if ('const' in s && value !== s.const) problem(`${where}: the code writes ${JSON.stringify(value)}, the document says const ${JSON.stringify(s.const)}`);
  if (s.enum && !s.enum.includes(value)) problem(`${where}: the code writes ${JSON.stringify(value)}, not in the documented enum`);
  if (actual === 'integer') {
    const fixed = uint32.has(at);
    if (s.format === 'uint32' && !fixed) problem(`${where}: documented as format uint32, the code writes ${value} in another form`);
    if (s.format !== 'uint32' && fixed && value < 65536) problem(`${where}: the code writes ${value} in the fixed uint32 form, the document has no format: uint32`);
  } else if (s.format === 'uint32') problem(`${where}: format uint32 on a ${actual}`);
  const below = (k) => (at ? `${at}/${k}` : `${k}`);
  if (actual === 'array') value.forEach((item, i) => validate(item, s.items ?? {}, `${where}[${i}]`, below(i)));
  if (actual === 'object') {
    const props = s.properties ?? {};
    if (!seen.has(s)) seen.set(s, { where, names: new Set() });
    for (const [k, v] of Object.entries(value)) {
      if (!(k in props)) { problem(`${where}.${k}: the code writes it, the document does not list it`); continue; }
      seen.get(s).names.add(k);
      validate(v, props[k], `${where}.${k}`, below(k));
    }
    for (const r of s.required ?? []) if (!(r in value)) problem(`${where}: documented as required, "${r}" is not written`);
  }
}

let nSamples = 0;
for (const [name, schema] of Object.entries(schemas)) {
  const sampleName = schema['x-codec-sample'];
  if (!sampleName) continue;
  const samples = code.samples[sampleName] ?? [];
  if (samples.length === 0) problem(`${name}: the code produced no "${sampleName}" sample to check`);
  samples.forEach((sample, i) => {
    nSamples++;
    floats = new Set(sample.floats);
    uint32 = new Set(sample.uint32);
    validate(sample.json, schema, `${sampleName}#${i}`);
  });
}
for (const sampleName of Object.keys(code.samples))
  if (!Object.values(schemas).some((s) => s['x-codec-sample'] === sampleName)) problem(`output "${sampleName}" is documented by no schema (x-codec-sample)`);
for (const [s, { where, names }] of seen)
  for (const p of Object.keys(s.properties ?? {}))
    if (!names.has(p)) problem(`${where}.${p}: documented, but no output of the code writes it`);

// --- DLQ reasons, channels and messages ----------------------------------------------------------
const reasonEnum = schemas.DlqRecord?.properties?.reason?.enum ?? [];
const codeReasons = new Set(code.reasons);
for (const r of reasonEnum) if (!codeReasons.has(r)) problem(`DlqRecord.reason: "${r}" is documented, the code has no such reason`);
for (const r of codeReasons) if (!reasonEnum.includes(r)) problem(`DlqRecord.reason: the code's reason "${r}" is not documented`);
const badInputs = schemas.DlqRecord?.properties?.reason?.['x-bad-inputs'] ?? {};
for (const [kind, { reason }] of Object.entries(badInputs)) {
  if (!reasonEnum.includes(reason)) problem(`x-bad-inputs.${kind}: reason "${reason}" is not in the enum`);
  if (!(kind in code.bad_inputs)) problem(`x-bad-inputs.${kind}: documented, the contract test builds no such input`);
  else if (code.bad_inputs[kind] !== reason) problem(`x-bad-inputs.${kind}: documented as ${reason}, the decoder says ${code.bad_inputs[kind]}`);
}
for (const kind of Object.keys(code.bad_inputs)) if (!(kind in badInputs)) problem(`bad input ${kind} (${code.bad_inputs[kind]}) is not in x-bad-inputs`);

for (const topic of ['passerelle.profile.v1', 'passerelle.skills.v1', 'passerelle.suggestions.v1', 'passerelle.dlq.v1']) {
  const ch = doc.channels?.[topic];
  if (!ch) { problem(`channel ${topic} is not documented`); continue; }
  if (ch.bindings?.kafka?.topic !== topic) problem(`channel ${topic}: its kafka binding does not name the topic`);
}
for (const [name, m] of Object.entries(doc.components?.messages ?? {}))
  if (m.bindings?.kafka?.key?.type !== 'string') problem(`message ${name}: the Kafka key (user_id) is not documented`);
const messageNames = new Set(Object.values(doc.components?.messages ?? {}).map((m) => m.name));
for (const m of ['profile.upserted', 'profile.erased', 'skills.confirmed', 'skills.suggested', 'jobs.suggested', 'tombstone', 'dlq.record'])
  if (!messageNames.has(m)) problem(`message ${m} is not documented`);

if (problems.length) {
  console.error(`docs/asyncapi.yaml and the code disagree (${problems.length}):`);
  for (const p of problems) console.error(`  - ${p}`);
  process.exit(1);
}
const nFields = Object.values(code.tables).reduce((n, t) => n + t.length, 0);
console.log(`contract ok: ${nFields} decoder fields in ${Object.keys(code.tables).length} tables, ${nSamples} output samples, ${reasonEnum.length} DLQ reasons, ${Object.keys(badInputs).length} bad inputs`);

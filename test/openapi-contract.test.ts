/**
 * /openapi.json is a contract: clients are generated from it. This test starts a server on the demo
 * configs plus pipelines of its own (typed inputs with defaults and required ones, a list input, an
 * empty result, a failing source), reads the document, and for every path and method it lists sends
 * valid and invalid requests (seeded), checking with ajv that the status is one the operation lists,
 * that the body validates against the schema given for that status and content type, that the
 * documented headers are there (x-request-id on every answer, Retry-After on 503), and that an error
 * body carries a catalogue code whose status is the one answered. Then the reverse: each pipeline's
 * operations state its inputs so that a value the schema allows is never a 422 and one it forbids is;
 * and the HTTP semantics a client library relies on (HEAD, 405 with Allow, a trailing slash, the
 * spellings of a Content-Type). The model endpoints are in it too: a deployment over a folder registry
 * holding a js envelope published with `airmail publish`, whose /predict rows and /query ids are sent
 * valid and invalid, and whose row schema is held to what the server takes.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS } from '../engine/errors.js';
import type { RunningServer } from '../engine/server.js';
import { airmailCli, demoConfigs, server, tempDir } from './helpers.js';

const TOKEN = 'contract-token';
const FILES: Record<string, string> = {
  'contract-features.json': JSON.stringify([{ id: 1, x: 1.5, label: 'a' }, { id: 2, x: null, label: null }, { id: 3, x: 2, label: 'b' }]),
  'contract-models.yaml': `
datasets:
  contract_features: {path: contract-features.json}
deployments:
- {name: contract_model, model: {tags: {name: contract_model}}, features_from: {dataset: contract_features, key: id}}
`,
  'contract-things.json': JSON.stringify([{ id: 1, colour: 'red', price: 1.5 }, { id: 2, colour: 'red', price: 3 }, { id: 3, colour: 'blue', price: 2 }]),
  'contract.yaml': `
datasets:
  contract_things: {path: contract-things.json}
pipelines:
- name: typed
  item_type: id
  items: contract_things
  inputs:
    n: {type: integer, default: 3, description: how many}
    colour: {type: string, description: a colour}
    flag: {type: boolean, default: false}
    minp: {type: number, default: 0}
  initialization:
    includes:
    - name: Lookup
      parameters: {dataset: contract_things, where: {colour: $colour}}
  operations:
  - name: Range
    parameters: {column: price, min: $minp}
  - name: Limit
    parameters: {n: $n}
  return: [id, price]
- name: lists
  item_type: id
  items: contract_things
  inputs:
    ids: {default: [1, 2]}
  initialization:
    includes:
    - name: Lookup
      parameters: {dataset: contract_things, where: {colour: $cs}}
    - name: Static
      parameters: {items: $ids}
- name: empty
  item_type: id
  initialization:
    includes:
    - name: Static
      parameters: {items: []}
- name: typed_b
  item_type: id
  items: contract_things
  inputs:
    n: {type: integer, default: 3, description: how many}
    colour: {type: string, description: a colour}
  initialization:
    includes:
    - name: Lookup
      parameters: {dataset: contract_things, where: {colour: $colour}}
  operations:
  - name: Limit
    parameters: {n: $n}
- name: failing
  item_type: id
  initialization:
    includes:
    - name: HttpSource
      parameters: {url: "http://127.0.0.1:1/nothing", retries: 0}
experiments:
- name: typed_ab
  description: an A/B experiment between typed_b and typed
  unit: $colour
  arms:
  - {pipeline: typed_b, weight: 1}
  - {pipeline: typed, weight: 1}
`,
};

type Json = Record<string, unknown>;
type Op = { parameters?: Json[]; requestBody?: { content?: Record<string, { schema?: Json }> }; responses: Record<string, Json>; security?: unknown[] };
interface Answer { status: number; headers: Record<string, string | string[] | undefined>; text: string }
interface Req { method: string; path: string; query?: string; headers?: Record<string, string>; body?: string | Buffer }

let srv: RunningServer;
let doc: Json;
const ajv = new Ajv2020({ strict: false, allErrors: true });
const compiled = new Map<unknown, ValidateFunction>();

/** A node with its `$ref` (into the document) followed. */
function deref<T>(node: T): T {
  let n: unknown = node;
  while (n && typeof n === 'object' && typeof (n as Json)['$ref'] === 'string') {
    n = ((n as Json)['$ref'] as string).slice(2).split('/').reduce<unknown>((o, k) => (o as Json)[k], doc);
  }
  return n as T;
}
/** A schema with every `$ref` inlined, for ajv. */
function inline(node: unknown): unknown {
  const n = deref(node);
  if (Array.isArray(n)) return n.map(inline);
  if (n && typeof n === 'object') return Object.fromEntries(Object.entries(n).map(([k, v]) => [k, inline(v)]));
  return n;
}
function validator(schema: unknown): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) compiled.set(schema, (v = ajv.compile(inline(schema) as object)));
  return v;
}

async function send(r: Req): Promise<Answer> {
  const res = await request(`${srv.url}${r.path}${r.query ?? ''}`, { method: r.method as 'GET', headers: r.headers ?? {}, ...(r.body !== undefined ? { body: r.body } : {}) });
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
}

/** What disagrees between an answer and the operation that documents it (empty when they agree). */
function disagreements(op: Op, r: Req, a: Answer): string[] {
  const at = `${r.method} ${r.path}${r.query ?? ''} ${JSON.stringify(r.headers ?? {})} ${String(r.body ?? '').slice(0, 60)} -> ${a.status}`;
  const out: string[] = [];
  const spec = deref(op.responses[String(a.status)] ?? op.responses['default']);
  if (!spec) return [`${at}: status not documented (${Object.keys(op.responses).join(', ')}): ${a.text.slice(0, 160)}`];
  if (typeof a.headers['x-request-id'] !== 'string') out.push(`${at}: no x-request-id`);
  for (const [name, h] of Object.entries((spec['headers'] ?? {}) as Record<string, Json>)) {
    if (deref(h)['required'] === true && a.headers[name.toLowerCase()] === undefined) out.push(`${at}: documented header ${name} missing`);
  }
  const type = String(a.headers['content-type'] ?? '').split(';')[0]!.trim();
  const content = spec['content'] as Record<string, { schema?: Json }> | undefined;
  if (r.method === 'HEAD' || a.text === '') return out;
  if (!content?.[type]) return [...out, `${at}: content-type ${type} not documented for ${a.status}`];
  if (type !== 'application/json') return out;
  const body = JSON.parse(a.text) as Json;
  const schema = content[type]!.schema;
  if (schema && !validator(schema)(body)) out.push(`${at}: body does not match its schema: ${ajv.errorsText(validator(schema).errors)}: ${a.text.slice(0, 200)}`);
  if (a.status >= 400 && 'code' in body) {
    const entry = ERRORS[body['code'] as keyof typeof ERRORS] as { status: number } | undefined;
    if (!entry) out.push(`${at}: code ${String(body['code'])} is not in the catalogue`);
    else if (entry.status !== a.status && !(entry.status === 200 && a.status === 500)) out.push(`${at}: code ${String(body['code'])} is ${entry.status} in the catalogue`);
  }
  if (a.status >= 400 && a.status !== 503 && a.status !== 404 && body['error'] !== true && !('valid' in body)) out.push(`${at}: error answer without error: true`);
  return out;
}

/** A deterministic stream of numbers (mulberry32). */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const typesOf = (s: Json): string[] => (Array.isArray(s['type']) ? (s['type'] as string[]) : typeof s['type'] === 'string' ? [s['type'] as string] : ['string']);

/** A value the schema allows (seeded). */
function sample(s: Json, rand: () => number): unknown {
  if (Array.isArray(s['enum'])) return s['enum'][Math.floor(rand() * s['enum'].length)];
  const types = typesOf(s).filter((t) => t !== 'null');
  const t = types[Math.floor(rand() * types.length)] ?? 'string';
  const min = typeof s['minimum'] === 'number' ? s['minimum'] : -50;
  if (t === 'integer') return Math.floor(min + rand() * 100);
  if (t === 'number') return Math.round((min + rand() * 100) * 100) / 100;
  if (t === 'boolean') return rand() < 0.5;
  if (t === 'array') return Array.from({ length: 1 + Math.floor(rand() * 3) }, () => sample((s['items'] ?? {}) as Json, rand));
  if (t === 'object') return {};
  return ['red', 'blue', 'x y', 'é', '17'][Math.floor(rand() * 5)];
}
/** Edge values, for a schema to allow or forbid. */
const EDGES: unknown[] = ['text', '', '5', 1.5, 7, 0, true, null, { a: 1 }, ['text'], [1.5], [7], [], [[1]], -1, 2 ** 60, -(2 ** 60), 9007199254740991];
const forbidden = (s: Json): unknown[] => EDGES.filter((v) => !validator(s)(v));
const allowed = (s: Json): unknown[] => EDGES.filter((v) => validator(s)(v));
/** A query string for inputs (a list as repeated keys). */
function queryOf(inputs: Json): string {
  const parts = Object.entries(inputs).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${encodeURIComponent(k)}=${encodeURIComponent(typeof x === 'string' ? x : JSON.stringify(x))}`));
  return parts.length ? `?${parts.join('&')}` : '';
}

/** The js model a deployment serves: y = 2x, plus 1 for label 'a' (text and number inputs, a missing value). */
const MODEL = `export function predict({ x, label }, rows) {
  const y = new Float64Array(rows);
  for (let i = 0; i < rows; i++) y[i] = x[i] * 2 + (label[i] === 'a' ? 1 : 0);
  return { y };
}
`;

beforeAll(async () => {
  const dir = await demoConfigs();
  for (const [f, text] of Object.entries(FILES)) await writeFile(join(dir, f), text);
  const world = await tempDir('airmail-contract-registry-');
  await mkdir(join(world, 'work'));
  await writeFile(join(world, 'work', 'model.mjs'), MODEL);
  await writeFile(join(world, 'work', 'sample.json'), JSON.stringify([{ x: 1.5, label: 'a' }, { x: 2, label: 'b' }]));
  const published = await airmailCli({}, 'publish', '--artifact', join(world, 'work', 'model.mjs'), '--flavor', 'js', '--name', 'contract_model', '--description', 'y = 2x (+1 for a)',
    '--sample', join(world, 'work', 'sample.json'), '--inputs', 'x:float64,label:string', '--registry', join(world, 'registry'), '--create');
  expect(published.code, published.stderr).toBe(0);
  srv = await server({ configs: dir, threads: 1, adminToken: TOKEN, watch: false, registry: pathToFileURL(join(world, 'registry')).href, modelHub: { cacheDir: join(world, 'cache'), log: () => undefined } });
  expect(srv.startErrors).toEqual([]);
  const a = await send({ method: 'GET', path: '/openapi.json' });
  doc = JSON.parse(a.text) as Json;
  expect(ajv.validateSchema({ type: 'object' })).toBe(true);
}, 60_000);
afterAll(async () => srv?.close());

const paths = (): Record<string, Record<string, Op>> => doc['paths'] as Record<string, Record<string, Op>>;
const pipelineNames = (): string[] => [...srv.engine.snapshot.pipelines.keys()].sort();
const concrete = (p: string): string => p.replace('{name}', p.startsWith('/operators') ? 'Limit' : p.startsWith('/models') ? 'contract_model' : 'typed').replace('{id}', '1');
const JSON_CT = { 'content-type': 'application/json' };
const auth = { authorization: `Bearer ${TOKEN}` };

/** The requests sent to one documented operation: valid ones and many invalid ones. */
function requestsFor(path: string, method: string, op: Op, rand: () => number): Req[] {
  const M = method.toUpperCase();
  const p = concrete(path);
  const reqs: Req[] = [];
  const admin = op.security !== undefined;
  const h = (extra: Record<string, string> = {}): Record<string, string> => ({ ...(admin ? auth : {}), ...extra });
  const params = (op.parameters ?? []).map((x) => deref(x));
  const query = params.filter((x) => x['in'] === 'query' && x['name'] !== 'debug');
  // Valid, by the parameters and body it documents.
  const q: Json = {};
  for (const x of query) if (x['required'] === true || rand() < 0.5) q[x['name'] as string] = sample(x['schema'] as Json, rand);
  const json = op.requestBody?.content?.['application/json']?.schema;
  const body = path === '/execute' ? { pipeline: { name: 'adhoc', item_type: 'id', initialization: { includes: [{ name: 'Static', parameters: { items: [1, 2] } }] } }, inputs: {} }
    : path === '/pipelines' || path === '/validate' ? { pipeline: { name: 'contract_put', item_type: 'id', initialization: { includes: [{ name: 'Static', parameters: { items: [3] } }] } } }
    : path.endsWith('/why') ? { inputs: { colour: 'red' }, item: 1 }
    : path.endsWith('/predict') ? { rows: [{ x: 1.5, label: 'a' }, { x: null, label: null }] }
    : json ? Object.fromEntries(Object.entries((json['properties'] ?? {}) as Record<string, Json>).filter(([k]) => ((json['required'] ?? []) as string[]).includes(k) || rand() < 0.5).map(([k, s]) => [k, sample(s, rand)])) : undefined;
  const withBody = M === 'POST';
  const b = body === undefined ? undefined : JSON.stringify(body);
  reqs.push({ method: M, path: p, query: queryOf(q), headers: h(withBody ? JSON_CT : {}), ...(withBody ? { body: b ?? '{}' } : {}) });
  reqs.push({ method: M, path: p, query: queryOf(q) ? `${queryOf(q)}&debug=true` : '?debug', headers: h(withBody ? JSON_CT : {}), ...(withBody ? { body: b ?? '{}' } : {}) });
  reqs.push({ method: M, path: p, query: '?debug=maybe', headers: h(withBody ? JSON_CT : {}), ...(withBody ? { body: b ?? '{}' } : {}) });
  reqs.push({ method: M, path: p, headers: h({ 'x-airmail-debug': 'maybe', ...(withBody ? JSON_CT : {}) }), ...(withBody ? { body: b ?? '{}' } : {}) });
  reqs.push({ method: M, path: p, headers: h({ 'x-airmail-deadline-ms': 'abc', ...(withBody ? JSON_CT : {}) }), ...(withBody ? { body: b ?? '{}' } : {}) });
  reqs.push({ method: M, path: p, query: '?zz=%zz&unknown_key=1', headers: h(withBody ? JSON_CT : {}), ...(withBody ? { body: b ?? '{}' } : {}) });
  if (path.startsWith('/models/')) {
    const other = path.endsWith('/predict') ? path.replace(/^\/models\/[^/]+/, '/models/no_such_model') : path.replace('{id}', '99');
    reqs.push({ method: M, path: concrete(other), headers: h(withBody ? JSON_CT : {}), ...(withBody ? { body: b ?? '{}' } : {}) });
    if (path.includes('{id}')) for (const id of ['abc', '%20', '1.0', '-0', '2']) reqs.push({ method: M, path: path.replace('{id}', id) });
    if (withBody) {
      for (const rows of [[], [{ x: 1 }], [{ x: 1, label: 'a', z: 1 }], [{ x: '1', label: 'a' }], [{ x: 1, label: 5 }], [{}], 'rows', [1]]) reqs.push({ method: M, path: p, headers: JSON_CT, body: JSON.stringify({ rows }) });
      reqs.push({ method: M, path: p, headers: JSON_CT, body: '{"rows": [{"x": 1e400, "label": "a"}]}' });
      reqs.push({ method: M, path: p, headers: JSON_CT, body: JSON.stringify({ rows: [{ x: 1, label: 'a' }], extra: 1 }) });
      reqs.push({ method: M, path: p, headers: JSON_CT, body: JSON.stringify({ rows: Array.from({ length: 10_001 }, () => ({ x: 1, label: 'a' })) }) });
    }
  }
  if (path.includes('{name}')) reqs.push({ method: M, path: path.replace('{name}', 'no_such_thing').replace('{id}', '1'), headers: h(withBody ? JSON_CT : {}), ...(withBody ? { body: b ?? '{}' } : {}) });
  if (admin) reqs.push({ method: M, path: p, headers: withBody ? JSON_CT : {}, ...(withBody ? { body: b ?? '{}' } : {}) });
  if (admin) reqs.push({ method: M, path: p, headers: { authorization: 'Bearer wrong', ...(withBody ? JSON_CT : {}) }, ...(withBody ? { body: b ?? '{}' } : {}) });
  if (withBody) {
    for (const bad of ['{"a":', '[1]', 'null', '"text"', '{"__proto__": {}}', '']) reqs.push({ method: M, path: p, headers: h(JSON_CT), body: bad });
    reqs.push({ method: M, path: p, headers: h({ 'content-type': 'application/yaml' }), body: 'a: [1,\n  b: }' });
    reqs.push({ method: M, path: p, headers: h({ 'content-type': 'application/yaml' }), body: b ?? '{}' });
    reqs.push({ method: M, path: p, headers: h({ 'content-type': 'text/plain' }), body: b ?? '{}' });
    reqs.push({ method: M, path: p, headers: h({ 'content-type': 'application/json; charset=utf-16' }), body: b ?? '{}' });
    reqs.push({ method: M, path: p, headers: h(JSON_CT), body: Buffer.alloc(1024 * 1024 + 10, 0x20) });
    reqs.push({ method: M, path: p, headers: h(JSON_CT), body: Buffer.from([0x7b, 0xff, 0x7d]) });
  }
  for (const x of query) {
    for (const v of forbidden(x['schema'] as Json).slice(0, 2)) reqs.push({ method: M, path: p, query: queryOf({ ...q, [x['name'] as string]: v }), headers: h() });
  }
  return reqs;
}

describe('every documented operation answers as documented', () => {
  it('statuses, bodies, headers and error codes agree with /openapi.json', async () => {
    const rand = rng(20250601);
    const problems: string[] = [];
    let sent = 0;
    for (const [path, ops] of Object.entries(paths())) {
      for (const [method, op] of Object.entries(ops)) {
        // The admin writes are sent last (a DELETE would remove the pipeline the others run).
        if (method === 'delete') continue;
        for (const r of requestsFor(path, method, op, rand)) {
          problems.push(...disagreements(op, r, await send(r)));
          sent++;
        }
      }
    }
    // DELETE: without the token, of a pipeline that shares its file (409), of the one POST /pipelines made, twice (404).
    const del = paths()['/pipelines/empty']!['delete']!;
    for (const r of [{ method: 'DELETE', path: '/pipelines/empty' }, { method: 'DELETE', path: '/pipelines/empty', headers: auth }, { method: 'DELETE', path: '/pipelines/contract_put', headers: auth }, { method: 'DELETE', path: '/pipelines/contract_put', headers: auth }]) {
      problems.push(...disagreements(del, r, await send(r)));
      sent++;
    }
    expect(sent).toBeGreaterThan(200);
    expect(problems).toEqual([]);
  }, 120_000);
});

describe("each pipeline's operations state its inputs as the server takes them", () => {
  it('a value the schema allows is never a 422, and one it forbids is', async () => {
    const rand = rng(7);
    const problems: string[] = [];
    doc = JSON.parse((await send({ method: 'GET', path: '/openapi.json' })).text) as Json;
    for (const name of pipelineNames()) {
      const post = paths()[`/pipelines/${name}`]?.['post'];
      const get = paths()[`/pipelines/${name}/run`]?.['get'];
      expect(post, name).toBeDefined();
      expect(get, name).toBeDefined();
      const schema = deref(post!.requestBody!.content!['application/json']!.schema!);
      const expected = srv.engine.pipeline(name).inputSchema as Json;
      const props = (schema['properties'] ?? {}) as Record<string, Json>;
      const declared = (expected['properties'] ?? {}) as Record<string, Json>;
      // Each input with its type, default and required-ness, as the config declares it.
      expect(Object.keys(props).sort(), name).toEqual(Object.keys(declared).sort());
      expect(schema['required'] ?? [], name).toEqual(expected['required'] ?? []);
      for (const [k, s] of Object.entries(declared)) expect(props[k]!['default'], `${name}.${k}`).toEqual(s['default']);
      const query = Object.fromEntries((get!.parameters ?? []).map((x) => deref(x)).map((x) => [x['name'], x]));
      for (const k of Object.keys(declared)) expect(query[k]?.['required'], `${name} ?${k}`).toBe(((expected['required'] ?? []) as string[]).includes(k));
      for (let i = 0; i < 6; i++) {
        const inputs: Json = {};
        for (const [k, s] of Object.entries(props)) if (((schema['required'] ?? []) as string[]).includes(k) || rand() < 0.6) inputs[k] = sample(s, rand);
        expect(validator(schema)(inputs), JSON.stringify(inputs)).toBe(true);
        const a = await send({ method: 'POST', path: `/pipelines/${name}`, headers: JSON_CT, body: JSON.stringify(inputs) });
        if (a.status === 422) problems.push(`POST ${name} ${JSON.stringify(inputs)} (allowed) -> 422 ${a.text.slice(0, 200)}`);
        const g = await send({ method: 'GET', path: `/pipelines/${name}/run`, query: queryOf(inputs) });
        if (g.status === 422) problems.push(`GET ${name}/run${queryOf(inputs)} (allowed) -> 422 ${g.text.slice(0, 200)}`);
        for (const [k, s] of Object.entries(props)) {
          for (const v of i === 0 ? allowed(s) : []) {
            const fine = { ...inputs, [k]: v };
            const r = await send({ method: 'POST', path: `/pipelines/${name}`, headers: JSON_CT, body: JSON.stringify(fine) });
            if (r.status === 422) problems.push(`POST ${name} ${JSON.stringify(fine)} (allowed) -> 422 ${r.text.slice(0, 160)}`);
          }
          for (const v of forbidden(s)) {
            const bad = { ...inputs, [k]: v };
            const r = await send({ method: 'POST', path: `/pipelines/${name}`, headers: JSON_CT, body: JSON.stringify(bad) });
            if (r.status !== 422) problems.push(`POST ${name} ${JSON.stringify(bad)} (forbidden) -> ${r.status}`);
          }
        }
      }
      const missing = ((schema['required'] ?? []) as string[]);
      if (missing.length > 0) {
        const r = await send({ method: 'POST', path: `/pipelines/${name}`, headers: JSON_CT, body: '{}' });
        if (r.status !== 422) problems.push(`POST ${name} {} without required ${missing.join(', ')} -> ${r.status}`);
      }
      const unknown = await send({ method: 'POST', path: `/pipelines/${name}`, headers: JSON_CT, body: '{"not_an_input": 1}' });
      if (unknown.status !== 422) problems.push(`POST ${name} unknown input -> ${unknown.status}`);
    }
    expect(problems).toEqual([]);
  }, 120_000);
});

describe("each deployment's operations state its rows and answers as the server takes and gives them", () => {
  it('a row the schema allows is predicted, one it forbids is a 422; every field of an answer is documented', async () => {
    const problems: string[] = [];
    const predict = paths()['/models/contract_model/predict']?.['post'];
    const query = paths()['/models/contract_model/query/{id}']?.['get'];
    expect(predict).toBeDefined();
    expect(query).toBeDefined();
    const schema = deref(predict!.requestBody!.content!['application/json']!.schema!);
    const row = { x: 1.5, label: 'a' };
    const bodies: Json[] = [{ rows: [row] }, { rows: [row], extra: 1 }, { rows: [] }, { rows: [{ x: 1 }] }, { rows: [{ ...row, z: 1 }] }, {}, { rows: row }];
    const rowSchema = deref(((schema['properties'] as Json)['rows'] as Json)['items'] as Json);
    for (const [k, s] of Object.entries(rowSchema['properties'] as Record<string, Json>)) for (const v of EDGES) bodies.push({ rows: [{ ...row, [k]: v }] });
    for (const b of bodies) {
      const a = await send({ method: 'POST', path: '/models/contract_model/predict', headers: JSON_CT, body: JSON.stringify(b) });
      const want = validator(schema)(b) ? 200 : 422;
      if (a.status !== want) problems.push(`predict ${JSON.stringify(b)} (${want === 200 ? 'allowed' : 'forbidden'}) -> ${a.status} ${a.text.slice(0, 160)}`);
    }
    // What a generated client reads: every field of a 200 is in its schema (the properties a client type has).
    const fields = (op: Op, text: string): string[] => {
      const content = deref(op.responses['200']!)['content'] as Record<string, { schema: Json }>;
      const documented = Object.keys((deref(content['application/json']!.schema)['properties'] ?? {}) as Json);
      return Object.keys(JSON.parse(text) as Json).filter((k) => !documented.includes(k));
    };
    const p = await send({ method: 'POST', path: '/models/contract_model/predict', headers: JSON_CT, body: JSON.stringify({ rows: [row, { x: null, label: null }] }) });
    expect(p.status).toBe(200);
    expect(JSON.parse(p.text)).toMatchObject({ predictions: [{ y: 4 }, { y: null }], model: { name: 'contract_model', version: 1 } });
    for (const k of fields(predict!, p.text)) problems.push(`predict answers '${k}', which its 200 schema does not name`);
    for (const id of ['1', '2', '3']) {
      const q = await send({ method: 'GET', path: `/models/contract_model/query/${id}` });
      expect(q.status, q.text).toBe(200);
      problems.push(...disagreements(query!, { method: 'GET', path: `/models/contract_model/query/${id}` }, q));
      for (const k of fields(query!, q.text)) problems.push(`query answers '${k}', which its 200 schema does not name`);
    }
    for (const [path, want] of [['/models/contract_model/query/99', 404], ['/models/no_such_model/query/1', 404], ['/models/no_such_model', 404]] as const) {
      const a = await send({ method: 'GET', path });
      if (a.status !== want) problems.push(`GET ${path} -> ${a.status}, expected ${want}`);
    }
    expect(problems).toEqual([]);
  }, 60_000);
});

describe('HTTP semantics a client library relies on', () => {
  it('HEAD on a GET route answers as GET without a body; a method not documented is 405 with Allow', async () => {
    const problems: string[] = [];
    for (const [path, ops] of Object.entries(paths())) {
      const p = concrete(path);
      const documented = Object.keys(ops).map((m) => m.toUpperCase());
      if (documented.includes('GET')) {
        const [g, h] = [await send({ method: 'GET', path: p }), await send({ method: 'HEAD', path: p })];
        if (g.status !== h.status || h.text !== '') problems.push(`HEAD ${p} -> ${h.status} (GET ${g.status}) ${h.text.slice(0, 60)}`);
      }
      const allow = [...documented, ...(documented.includes('GET') ? ['HEAD'] : [])];
      for (const m of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'].filter((x) => !documented.includes(x))) {
        const a = await send({ method: m, path: p, headers: m === 'POST' || m === 'PUT' ? JSON_CT : {}, ...(m === 'POST' || m === 'PUT' ? { body: '{}' } : {}) });
        const got = String(a.headers['allow'] ?? '').split(/,\s*/).filter(Boolean).sort();
        // Hono routes DELETE for any /pipelines/{name}: documented per loaded pipeline, so Allow may name it too.
        if (a.status !== 405 || !allow.every((x) => got.includes(x))) problems.push(`${m} ${p} -> ${a.status} allow=${got.join(',')} (documented ${allow.join(',')})`);
      }
    }
    expect(problems).toEqual([]);
  }, 60_000);

  it('a trailing slash is the same route', async () => {
    const problems: string[] = [];
    for (const [path, ops] of Object.entries(paths())) {
      if (!ops['get'] || path === '/') continue;
      const p = concrete(path);
      const [a, b] = [await send({ method: 'GET', path: p }), await send({ method: 'GET', path: `${p}/` })];
      if (a.status !== b.status) problems.push(`GET ${p}/ -> ${b.status} (without the slash ${a.status}): ${b.text.slice(0, 120)}`);
    }
    const post = await send({ method: 'POST', path: '/pipelines/typed/', headers: JSON_CT, body: '{"colour": "red"}' });
    if (post.status !== 200) problems.push(`POST /pipelines/typed/ -> ${post.status}`);
    expect(problems).toEqual([]);
  });

  it('Content-Type spellings and header-name case', async () => {
    const run = (ct: string, body = '{"colour": "red"}'): Promise<Answer> => send({ method: 'POST', path: '/pipelines/typed', headers: { 'Content-Type': ct }, body });
    for (const ct of ['application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json;charset="UTF-8"', 'application/problem+json', 'application/yaml', 'text/yaml; charset=utf-8', 'application/x-yaml']) {
      expect((await run(ct)).status, ct).toBe(200);
    }
    for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1']) expect((await run(ct)).status, ct).toBe(415);
    const a = await send({ method: 'GET', path: '/pipelines/typed/run', query: '?colour=red', headers: { 'X-Airmail-Debug': 'TRUE', 'X-Request-Id': 'Case-Test-1' } });
    expect(a.status).toBe(200);
    expect(a.headers['x-request-id']).toBe('Case-Test-1');
    expect(JSON.parse(a.text)).toHaveProperty('debug');
  });
});

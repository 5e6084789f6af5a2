/**
 * Property-based fuzzing (fast-check, fixed seed, bounded runs) of the two
 * places untrusted text enters: the config loader and the request path.
 * Properties: the loader never throws and every problem is a catalogued
 * diagnostic; no request, however malformed, gets a 5xx or takes the server
 * down. Raise FUZZ_RUNS (and change FUZZ_SEED) for a longer local run.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { request } from 'undici';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetCache, loadConfigSet, type ConfigSource } from '../engine/config/load.js';
import { parseConfigText } from '../engine/config/parse.js';
import { ERRORS } from '../engine/errors.js';
import type { RunningServer } from '../engine/server.js';
import { demoConfigs, OPS, ROOT, server } from './helpers.js';

const SEED = Number(process.env['FUZZ_SEED'] ?? 20261123);
const RUNS = Number(process.env['FUZZ_RUNS'] ?? 1);
const runs = (n: number): fc.Parameters<unknown> => ({ seed: SEED, numRuns: Math.max(1, Math.round(n * RUNS)), endOnFailure: true });

// ---------------------------------------------------------------- generators

const NAMES = ['Static', 'Lookup', 'Match', 'Range', 'Exclude', 'Column', 'ModelScore', 'Hydrate', 'Sort', 'Limit', 'Dedupe', 'DiverseSample', 'Sample', 'Offset', 'Pin',
  'AvailableInventory', 'MatchClientSize', 'PreviouslyPurchased', 'PsaleScore', 'ClickRate', 'MatchDepartment', 'Nope'];
const KEYS = ['column', 'value', 'op', 'n', 'by', 'desc', 'items', 'dataset', 'where', 'columns', 'min', 'max', 'features', 'model',
  'maximize', 'score', 'temperature', 'seed', 'ids', 'sku_id', 'x'];
const scalar = fc.oneof(
  fc.integer({ min: -3, max: 60_000 }),
  fc.double({ noDefaultInfinity: false }),
  fc.string({ maxLength: 6 }),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom('$client_id', '$product_id', '$client.size', '$client.warehouse_id', '$product.department', '$nope', '$$x', '$', 'score', 'sku_id', 'department', 'f0', 'in', 'not_in', '==', 'catalog', 'inventory'),
);
const { value } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', maxDepth: 3 }, scalar, fc.array(tie('value'), { maxLength: 4 }), fc.dictionary(fc.constantFrom(...KEYS), tie('value'), { maxKeys: 3 })),
}));
const step = fc.oneof(
  fc.constantFrom(...NAMES),
  fc.record({ name: fc.constantFrom(...NAMES), parameters: fc.dictionary(fc.constantFrom(...KEYS), value, { maxKeys: 4 }), as: fc.constantFrom('s', 'score', 'psale'), weight: fc.double() }, { requiredKeys: ['name'] }),
);
const pipelineDoc = fc.record({
  name: fc.constantFrom('fuzzed', 'complimentary_items', 'x y', ''),
  item_type: fc.constantFrom('sku_id', 'product_id', 'nope'),
  items: fc.constantFrom('catalog', 'clients', 'nope'),
  initialization: fc.record({ includes: fc.array(step, { maxLength: 3 }), excludes: fc.array(step, { maxLength: 2 }), scores: fc.array(step, { maxLength: 2 }) }, { requiredKeys: [] }),
  operations: fc.array(step, { maxLength: 4 }),
  return: fc.array(fc.constantFrom('sku_id', 'score', 'product_id', 'department', 'nope'), { maxLength: 3 }),
  deadline_ms: fc.oneof(fc.integer({ min: -1, max: 5000 }), fc.constant('soon')),
  inputs: fc.dictionary(fc.constantFrom('client_id', 'product_id', 'k'), fc.record({ type: fc.constantFrom('integer', 'string', 'bogus'), default: scalar }, { requiredKeys: [] }), { maxKeys: 2 }),
}, { requiredKeys: ['name', 'item_type'] });
const configDoc = fc.record({
  pipeline: pipelineDoc,
  operators: fc.dictionary(fc.constantFrom('P1', 'P2', 'Sort'), fc.record({ use: fc.constantFrom(...NAMES), parameters: fc.dictionary(fc.constantFrom(...KEYS), value, { maxKeys: 3 }) }, { requiredKeys: ['use'] }), { maxKeys: 2 }),
  contexts: fc.dictionary(fc.constantFrom('client', 'c2'), fc.record({ dataset: fc.constantFrom('clients', 'catalog', 'nope'), key: scalar, column: fc.constantFrom('client_id', 'product_id', 'nope') }, { requiredKeys: [] }), { maxKeys: 1 }),
}, { requiredKeys: ['pipeline'] });
const inputs = fc.dictionary(fc.constantFrom('client_id', 'product_id', 'debug', 'k'), value, { maxKeys: 3 });

/** Random edits (insert, delete, replace a character) of a valid text. */
const mutated = (base: string) => fc.array(fc.tuple(fc.nat({ max: base.length }), fc.nat({ max: 3 }), fc.constantFrom(' ', '\n', ':', '-', '[', ']', '{', '}', '&a', '*a', '!', '#', '"', "'", '$', '|', '>', '\t', 'x', '0')), { minLength: 1, maxLength: 6 })
  .map((edits) => {
    let t = base;
    for (const [at, kind, ch] of edits) {
      const i = Math.min(at, t.length);
      t = kind === 0 ? t.slice(0, i) + t.slice(i + 1) : kind === 1 ? t.slice(0, i) + ch + t.slice(i + 1) : t.slice(0, i) + ch + t.slice(i);
    }
    return t;
  });

// ---------------------------------------------------------------- the loader

describe('config loader fuzz', () => {
  let demo: ConfigSource;
  let pipelineText: string;
  const cache = new DatasetCache();
  const dir = join(ROOT, 'configs');
  beforeAll(async () => {
    demo = { path: join(dir, 'demo.yaml'), text: await readFile(join(dir, 'demo.yaml'), 'utf8') };
    pipelineText = await readFile(join(dir, 'complimentary_items.yaml'), 'utf8');
  });

  const check = async (text: string): Promise<void> => {
    const parsed = parseConfigText(text, 'fuzz.yaml');
    if (!parsed.ok) for (const d of parsed.diagnostics) expect(ERRORS[d.code]).toBeDefined();
    const r = await loadConfigSet([demo, { path: join(dir, 'fuzz.yaml'), text }], { operators: OPS, datasetCache: cache });
    if (!r.ok) {
      expect(r.diagnostics.length).toBeGreaterThan(0);
      for (const d of r.diagnostics) {
        expect(ERRORS[d.code], JSON.stringify(d)).toBeDefined();
        expect(typeof d.message).toBe('string');
      }
    }
  };

  it('structured configs: never throws, every problem is a catalogued diagnostic', async () => {
    await fc.assert(fc.asyncProperty(configDoc, fc.boolean(), async (doc, asJson) => check(asJson ? JSON.stringify(doc) : stringify(doc))), runs(150));
  }, 120_000);

  it('a valid pipeline file with random edits: same', async () => {
    await fc.assert(fc.asyncProperty(mutated(pipelineText), check), runs(150));
  }, 120_000);

  // `!!binary`, `!!set`, `!!omap`, `!!pairs`, `!!timestamp` and `!!merge` used to come through as a Buffer,
  // Set, Map, Date or Symbol (or a merged mapping): whatever the loader accepts must be plain JSON.
  const TAGGED = ['!!binary AQID', '!!set {a, b}', '!!omap [a: 1]', '!!pairs [a: 1]', '!!timestamp 2001-01-01', '!!merge <<', '{!!merge <<: {a: 1}}',
    '!!str x', '!!int 3', '!!map {a: 1}', '!!seq [1]', '!!null', '!!bool true'];
  const isJson = (v: unknown): boolean => v === null || typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && !Number.isNaN(v))
    || (Array.isArray(v) && v.every(isJson))
    || (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype && Object.values(v as object).every(isJson));
  it('YAML tags at random values: whatever parses is plain JSON', async () => {
    const spots = [...pipelineText.matchAll(/: /g)].map((m) => m.index! + 2);
    await fc.assert(fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom(...spots), fc.constantFrom(...TAGGED)), { minLength: 1, maxLength: 3 }), async (edits) => {
      let t = pipelineText;
      for (const [at, tag] of [...edits].sort((a, b) => b[0] - a[0])) t = `${t.slice(0, at)}${tag} ${t.slice(at)}`;
      const parsed = parseConfigText(t, 'fuzz.yaml');
      if (parsed.ok) expect(isJson(parsed.parsed.value), t).toBe(true);
      await check(t);
    }), runs(100));
  }, 60_000);

  it('arbitrary text: same', async () => {
    await fc.assert(fc.asyncProperty(fc.string({ maxLength: 200 }), check), runs(100));
  }, 60_000);
});

// ---------------------------------------------------------------- requests

describe('request fuzz over HTTP', () => {
  let srv: RunningServer;
  beforeAll(async () => {
    srv = await server({ configs: await demoConfigs(), threads: 1, watch: false, adminToken: 'fuzz' });
  });
  afterAll(async () => srv?.close());

  const send = async (method: string, path: string, body?: string, type = 'application/json'): Promise<number> => {
    const res = await request(`${srv.url}${path}`, { method: method as 'POST', ...(body === undefined ? {} : { body, headers: { 'content-type': type } }) });
    const text = await res.body.text();
    if (res.statusCode >= 500) throw new Error(`${method} ${path} → ${res.statusCode}: ${text.slice(0, 300)}\nbody: ${body?.slice(0, 300)}`);
    return res.statusCode;
  };

  it('inputs to a named pipeline, as JSON and as query strings: never 5xx', async () => {
    await fc.assert(fc.asyncProperty(inputs, async (inp) => {
      await send('POST', '/pipelines/complimentary_items', JSON.stringify(inp));
      const q = new URLSearchParams(Object.entries(inp).map(([k, v]): [string, string] => [k, typeof v === 'string' ? v : (JSON.stringify(v) ?? '')]));
      await send('GET', `/pipelines/complimentary_items?${q}`);
    }), runs(80));
  }, 120_000);

  it('pipelines sent to /execute, /validate and admin POST /pipelines: never 5xx', async () => {
    await fc.assert(fc.asyncProperty(configDoc, inputs, fc.boolean(), async (doc, inp, asYaml) => {
      const body = { ...doc, inputs: inp };
      await send('POST', '/execute', asYaml ? stringify(body) : JSON.stringify(body), asYaml ? 'application/yaml' : 'application/json');
      await send('POST', '/validate', JSON.stringify(doc));
    }), runs(80));
  }, 120_000);

  it('malformed bodies: never 5xx, and the server still serves', async () => {
    const base = JSON.stringify({ pipeline: { name: 'x', item_type: 'sku_id', initialization: { includes: ['AvailableInventory'] } }, inputs: { client_id: 3 } });
    await fc.assert(fc.asyncProperty(mutated(base), fc.constantFrom('application/json', 'application/yaml'), async (text, type) => {
      await send('POST', '/execute', text, type);
    }), runs(80));
    expect(await send('POST', '/pipelines/complimentary_items', JSON.stringify({ client_id: 17, product_id: 42 }))).toBe(200);
  }, 120_000);
});

/**
 * A new user's audit: the request schema must type a reference by the column
 * its value is compared with (so GET and POST agree, and a wrong type is a 422
 * naming the input), literals that can never match are load errors, and `$$`
 * is a literal `$` everywhere. Each case is named after what broke.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinOperators } from '../operators/index.js';
import { Engine } from '../engine/engine.js';
import { createApp } from '../engine/http/app.js';
import { loadConfigSet } from '../engine/config/load.js';
import { formatDiagnostic } from '../engine/errors.js';
import { OPERATORS_URL, OPS, tempDir } from './helpers.js';

const ITEMS = Array.from({ length: 8 }, (_, i) => ({ item_id: i + 1, color: i % 2 ? 'red' : 'blue', price: 5 + i * 2.5, tag: i === 2 ? '$x' : `t${i}` }));
const TAGS = [{ item_id: 1, tag: 'new' }, { item_id: 2, tag: 'sale' }, { item_id: 3, tag: 'new' }];

const DATASETS = `
datasets:
  items: {path: data/items.json, key: item_id}
  tags: {path: data/tags.json}
`;

const PIPELINES = `
pipelines:
- name: skip
  item_type: item_id
  initialization:
    includes: [{name: Lookup, parameters: {dataset: items}}]
    excludes: [{name: Static, parameters: {items: [$skip]}}]
- name: color
  item_type: item_id
  initialization:
    includes: [{name: Lookup, parameters: {dataset: items, where: {color: $c}}}]
- name: match
  item_type: item_id
  initialization:
    includes: [{name: Lookup, parameters: {dataset: items}}]
  operations:
  - {name: Match, parameters: {column: color, value: $b}}
- name: context_key
  item_type: item_id
  context: {it: {dataset: items, key: $user_id}}
  initialization:
    includes: [{name: Lookup, parameters: {dataset: items, where: {color: $it.color}}}]
- name: limit
  item_type: item_id
  initialization:
    includes: [{name: Lookup, parameters: {dataset: items}}]
  operations:
  - {name: Limit, parameters: {n: $n}}
- name: dollar
  item_type: item_id
  initialization:
    includes: [{name: Lookup, parameters: {dataset: items, where: {tag: $$x}}}]
- name: dollar_static
  item_type: item_id
  initialization:
    includes: [{name: Static, parameters: {items: [{item_id: 7, tag: $$x}]}}]
  return: [item_id, tag]
- name: lookup_columns
  item_type: item_id
  initialization:
    includes: [{name: Lookup, parameters: {dataset: tags, columns: [tag]}}]
  operations:
  - {name: Match, parameters: {column: tag, value: $t}}
  return: [item_id, tag]
`;

async function configDir(files: Record<string, string>): Promise<string> {
  const dir = await tempDir('airmail-typing-');
  await mkdir(join(dir, 'data'));
  await writeFile(join(dir, 'data/items.json'), JSON.stringify(ITEMS));
  await writeFile(join(dir, 'data/tags.json'), JSON.stringify(TAGS));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return dir;
}

/** Loads a config text against the test datasets; the diagnostics, formatted. */
async function problemsOf(text: string): Promise<string[]> {
  const dir = await configDir({});
  const path = join(dir, 'p.yaml');
  const r = await loadConfigSet([{ path, text: DATASETS + text }], { operators: OPS });
  return r.ok ? [] : r.diagnostics.map(formatDiagnostic);
}

describe('request inputs typed by the columns they meet', () => {
  let engine: Engine;
  let app: ReturnType<typeof createApp>;
  const get = async (path: string): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await app.request(path);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const post = async (path: string, body: string): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await app.request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const ids = (body: Record<string, unknown>): unknown[] => (body['items'] as Record<string, unknown>[]).map((i) => i['item_id']);
  const errorPaths = (body: Record<string, unknown>): unknown[] => ((body['errors'] ?? []) as { path: string }[]).map((e) => e.path);

  beforeAll(async () => {
    const dir = await configDir({ 'defs.yaml': DATASETS, 'pipelines.yaml': PIPELINES });
    engine = new Engine({ configs: dir, operators: builtinOperators, operatorModules: [OPERATORS_URL], threads: 0, watch: false, remote: {} });
    const errors = await engine.start();
    expect(errors.map(formatDiagnostic)).toEqual([]);
    app = createApp(engine);
  });
  afterAll(() => engine?.close());

  it('an item-id reference (Static excludes [$skip]) takes the id column type: GET ?skip=6 and POST {"skip":6} agree', async () => {
    expect(engine.pipeline('skip').inputSchema['properties']).toEqual({ skip: { type: 'integer' } });
    const byGet = await get('/pipelines/skip?skip=6');
    const byPost = await post('/pipelines/skip', '{"skip":6}');
    expect(byGet.status).toBe(200);
    expect(ids(byGet.body)).toEqual([1, 2, 3, 4, 5, 7, 8]);
    expect(ids(byPost.body)).toEqual(ids(byGet.body));
  });

  it('an item id of the wrong type is a 422 naming the input, not a 200 with SOURCE_FAILED', async () => {
    for (const body of ['{"skip":"6"}', '{"skip":{"a":1}}']) {
      const r = await post('/pipelines/skip', body);
      expect(r.status, body).toBe(422);
      expect(errorPaths(r.body)).toEqual(['/skip']);
    }
  });

  it('Lookup where {color: $c} and Match value: $b take the dataset column type (null and booleans are 422)', async () => {
    expect(engine.pipeline('color').inputSchema['properties']).toEqual({ c: { type: ['string', 'array'], items: { type: 'string' } } });
    expect(engine.pipeline('match').inputSchema['properties']).toEqual({ b: { type: ['string', 'array'], items: { type: 'string' } } });
    for (const c of ['null', 'true']) {
      expect((await post('/pipelines/color', `{"c":${c}}`)).status).toBe(422);
      expect((await post('/pipelines/match', `{"b":${c}}`)).status).toBe(422);
    }
    expect(ids((await post('/pipelines/color', '{"c":"red"}')).body)).toEqual([2, 4, 6, 8]);
    expect(ids((await get('/pipelines/match?b=red&b=blue')).body)).toHaveLength(8);
  });

  it('1e400 (Infinity) is not an integer', async () => {
    const r = await post('/pipelines/context_key', '{"user_id":1e400}');
    expect(r.status).toBe(422);
    expect(errorPaths(r.body)).toEqual(['/user_id']);
  });

  it("query integers follow the JSON grammar: ' ', '', 0x2 and 2e0 are 422, 2 and -2 are integers", async () => {
    for (const q of ['%20', '', '0x2', '2e0', '2.5']) {
      const r = await get(`/pipelines/context_key?user_id=${q}`);
      expect(r.status, q).toBe(422);
      expect(errorPaths(r.body), q).toEqual(['/user_id']);
    }
    expect(ids((await get('/pipelines/context_key?user_id=2')).body)).toEqual([2, 4, 6, 8]);
  });

  it('a scalar input given twice in the query is a 422, not the first value', async () => {
    const r = await get('/pipelines/context_key?user_id=2&user_id=3');
    expect(r.status).toBe(422);
    expect(errorPaths(r.body)).toEqual(['/user_id']);
  });

  it("Limit n: $n carries the parameter's minimum into the request schema: n=-5 is a 422 with an errors list", async () => {
    expect(engine.pipeline('limit').inputSchema['properties']).toEqual({ n: { type: 'integer', minimum: 0 } });
    const r = await post('/pipelines/limit', '{"n":-5}');
    expect(r.status).toBe(422);
    expect(r.body['code']).toBe('INPUT_INVALID');
    expect(errorPaths(r.body)).toEqual(['/n']);
  });

  it('$$x is the literal $x in a Lookup where and in a Static row', async () => {
    expect(ids((await post('/pipelines/dollar', '{}')).body)).toEqual([3]);
    expect((await post('/pipelines/dollar_static', '{}')).body['items']).toEqual([{ item_id: 7, tag: '$x' }]);
  });

  it('columns a Lookup brings along can be matched and returned', async () => {
    expect(engine.pipeline('lookup_columns').inputSchema['properties']).toEqual({ t: { type: ['string', 'array'], items: { type: 'string' } } });
    expect((await post('/pipelines/lookup_columns', '{"t":"new"}')).body['items']).toEqual([{ item_id: 1, tag: 'new' }, { item_id: 3, tag: 'new' }]);
  });
});

describe('literals that can never match are load errors', () => {
  const pipeline = (ops: string, includes = '[{name: Lookup, parameters: {dataset: items}}]'): string => `
pipeline:
  name: p
  item_type: item_id
  initialization:
    includes: ${includes}
  operations:
${ops}
`;

  it('Range on a text column', async () => {
    const p = await problemsOf(pipeline('  - {name: Range, parameters: {column: color, min: 1}}'));
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/p\.yaml:\d+:\d+: .*Range: compares numbers, but column 'color' of dataset 'items' holds text.*\[BAD_PARAMETER\]/);
  });

  it('Match on a number column with a text literal', async () => {
    const p = await problemsOf(pipeline('  - {name: Match, parameters: {column: price, value: cheap}}'));
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/p\.yaml:\d+:\d+: .*Match: "cheap" is text, but column 'price' of dataset 'items' holds numbers.*\[BAD_PARAMETER\]/);
  });

  it('Lookup where {price: red}, reported with the other errors', async () => {
    const p = await problemsOf(pipeline('  - {name: Match, parameters: {column: price, value: cheap}}', '[{name: Lookup, parameters: {dataset: items, where: {price: red}}}]'));
    expect(p).toHaveLength(2);
    expect(p.join('\n')).toMatch(/Lookup: "red" is text, but column 'price' of dataset 'items' holds numbers/);
  });

  it('issue: a Column scorer on a text column loaded and scored every row null; now a load error naming the column and its type', async () => {
    const scored = (column: string): string => `
pipeline:
  name: p
  item_type: item_id
  initialization:
    includes: [{name: Lookup, parameters: {dataset: items}}]
    scores: [{name: Column, parameters: {column: ${column}}}]
`;
    const p = await problemsOf(scored('color'));
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/p\.yaml:\d+:\d+: .*Column: reads numbers, but column 'color' of dataset 'items' holds text \(e\.g\. "blue"\).*null score.*\[BAD_PARAMETER\]/);
    expect(await problemsOf(scored('price'))).toEqual([]);
  });

  it('numbers and numeric text still compare as numbers', async () => {
    expect(await problemsOf(pipeline("  - {name: Match, parameters: {column: price, value: '10'}}\n  - {name: Range, parameters: {column: price, max: 20}}"))).toEqual([]);
  });

  it("Sort given both 'score' and 'by' says both are given (not 'does not match any allowed form')", async () => {
    const p = await problemsOf(pipeline('  - {name: Sort, parameters: {by: price, score: price}}'));
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/Sort: 'by' and 'score' are both given; give only one of them/);
  });

  it('Static ids of the wrong type, or mixed numbers and strings', async () => {
    const wrong = await problemsOf(pipeline('  - {name: Limit, parameters: {n: 1}}', '[{name: Static, parameters: {items: ["6"]}}]'));
    expect(wrong.join('\n')).toMatch(/item id "6" is text, but the item ids \(column 'item_id' of dataset 'items'\) are integers/);
    const mixed = await problemsOf(`
pipeline:
  name: p
  item_type: sku
  initialization:
    includes: [{name: Static, parameters: {items: ["1", "2", 3]}}]
`);
    expect(mixed.join('\n')).toMatch(/items mixes numbers \(first at 2\) and strings \(first at 0\)/);
  });
});

describe('the items dataset', () => {
  it('without one, an item-id reference is still a number or a string (an object is a 422, not SOURCE_FAILED)', async () => {
    const dir = await configDir({ 'p.yaml': `
pipeline:
  name: p
  item_type: sku
  initialization:
    includes: [{name: Static, parameters: {items: [1, 2]}}]
    excludes: [{name: Static, parameters: {items: [$skip]}}]
` });
    const engine = new Engine({ configs: dir, operators: builtinOperators, operatorModules: [OPERATORS_URL], threads: 0, watch: false, remote: {} });
    try {
      expect(await engine.start()).toEqual([]);
      expect(engine.pipeline('p').inputSchema['properties']).toEqual({ skip: { type: ['number', 'string'] } });
      expect(() => engine.checkInputs(engine.pipeline('p'), { skip: { a: 1 } }, 'json')).toThrow(/'skip' must be a number or a string/);
    } finally {
      await engine.close();
    }
  });


  it('two datasets keyed by the item type: the message says the items dataset is ambiguous, names both, and points at items:', async () => {
    const p = await problemsOf(`  mixed: {path: data/items.json, key: item_id}
pipeline:
  name: p
  item_type: item_id
  initialization:
    includes: [{name: Static, parameters: {items: [1, 2]}}]
  operations:
  - {name: Match, parameters: {column: color, value: red}}
`);
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/Match reads column 'color', which no earlier step writes \(the items dataset is ambiguous: datasets 'items' and 'mixed' are both keyed by 'item_id'; pick one with 'items: items'\)/);
  });
});

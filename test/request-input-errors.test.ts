/**
 * A refused request input says how to write it where it was written: a query string has no quotes
 * (`?n=01` is not "write it without the quotes" but "write it as 1"), a JSON body has JSON's number
 * grammar, a YAML body has YAML's; an integer-or-list input is not told to send `[1.5]`. A body's
 * `null` for an input with a default takes the default. And a parameter that names a dataset, a
 * model or a URL cannot be a request input: it is a load error, as a column reference is.
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

const ITEMS = [
  { sku_id: 1, cat: 'a', price: 1.5 },
  { sku_id: 2, cat: 'b', price: 2.5 },
  { sku_id: 3, cat: 'a', price: 3.5 },
];
const DATASETS = `
datasets:
  items: {path: data/items.json, key: sku_id}
`;
const PIPELINE = `
pipeline:
  name: p
  item_type: sku_id
  inputs:
    n: {type: integer, default: 2}
  initialization:
    includes: [{name: Lookup, parameters: {dataset: items, where: {cat: $c}}}]
  operations:
  - {name: Exclude, parameters: {ids: $ids}}
  - {name: Hydrate, parameters: {columns: [price]}}
  - {name: Range, parameters: {column: price, min: $lo}}
  - {name: Sort, parameters: {by: price, desc: $desc}}
  - {name: Limit, parameters: {n: $n}}
`;

async function configDir(): Promise<string> {
  const dir = await tempDir('airmail-input-errors-');
  await mkdir(join(dir, 'data'));
  await writeFile(join(dir, 'data/items.json'), JSON.stringify(ITEMS));
  await writeFile(join(dir, 'p.yaml'), DATASETS + PIPELINE);
  return dir;
}

describe('input errors, per transport', () => {
  let engine: Engine;
  let app: ReturnType<typeof createApp>;
  type Answer = { status: number; body: Record<string, unknown> };
  const answer = async (res: Response): Promise<Answer> => ({ status: res.status, body: (await res.json()) as Record<string, unknown> });
  const get = async (query: string): Promise<Answer> => {
    const q = new URLSearchParams('c=a&ids=9&lo=0&desc=true');
    for (const [k, v] of new URLSearchParams(query)) q.set(k, v);
    return answer(await app.request(`/pipelines/p?${q.toString().replace(/\+/g, '%20')}`));
  };
  const postJson = async (inputs: string): Promise<Answer> =>
    answer(await app.request('/pipelines/p', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ c: 'a', ids: 9, lo: 0, desc: true, ...(JSON.parse(`{${inputs}}`) as object) }) }));
  const postYaml = async (inputs: string): Promise<Answer> =>
    answer(await app.request('/pipelines/p', { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: `{${['c: a', 'ids: 9', 'lo: 0', 'desc: true'].filter((kv) => !inputs.startsWith(kv.split(':')[0]!)).join(', ')}, ${inputs}}` }));
  const messages = (a: Answer): string[] => ((a.body['errors'] ?? []) as { message: string }[]).map((e) => e.message);
  const ids = (a: Answer): unknown[] => (a.body['items'] as Record<string, unknown>[]).map((i) => i['sku_id']);

  beforeAll(async () => {
    engine = new Engine({ configs: await configDir(), operators: builtinOperators, operatorModules: [OPERATORS_URL], threads: 0, watch: false, remote: {} });
    expect((await engine.start()).map(formatDiagnostic)).toEqual([]);
    app = createApp(engine);
  });
  afterAll(() => engine?.close());

  it.each([
    ['n=01', `'n' must be an integer, not "01": write it as 1`],
    ['lo=0x2', `'lo' must be a number, not "0x2": write it as 2`],
    ['lo=%201', `'lo' must be a number, not " 1": write it as 1`],
    ['n=1e1', `'n' must be an integer, not "1e1": write it as 10`],
    ['desc=TRUE', `'desc' must be true or false, not "TRUE": write true`],
    ['desc=yes', `'desc' must be true or false, not "yes"`],
    ['ids=1.5', `'ids' must be an integer or a list, not "1.5"`],
  ])('a query string has no quotes: ?%s', async (q, message) => {
    const a = await get(q);
    expect(a.status).toBe(422);
    expect(a.body['code']).toBe('INPUT_INVALID');
    expect(messages(a)).toEqual([message]);
  });

  it.each([
    ['"n":"01"', `'n' must be an integer, not "01": write it as 1, a number without quotes`],
    ['"n":"5"', `'n' must be an integer, not "5": write it without the quotes`],
    ['"lo":"0x2"', `'lo' must be a number, not "0x2": write it as 2, a number without quotes`],
    ['"desc":"true"', `'desc' must be true or false, not "true": write it without the quotes`],
    ['"desc":"yes"', `'desc' must be true or false, not "yes"`],
    ['"ids":"1.5"', `'ids' must be an integer or a list, not "1.5"`],
    ['"c":{"x":1}', `'c' must be a string or a list, not {"x":1}`],
    ['"n":[1]', `'n' must be an integer, not [1]: write 1 itself, not a list of it`],
    ['"desc":["true"]', `'desc' must be true or false, not ["true"]`],
  ])('a JSON body: %s', async (field, message) => {
    const a = await postJson(field);
    expect(a.status).toBe(422);
    expect(messages(a)).toEqual([message]);
  });

  it.each([
    ['n: "01"', `'n' must be an integer, not "01": write it without the quotes`],
    ['desc: yes', `'desc' must be true or false, not "yes": YAML reads it as text; write true or false`],
  ])('a YAML body keeps its YAML hints: %s', async (field, message) => {
    const a = await postYaml(field);
    expect(a.status).toBe(422);
    expect(messages(a)).toEqual([message]);
  });

  it('a body null for an input with a default takes the default; a required one is still refused', async () => {
    expect(ids(await postJson('"n":null'))).toEqual([3, 1]);
    expect(ids(await postYaml('n: null'))).toEqual([3, 1]);
    expect(ids(await postJson('"n":1'))).toEqual([3]);
    const a = await answer(await app.request('/pipelines/p', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"c":null,"ids":9,"lo":0,"desc":true}' }));
    expect(a.status).toBe(422);
    expect(messages(a)).toEqual([`'c' must be a string or a list, not null`]);
  });

  it('airmail run --input reads text as a query does', () => {
    const p = engine.pipeline('p');
    expect(() => engine.checkInputs(p, { c: 'a', ids: '9', lo: '0', desc: 'true', n: '01' }, 'cli')).toThrow(`'n' must be an integer, not "01": write it as 1`);
  });
});

describe('a parameter naming a dataset, a model or a URL', () => {
  const problemsOf = async (step: string): Promise<string[]> => {
    const dir = await configDir();
    const r = await loadConfigSet([{ path: join(dir, 'q.yaml'), text: `${DATASETS}
pipeline:
  name: q
  item_type: sku_id
  initialization:
    includes:
    - ${step}
` }], { operators: OPS });
    return r.ok ? [] : r.diagnostics.map(formatDiagnostic);
  };

  it.each([
    ['{name: Lookup, parameters: {dataset: $ds}}', `Lookup: $ds: 'dataset' names a dataset, which is checked when the config loads`],
    ['{name: Lookup, parameters: {dataset: $client.ds}}', `'dataset' names a dataset`],
    ['{name: HttpSource, parameters: {url: $u}}', `HttpSource: $u: 'url' names the URL it fetches`],
  ])('cannot be a reference: %s', async (step, message) => {
    const p = await problemsOf(step);
    expect(p.join('\n')).toContain(message);
    expect(p.join('\n')).toContain('write it in the config');
  });

  it('an Exclude dataset and a ModelScore model cannot either', async () => {
    const p = await problemsOf(`{name: Lookup, parameters: {dataset: items}}
  operations:
  - {name: Exclude, parameters: {dataset: $ds}}
  - {name: Limit, parameters: {n: 1}}`);
    expect(p.join('\n')).toContain(`Exclude: $ds: 'dataset' names a dataset`);
    const m = await problemsOf(`{name: Lookup, parameters: {dataset: items}}
    scores:
    - {name: ModelScore, as: m, parameters: {model: $m, features: [price]}}`);
    expect(m.join('\n')).toContain(`ModelScore: $m: 'model' names a model`);
  });

  it('a literal $$ name is no reference', async () => {
    expect((await problemsOf('{name: Lookup, parameters: {dataset: items}}'))).toEqual([]);
  });
});

/**
 * Differential test, part 2: named pipelines served from a configs directory and called as users
 * call them. Seeded pipelines over one world (text values that look like numbers, unicode, spaces,
 * `+`; nulls) take request inputs (a list of ids, text, numbers, a defaulted `n`) and score with
 * Column scorers and a js model from a registry (ModelScore, README "js functions in pipelines"),
 * weighted; each request is sent as a query string (repeated keys for lists, percent-encoded), a
 * JSON body and a YAML body, and all three must equal the README reference (semantics-reference.ts;
 * the model's score is computed by the reference too). Then the error answers (status, code, the
 * input named), Sample's promises as properties, and hot reload (a rewrite applies within a second;
 * a broken rewrite keeps the old answers). NAMED_SEED changes the run.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishModel } from '../engine/registry/publish.js';
import { RegistryStore } from '../engine/registry/store.js';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';
import { interpret, prng, type Id, type Pipeline, type Row, type Step, type World } from './semantics-reference.js';

const SEED = Number(process.env['NAMED_SEED'] ?? 11);
const r = prng(SEED);
const int = (lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)]!;
const some = <T>(xs: readonly T[], max: number, min = 1): T[] => Array.from({ length: int(min, max) }, () => pick(xs));

const CATS = ['a', '007', '7', 'ü é', 'x+y', '1e3', 'true', '%41'];
const items: Row[] = Array.from({ length: 14 }, (_, i) => ({ id: i + 1, cat: r() < 0.15 ? null : pick(CATS), w: r() < 0.2 ? null : int(0, 4), price: r() < 0.2 ? null : int(0, 6) + 0.5 }));
/** The js model (float32 inputs, a missing one as NaN): m = 2w + price, or w - 1 without a price; NaN → no score. */
const MODEL = `export function predict(c, rows) {
  const m = new Float64Array(rows);
  for (let i = 0; i < rows; i++) m[i] = Number.isNaN(c.price[i]) ? c.w[i] - 1 : 2 * c.w[i] + c.price[i];
  return { m };
}\n`;
for (const row of items) {
  const w = row['w'] as number | null, p = row['price'] as number | null;
  row['m'] = w === null ? null : p === null ? w - 1 : 2 * w + p;
}
const world: World = { name: '', ids: 'int', items, links: [] };

interface Named { engine: Pipeline; reference: Pipeline; requests: Record<string, unknown>[]; defaults: Record<string, unknown> }
function named(k: number): Named {
  const includes: Step[] = [];
  const ask: Record<string, () => unknown> = {};
  if (r() < 0.6) { includes.push({ name: 'Static', parameters: { items: '$ids' } }); ask['ids'] = () => some([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14], 6); }
  if (r() < 0.6 || includes.length === 0) { includes.push({ name: 'Lookup', parameters: { dataset: 'items', where: { cat: '$c' } } }); ask['c'] = () => (r() < 0.4 ? some(CATS, 3) : pick(CATS)); }
  if (r() < 0.3) includes.push({ name: 'Lookup', parameters: { dataset: 'items' } });
  const scores: Step[] = [];
  const model = r() < 0.6;
  if (model) scores.push({ name: 'ModelScore', as: 'm_score', parameters: { model: { tags: { name: 'msum' } } }, ...(r() < 0.5 ? { weight: pick([2, 0.5, -1]) } : {}) });
  for (let i = int(model ? 0 : 1, 2); i > 0; i--) scores.push({ name: 'Column', as: `s${i}`, parameters: { column: pick(['w', 'price']) }, ...(r() < 0.5 ? { weight: pick([1, 2, -1, 0]) } : {}) });
  const operations: Step[] = [];
  const defaults: Record<string, unknown> = {};
  if (r() < 0.5) { operations.push({ name: 'Range', parameters: { column: pick(['w', 'price', 'score']), min: '$lo' } }); ask['lo'] = () => pick([0, 1, 1.5, 2.5, -1]); }
  if (r() < 0.3) { operations.push({ name: 'Match', parameters: { column: 'cat', op: pick(['in', 'not_in']), value: '$m' } }); ask['m'] = () => some(CATS, 3); }
  operations.push({ name: 'Sort', parameters: { by: pick(['score', 'score', 'price', 'cat', 'm_score'].filter((c) => model || c !== 'm_score')), desc: r() < 0.6 } });
  if (r() < 0.7) { operations.push({ name: 'Limit', parameters: { n: '$n' } }); defaults['n'] = int(1, 6); ask['n'] = () => int(0, 8); }
  const engine: Pipeline = { name: `named${k}`, item_type: 'id', items: 'items', initialization: { includes, scores }, operations, return: ['id', 'score', 'cat', ...(model ? ['m_score'] : [])] };
  const reference = structuredClone(engine);
  reference.initialization.scores = scores.map((s) => (s.name === 'ModelScore' ? { ...s, name: 'Column', parameters: { column: 'm' } } : s));
  const requests = Array.from({ length: 6 }, () => Object.fromEntries(Object.entries(ask).filter(([n]) => !(n in defaults) || r() < 0.6).map(([n, f]) => [n, f()])));
  return { engine, reference, requests, defaults };
}
const PIPES = Array.from({ length: 14 }, (_, k) => named(k));

/** `?k=v&k=w`: a list as repeated keys, every value percent-encoded. */
const query = (inputs: Record<string, unknown>): string => Object.entries(inputs).filter(([, v]) => v !== undefined).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${k}=${encodeURIComponent(String(x))}`)).join('&');

let dir: string;
let srv: RunningServer;
const yamlOf = (p: Pipeline, defaults: Record<string, unknown>): string => stringify({ pipeline: { ...p, ...(Object.keys(defaults).length ? { inputs: Object.fromEntries(Object.entries(defaults).map(([n, d]) => [n, { type: 'integer', default: d }])) } : {}) } });
beforeAll(async () => {
  dir = await tempDir('airmail-named-');
  const reg = await RegistryStore.open(join(dir, 'registry'), { create: true });
  await publishModel({ artifact: new TextEncoder().encode(MODEL), flavor: 'js', name: 'msum', description: 'm = 2w + price', sample: [{ w: 1, price: 0.5 }, { w: 2, price: null }] }, reg);
  await mkdir(join(dir, 'configs'));
  await writeFile(join(dir, 'items.json'), JSON.stringify(items.map(({ m: _m, ...row }) => row)));
  await writeFile(join(dir, 'configs', 'defs.yaml'), 'datasets:\n  items: {path: ../items.json, key: id, columns: {cat: string, w: number, price: number}}\n');
  for (const p of PIPES) await writeFile(join(dir, 'configs', `${p.engine.name}.yaml`), yamlOf(p.engine, p.defaults));
  await writeFile(join(dir, 'configs', 'sampled.yaml'), stringify({ pipeline: { name: 'sampled', item_type: 'id', items: 'items', initialization: { includes: [{ name: 'Static', parameters: { items: '$ids' } }], scores: [{ name: 'Column', parameters: { column: 'price' } }] }, operations: [{ name: 'Sample', parameters: { n: '$n', score: 'score', temperature: '$t', seed: '$s' } }], return: ['id', 'score'] } }));
  srv = await server({ configs: join(dir, 'configs'), threads: 0, registry: join(dir, 'registry'), modelHub: { log: () => undefined } });
  expect(srv.startErrors).toEqual([]);
});
afterAll(async () => { await srv?.close(); });

interface Answer { items: Row[]; error: boolean; code?: string; errors?: { path: string }[]; reason?: string }
const get = async (name: string, inputs: Record<string, unknown>): Promise<[number, Answer]> => {
  const res = await fetch(`${srv.url}/pipelines/${name}/run?${query(inputs)}`);
  return [res.status, (await res.json()) as Answer];
};
const post = async (name: string, body: string, type = 'application/json'): Promise<[number, Answer]> => {
  const res = await fetch(`${srv.url}/pipelines/${name}`, { method: 'POST', headers: { 'content-type': type }, body });
  return [res.status, (await res.json()) as Answer];
};

describe('named pipelines agree with the README reference, however they are called', () => {
  it(`${PIPES.length} seeded pipelines × 6 requests × (query string, JSON, YAML)`, async () => {
    const mismatches: string[] = [];
    let several = 0;
    for (const p of PIPES) {
      for (const inputs of p.requests) {
        const want = interpret(world, p.reference, { ...p.defaults, ...inputs }).items;
        if (want.length > 1) several++;
        const answers = [['query', await get(p.engine.name, inputs)], ['json', await post(p.engine.name, JSON.stringify(inputs))], ['yaml', await post(p.engine.name, stringify(inputs), 'application/yaml')]] as const;
        for (const [how, [status, body]] of answers) {
          if (status !== 200 || JSON.stringify(body.items) !== JSON.stringify(want)) mismatches.push(`${p.engine.name} by ${how} ${JSON.stringify(inputs)}\n  pipeline=${JSON.stringify(p.engine)}\n  want ${JSON.stringify(want)}\n  got  ${status} ${JSON.stringify(body.items)} ${body.reason ?? ''}`);
        }
        if (mismatches.length >= 3) break;
      }
    }
    expect(mismatches.slice(0, 3).join('\n\n')).toBe('');
    expect(several).toBeGreaterThan(PIPES.length * 2);
  });

  it('refuses what the README says it refuses, naming the input', async () => {
    const p = PIPES.find((x) => x.defaults['n'] !== undefined && x.requests[0]!['c'] !== undefined)!;
    const { n: _n, ...base } = p.requests[0]!;
    const cases: [string, Promise<[number, Answer]>, number, string, string?][] = [
      ['an integer that is text', get(p.engine.name, { ...base, n: 'two' }), 422, 'INPUT_INVALID', '/n'],
      ['a number JSON reads otherwise', get(p.engine.name, { ...base, n: '2e0' }), 422, 'INPUT_INVALID', '/n'],
      ['a single-value input given twice', get(p.engine.name, { ...base, n: [1, 2] }), 422, 'INPUT_INVALID', '/n'],
      ['an empty value for an integer', get(p.engine.name, { ...base, n: '' }), 422, 'INPUT_INVALID', '/n'],
      ['an input the pipeline does not use', get(p.engine.name, { ...base, zz: 1 }), 422, 'INPUT_INVALID', '/zz'],
      ['a required input left out', get(p.engine.name, { ...base, c: undefined, n: 1 }), 422, 'INPUT_INVALID', '/c'],
      ['a text input sent as a JSON number', post(p.engine.name, JSON.stringify({ ...base, c: 7 })), 422, 'INPUT_INVALID', '/c'],
      ['an unsafe integer', post(p.engine.name, JSON.stringify(base).replace('{', '{"n": 12345678901234567890123, ')), 422, 'INPUT_INVALID', '/n'],
      ['a body that is no object', post(p.engine.name, '[1]'), 422, 'INPUT_INVALID'],
      ['an unparsable YAML body', post(p.engine.name, 'c: [a', 'application/yaml'), 400, 'BODY_UNPARSABLE'],
      ['a malformed %-escape', fetch(`${srv.url}/pipelines/${p.engine.name}?c=%zz`).then(async (res) => [res.status, (await res.json()) as Answer]), 400, 'QUERY_INVALID'],
      ['an unknown pipeline', get('nope', base), 404, 'PIPELINE_NOT_FOUND'],
    ];
    for (const [what, answer, status, code, path] of cases) {
      const [s, body] = await answer;
      expect([what, s, body.code, body.error]).toEqual([what, status, code, true]);
      if (path) expect([what, body.errors?.map((e) => e.path)]).toEqual([what, [path]]);
    }
    // Text that looks like a number stays text in a query string (`007`, `1e3`, `true`).
    for (const c of ['007', '1e3', 'true']) {
      const [s, body] = await get(p.engine.name, { ...base, c, n: 8 });
      expect([c, s]).toEqual([c, 200]);
      expect(body.items).toEqual(interpret(world, p.reference, { ...base, c, n: 8 }).items);
    }
  });
});

describe('Sample', () => {
  const ids = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
  const run = async (inputs: Record<string, unknown>): Promise<Id[]> => {
    const [s, body] = await post('sampled', JSON.stringify(inputs));
    expect([s, body.reason]).toEqual([200, null]);
    return body.items.map((i) => i['id'] as Id);
  };
  it('is seeded: the same seed and candidates give the same draw, in any candidate order; n distinct candidates; nulls last', async () => {
    const priced = new Set(items.filter((i) => i['price'] !== null).map((i) => i['id']));
    for (let s = 0; s < 8; s++) {
      const a = await run({ ids, n: 14, t: 1, s });
      expect(await run({ ids: ids.slice().reverse(), n: 14, t: 1, s })).toEqual(a);
      expect(new Set(a).size).toBe(14);
      const firstNull = a.findIndex((id) => !priced.has(id));
      expect(a.slice(firstNull).every((id) => !priced.has(id))).toBe(true);
      expect(await run({ ids, n: 3, t: 1, s })).toEqual(a.slice(0, 3));
    }
  });
  it('a tiny temperature draws in score order; softmax weights the first draw', async () => {
    const priced = items.filter((i) => i['price'] !== null);
    const top = Math.max(...priced.map((i) => i['price'] as number));
    const first = await run({ ids, n: 1, t: 1e-9, s: 3 });
    expect(items.find((i) => i['id'] === first[0])!['price']).toBe(top);
    // Two candidates whose prices differ by 2: P(the dearer first) = 1 / (1 + e^-2) ≈ 0.881 at t = 1.
    const pair = [priced.find((i) => (i['price'] as number) < top - 2)!, priced.find((i) => i['price'] === top)!];
    const diff = (pair[1]!['price'] as number) - (pair[0]!['price'] as number);
    let dear = 0;
    const N = 300;
    for (let s = 0; s < N; s++) if ((await run({ ids: pair.map((i) => i['id']), n: 1, t: 2, s }))[0] === pair[1]!['id']) dear++;
    const p = 1 / (1 + Math.exp(-diff / 2));
    expect(Math.abs(dear / N - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / N));
  });
});

describe('hot reload between cases', () => {
  it('a rewritten pipeline answers with its new semantics within a second; a broken rewrite keeps them', async () => {
    const p = PIPES[0]!;
    const inputs = p.requests[0]!;
    const flipped = structuredClone(p.engine);
    const sort = flipped.operations!.find((s) => s.name === 'Sort')!;
    sort.parameters = { ...sort.parameters, desc: !sort.parameters!['desc'] };
    const ref = structuredClone(p.reference);
    ref.operations = flipped.operations;
    const want = interpret(world, ref, { ...p.defaults, ...inputs }).items;
    const t0 = Date.now();
    await writeFile(join(dir, 'configs', `${p.engine.name}.yaml`), yamlOf(flipped, p.defaults));
    let got = (await get(p.engine.name, inputs))[1].items;
    while (JSON.stringify(got) !== JSON.stringify(want) && Date.now() - t0 < 1500) {
      await new Promise((ok) => setTimeout(ok, 50));
      got = (await get(p.engine.name, inputs))[1].items;
    }
    expect(got).toEqual(want);
    expect(Date.now() - t0).toBeLessThan(1000 + 250); // README: within a second (slack for a loaded machine)
    await writeFile(join(dir, 'configs', `${p.engine.name}.yaml`), yamlOf(flipped, p.defaults).replace('Sort', 'Srot'));
    await new Promise((ok) => setTimeout(ok, 1200));
    expect((await get(p.engine.name, inputs))[1].items).toEqual(want);
    const listed = (await (await fetch(`${srv.url}/pipelines`)).json()) as { pipelines: { name: string; last_rejection: unknown }[] };
    expect(JSON.stringify(listed)).toContain('Srot');
  });
});

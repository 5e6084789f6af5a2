/**
 * Model endpoints from `deployments:`: the bench models published through `airmail publish` answer
 * /models/{name}/predict with model_expectations.json's values (1e-5), /models/{name}/query/{id}
 * reads features through the envelope's feature source, schemas appear in /openapi.json, bad rows
 * get a 422 naming the feature, and a newer version that fails to warm is rejected while the old
 * one keeps serving.
 */
import { readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryCli } from '../engine/registry/cli.js';
import { arrowBytes, benchSampleColumns, startRegistry, tempDir, type RunningRegistry } from '../engine/registry/fixtures.js';
import type { RunningServer } from '../engine/server.js';
import { BENCH, benchOrSkip, server, registryServer, closeRegistryWorld } from './helpers.js';

const enabled = benchOrSkip();

interface Expectations { columns: string[]; rows: { features: Record<string, number>; gbdt_ort: number; mlp_ort: number }[] }
interface Predicted { predictions: Record<string, number | null>[]; model: { name: string; version: number; label: string; sha256: string } }

async function publish(reg: string, ...args: string[]): Promise<void> {
  const err: string[] = [];
  const code = await registryCli(['publish', '--registry', reg, ...args], { out: () => undefined, err: (l) => err.push(l) });
  expect(err).toEqual([]);
  expect(code).toBe(0);
}

describe.skipIf(!enabled)('model deployments', () => {
  let reg: RunningRegistry;
  let dir: string;
  let srv: RunningServer;
  let exp: Expectations;

  const post = async (path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await fetch(`${srv.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  const get = async (path: string): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await fetch(`${srv.url}${path}`);
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    exp = JSON.parse(readFileSync(join(BENCH, 'model_expectations.json'), 'utf8')) as Expectations;
    reg = await startRegistry();
    dir = await tempDir('airmail-deploy-');
    const sample = join(dir, 'sample.arrow');
    await writeFile(sample, arrowBytes(benchSampleColumns(300)));
    for (const algo of ['gbdt', 'mlp']) {
      await publish(reg.url, '--artifact', join(BENCH, `psale_${algo}.onnx`), '--flavor', 'onnx', '--name', 'psale', '--description', `p(sale), ${algo}`, '--tag', 'stage=prod', '--tag', `algo=${algo}`, '--sample', sample);
    }
    const cols = benchSampleColumns(50);
    await writeFile(join(dir, 'fsum.json'), JSON.stringify(Array.from({ length: 50 }, (_, i) => ({ f0: cols['f0']![i], f1: cols['f1']![i] }))));
    await writeFile(join(dir, 'fsum.mjs'), 'export function predict(c) { return { y: Float64Array.from(c.f0, (v, i) => v + c.f1[i]) }; }\n');
    await publish(reg.url, '--artifact', join(dir, 'fsum.mjs'), '--flavor', 'js', '--name', 'fsum', '--description', 'f0 + f1', '--sample', join(dir, 'fsum.json'), '--feature-source', 'catalog:sku_id');
    await writeFile(join(dir, 'dept.json'), JSON.stringify([{ dept: 'shoes', f0: 1 }, { dept: 'hats', f0: 2 }]));
    await writeFile(join(dir, 'dept.mjs'), 'export function predict(c) { return { y: c.dept.map((d, i) => (d === null ? -1 : d.length) + c.f0[i]) }; }\n');
    await publish(reg.url, '--artifact', join(dir, 'dept.mjs'), '--flavor', 'js', '--name', 'dept', '--description', 'len(dept) + f0', '--sample', join(dir, 'dept.json'));
    await mkdir(join(dir, 'configs'));
    await writeFile(join(dir, 'configs', 'models.yaml'), `
datasets:
  catalog: {path: ${BENCH}/catalog.arrow, key: sku_id}
deployments:
- {name: psale_gbdt, description: p(sale) from the gradient-boosted trees, model: {tags: {name: psale, algo: gbdt}}}
- {name: psale_mlp, model: {tags: {name: psale, algo: mlp}}}
- {name: fsum, model: {tags: {name: fsum}}}
- {name: dept, model: {tags: {name: dept}}}
`);
    srv = await registryServer(dir, reg.url);
  });

  afterAll(() => closeRegistryWorld(srv, reg, dir));

  it.each([['psale_gbdt', 'gbdt_ort', 1], ['psale_mlp', 'mlp_ort', 2]] as const)('%s predicts model_expectations.json within 1e-5', async (name, key, version) => {
    const r = await post(`/models/${name}/predict`, { rows: exp.rows.map((row) => row.features) });
    expect(r.status).toBe(200);
    const body = r.json as unknown as Predicted;
    expect(body.model).toMatchObject({ name: 'psale', version, label: `psale@${version}` });
    expect(body.predictions).toHaveLength(exp.rows.length);
    body.predictions.forEach((p, i) => expect(Math.abs(p['psale']! - exp.rows[i]![key])).toBeLessThan(1e-5));
  });

  it('takes null for a missing feature: NaN to a numeric input, as /query and pipelines give it; null to a text one', async () => {
    const gbdt = await post('/models/psale_gbdt/predict', { rows: [{ ...exp.rows[0]!.features, f3: null }] });
    expect(gbdt.status, JSON.stringify(gbdt.json)).toBe(200);
    // The trees take their missing-value branch: a finite probability.
    expect(Number.isFinite((gbdt.json as unknown as Predicted).predictions[0]!['psale'])).toBe(true);
    expect((await post('/models/fsum/predict', { rows: [{ f0: null, f1: 2 }, { f0: 1, f1: 2 }] })).json).toMatchObject({ predictions: [{ y: null }, { y: 3 }] });
    expect((await post('/models/dept/predict', { rows: [{ dept: null, f0: 1 }, { dept: 'abc', f0: null }] })).json).toMatchObject({ predictions: [{ y: 0 }, { y: null }] });
  });

  it('a decimal for an input typed integer from whole numbers in the publish sample says why, and how to publish it to take decimals', async () => {
    const r = await post('/models/dept/predict', { rows: [{ dept: 'abc', f0: 1.5 }] });
    expect(r.status).toBe(422);
    expect(String(r.json['reason'])).toContain("/rows/0/f0 'f0' must be an integer or null, not 1.5 (the model's input 'f0' is int32, as its envelope was published: from whole numbers in its sample, unless --inputs said so; publish with --inputs f0:float64 to take decimals)");
  });

  it.each([
    ['a missing feature', (f: Record<string, unknown>) => { const { f3: _drop, ...rest } = f; return rest; }, /'f3' is required \(send null for a missing value\)/, '/rows/0/f3'],
    ['a mistyped feature', (f: Record<string, unknown>) => ({ ...f, c2: 'high' }), /'c2' must be a number or null, not "high"/, '/rows/0/c2'],
    ['an unknown feature', (f: Record<string, unknown>) => ({ ...f, zz: 1 }), /zz/, '/rows/0/zz'],
  ])('answers %s with a 422 naming it', async (_what, change, message, path) => {
    const r = await post('/models/psale_gbdt/predict', { rows: [change(exp.rows[0]!.features)] });
    expect(r.status).toBe(422);
    expect(r.json).toMatchObject({ error: true, code: 'INPUT_INVALID' });
    expect(String(r.json['reason'])).toMatch(message);
    expect((r.json['errors'] as { path: string }[]).map((e) => e.path)).toContain(path);
  });

  it('refuses a malformed x-airmail-deadline-ms with 400 HEADER_INVALID, as pipeline runs do (it was ignored: the default deadline applied)', async () => {
    const headers = { 'content-type': 'application/json', 'x-airmail-deadline-ms': 'abc' };
    const r = await fetch(`${srv.url}/models/fsum/predict`, { method: 'POST', headers, body: JSON.stringify({ rows: [{ f0: 1, f1: 2 }] }) });
    expect([r.status, ((await r.json()) as Record<string, unknown>)['code']]).toEqual([400, 'HEADER_INVALID']);
    const q = await fetch(`${srv.url}/models/fsum/query/${exp.rows.length > 0 ? 1 : 0}`, { headers: { 'x-airmail-deadline-ms': '-5' } });
    expect([q.status, ((await q.json()) as Record<string, unknown>)['code']]).toEqual([400, 'HEADER_INVALID']);
    const fine = await fetch(`${srv.url}/models/fsum/predict`, { method: 'POST', headers: { ...headers, 'x-airmail-deadline-ms': '5000' }, body: JSON.stringify({ rows: [{ f0: 1, f1: 2 }] }) });
    expect(fine.status).toBe(200);
  });

  it('refuses bodies without rows and unknown deployments', async () => {
    expect((await post('/models/psale_gbdt/predict', { rows: [] })).status).toBe(422);
    expect((await post('/models/psale_gbdt/predict', [1, 2])).status).toBe(422);
    expect((await post('/models/nope/predict', { rows: [{}] })).status).toBe(404);
  });

  it('refuses a body that is not application/json (415) and a feature beyond float64 (422)', async () => {
    const text = await fetch(`${srv.url}/models/psale_gbdt/predict`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ rows: [exp.rows[0]!.features] }) });
    expect(text.status).toBe(415);
    expect(await text.json()).toMatchObject({ error: true, code: 'UNSUPPORTED_MEDIA_TYPE' });
    const huge = JSON.stringify({ rows: [exp.rows[0]!.features] }).replace(/"f0":[^,}]+/, '"f0":1e400');
    const r = await fetch(`${srv.url}/models/psale_gbdt/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: huge });
    expect(r.status).toBe(422);
    expect(await r.json()).toMatchObject({ code: 'INPUT_INVALID', errors: [{ path: '/rows/0/f0', message: expect.stringMatching(/^'f0' must be a finite number/) }] });
  });

  it('queries one id through the envelope feature source', async () => {
    const catalog = tableFromIPC(readFileSync(join(BENCH, 'catalog.arrow')));
    const ids = catalog.getChild('sku_id')!.toArray() as Int32Array;
    const row = ids.indexOf(4242);
    const f0 = (catalog.getChild('f0')!.toArray() as Float32Array)[row]!;
    const f1 = (catalog.getChild('f1')!.toArray() as Float32Array)[row]!;
    const r = await get('/models/fsum/query/4242');
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ id: 4242, features: { f0, f1 }, model: { name: 'fsum', version: 1 } });
    expect((r.json['predictions'] as { y: number }[])[0]!.y).toBeCloseTo(f0 + f1, 12);
    expect((await get('/models/fsum/query/999999999')).status).toBe(404);
    const noSource = await get('/models/psale_gbdt/query/1');
    expect(noSource.status).toBe(404);
    expect(String(noSource.json['reason'])).toMatch(/no feature source/);
  });

  it('describes the endpoints in /openapi.json with schemas from the shape', async () => {
    const spec = (await get('/openapi.json')).json as { paths: Record<string, { post?: { requestBody: { content: { 'application/json': { schema: { properties: { rows: { items: { required: string[]; properties: Record<string, { type: string }> } } } } } } } }; get?: unknown }> };
    const row = spec.paths['/models/psale_gbdt/predict']!.post!.requestBody.content['application/json'].schema.properties.rows.items;
    expect(row.required).toEqual(exp.columns);
    expect(row.properties['f0']).toMatchObject({ type: ['number', 'null'] });
    expect(spec.paths['/models/fsum/query/{id}']!.get).toBeDefined();
    const list = (await get('/models')).json as { deployments: { name: string; model: { label: string }; file: string }[] };
    expect(list.deployments.map((d) => `${d.name}=${d.model.label}`)).toEqual(['dept=dept@1', 'fsum=fsum@1', 'psale_gbdt=psale@1', 'psale_mlp=psale@2']);
    // Files as every public answer names them: relative to the configs directory, not the server's path.
    expect(list.deployments.map((d) => d.file)).toEqual(['models.yaml', 'models.yaml', 'models.yaml', 'models.yaml']);
    expect((await get('/models/fsum')).json['file']).toBe('models.yaml');
  });

  it('rejects a new version that fails to warm, keeps the old one, then takes a good one', async () => {
    const rows = { rows: [{ f0: 1, f1: 2 }] };
    await writeFile(join(dir, 'picky.mjs'), 'export function predict(c, rows) { if (rows < 10) throw new Error("needs 10 rows"); return { y: Float64Array.from(c.f0) }; }\n');
    await publish(reg.url, '--artifact', join(dir, 'picky.mjs'), '--flavor', 'js', '--name', 'fsum', '--description', 'picky', '--sample', join(dir, 'fsum.json'));
    await waitFor(() => srv.engine.models!.rejections.some((r) => r.candidate === 'fsum@2'));
    expect(srv.engine.models!.rejections.find((r) => r.candidate === 'fsum@2')!.reason).toMatch(/needs 10 rows/);
    const still = await post('/models/fsum/predict', rows);
    expect(still.json).toMatchObject({ predictions: [{ y: 3 }], model: { version: 1 } });
    expect(((await get('/models')).json['rejections'] as { candidate: string }[]).map((r) => r.candidate)).toContain('fsum@2');

    await writeFile(join(dir, 'fdiff.mjs'), 'export function predict(c) { return { y: Float64Array.from(c.f0, (v, i) => v - c.f1[i]) }; }\n');
    const t0 = Date.now();
    await publish(reg.url, '--artifact', join(dir, 'fdiff.mjs'), '--flavor', 'js', '--name', 'fsum', '--description', 'f0 - f1', '--sample', join(dir, 'fsum.json'));
    await waitFor(async () => ((await post('/models/fsum/predict', rows)).json as unknown as Predicted).model.version === 3);
    expect(Date.now() - t0).toBeLessThan(2000 + 1000);
    expect((await post('/models/fsum/predict', rows)).json).toMatchObject({ predictions: [{ y: -1 }] });
  });
});

describe.skipIf(!enabled)('deployments checked at config load', () => {
  it.each([
    ['without a registry', 'model: {tags: {name: psale}}', false, 'CONFIG_INVALID', /no registry/],
    ['with a feature source missing a column', 'model: {tags: {name: fsum}}, features_from: {dataset: catalog, key: nope}', true, 'UNKNOWN_COLUMN', /has no column\(s\) nope/],
    ['naming nothing in the registry', 'model: {name: ghost, version: 3}', true, 'MODEL_LOAD_FAILED', /nothing matches ghost@3|no envelope ghost@3/],
  ])('refuses a deployment %s', async (_what, entry, withRegistry, code, message) => {
    const reg = await startRegistry();
    const dir = await tempDir('airmail-deploy-load-');
    try {
      await writeFile(join(dir, 'f.json'), JSON.stringify([{ f0: 1, f1: 2 }]));
      await writeFile(join(dir, 'fsum.mjs'), 'export function predict(c) { return { y: Float64Array.from(c.f0) }; }\n');
      await publish(reg.url, '--artifact', join(dir, 'fsum.mjs'), '--flavor', 'js', '--name', 'fsum', '--description', 'x', '--sample', join(dir, 'f.json'));
      await mkdir(join(dir, 'configs'));
      await writeFile(join(dir, 'configs', 'models.yaml'), `datasets:\n  catalog: {path: ${BENCH}/catalog.arrow, key: sku_id}\ndeployments:\n- {name: d, ${entry}}\n`);
      const srv = await server({ configs: join(dir, 'configs'), threads: 0, ...(withRegistry ? { registry: reg.url, modelHub: { cacheDir: join(dir, 'cache'), log: () => undefined } } : {}) });
      try {
        const d = srv.startErrors.find((x) => x.code === code);
        expect(d, JSON.stringify(srv.startErrors)).toBeDefined();
        expect(d!.message).toMatch(message);
        expect(d!.line).toBe(4);
        expect(srv.engine.snapshot.deployments?.has('d') ?? false).toBe(false);
      } finally {
        await srv.close();
      }
    } finally {
      await reg.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

async function waitFor(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * A pipeline whose ModelScore names registry tags: resolved when the config loads, checked against
 * the envelope's input columns, and switched to a newly published matching version while requests
 * keep coming, with no failed request and every response naming the model version it used.
 */
import { readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, tempDir, type RunningRegistry } from '../engine/registry/fixtures.js';
import { buildPublishRequest } from '../engine/registry/publish.js';
import type { RunningServer } from '../engine/server.js';
import { RegistryClient } from '../registry-client/client.js';
import { BENCH, benchOrSkip, server } from './helpers.js';

const enabled = benchOrSkip();
const CLIENT_FEATURES = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`c${i}`, `$client.c${i}`]));

function benchYaml(bench: string): string {
  return `
datasets:
  catalog: {path: ${bench}/catalog.arrow, key: sku_id}
  clients: {path: ${bench}/clients.arrow, key: client_id}
  inventory: {path: ${bench}/inventory.arrow}
  purchases: {path: ${bench}/purchases.arrow}
contexts:
  client: {dataset: clients, key: $client_id}
  product: {dataset: catalog, key: $product_id, column: product_id}
operators:
  AvailableInventory: {use: Lookup, parameters: {dataset: inventory, where: {warehouse_id: $client.warehouse_id}}}
  MatchClientSize: {use: Lookup, parameters: {dataset: catalog, where: {size: $client.size}}}
  PreviouslyPurchased: {use: Lookup, parameters: {dataset: purchases, where: {client_id: $client_id}}}
  MatchDepartment: {use: Match, parameters: {column: department, value: $product.department}}
  PsaleProd:
    use: ModelScore
    parameters:
      model: {tags: {name: psale, stage: prod}}
      features: ${JSON.stringify(CLIENT_FEATURES)}
`;
}

const PIPELINE = `
pipeline:
  name: complimentary_items
  item_type: sku_id
  initialization:
    includes: [AvailableInventory, MatchClientSize]
    excludes: [PreviouslyPurchased]
    scores:
    - {name: PsaleProd, as: psale_score}
  operations:
  - {name: Hydrate, parameters: {columns: [department, product_id]}}
  - MatchDepartment
  - {name: DiverseSample, parameters: {n: 10, maximize: psale_score, by: product_id}}
  - {name: Sort, parameters: {by: score, desc: true}}
  return: [sku_id, product_id, score]
`;

interface Sample { client_id: number; product_id: number; items: { sku_id: number; score: number }[] }

describe.skipIf(!enabled)('registry models in pipelines', () => {
  let reg: RunningRegistry;
  let client: RegistryClient;
  let dir: string;
  let srv: RunningServer;
  let samples: Sample[];

  const publish = async (file: string, tags: Record<string, string>, extra: { inputs?: { name: string; type: 'float32' }[]; flavor?: 'onnx' | 'js'; artifact?: Uint8Array } = {}): Promise<number> => {
    const req = await buildPublishRequest({
      artifact: extra.artifact ?? join(BENCH, file), flavor: extra.flavor ?? 'onnx', name: 'psale', description: `p(sale) ${file}`, tags,
      ...(extra.inputs ? { inputs: extra.inputs, outputs: [{ name: 'psale', type: 'float32' }] } : { sample: sampleRows() }),
    });
    return (await client.publish(req)).version;
  };

  beforeAll(async () => {
    samples = JSON.parse(readFileSync(join(BENCH, 'pipeline_expectations_sample.json'), 'utf8')) as Sample[];
    reg = await startRegistry();
    dir = await tempDir('airmail-models-');
    client = new RegistryClient({ url: reg.url, cacheDir: join(dir, 'publisher-cache') });
    expect(await publish('psale_gbdt.onnx', { stage: 'prod' })).toBe(1);
    await mkdir(join(dir, 'configs'));
    await writeFile(join(dir, 'configs', 'bench.yaml'), benchYaml(BENCH));
    await writeFile(join(dir, 'configs', 'complimentary_items.yaml'), PIPELINE);
    // A long deadline: this checks correctness on a shared 2-core machine, not speed.
    srv = await server({ configs: join(dir, 'configs'), registry: reg.url, deadlineMs: 60_000, modelHub: { cacheDir: join(dir, 'engine-cache'), log: () => undefined } });
    expect(srv.startErrors).toEqual([]);
  });

  afterAll(async () => {
    await srv?.close();
    await client?.close();
    await reg?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('scores with the resolved model exactly as with the file, and names the version', async () => {
    const pool = new Pool(srv.url, { connections: 1 });
    try {
      for (const s of samples.slice(0, 3)) {
        const res = await pool.request({ method: 'POST', path: '/pipelines/complimentary_items', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_id: s.client_id, product_id: s.product_id }) });
        const body = (await res.body.json()) as { items: { sku_id: number; score: number }[]; models: Record<string, string> };
        expect(res.statusCode).toBe(200);
        expect(body.models).toEqual({ psale_score: 'psale@1' });
        expect(body.items.map((i) => i.sku_id)).toEqual(s.items.map((i) => i.sku_id));
        body.items.forEach((it, k) => expect(Math.abs(it.score - s.items[k]!.score)).toBeLessThan(1e-5));
      }
    } finally {
      await pool.close();
    }
  });

  it('picks up a newly published version within 2 s under load, with zero failed requests', async () => {
    const pool = new Pool(srv.url, { connections: 4, pipelining: 1 });
    const send = async (i: number): Promise<{ status: number; error: boolean; model: string | undefined }> => {
      const s = samples[i % samples.length]!;
      try {
        const res = await pool.request({ method: 'POST', path: '/pipelines/complimentary_items', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_id: s.client_id, product_id: s.product_id }) });
        const body = (await res.body.json()) as { error: boolean; models?: Record<string, string> };
        return { status: res.statusCode, error: body.error, model: body.models?.['psale_score'] };
      } catch {
        return { status: 0, error: true, model: undefined };
      }
    };
    // Every worker has run the pipeline once before the clock starts.
    await Promise.all(Array.from({ length: 8 }, (_, i) => send(i)));
    let swapAt = 0;
    const off = srv.engine.models!.onSwap((sw) => { if (sw.to === 'psale@2') swapAt = Date.now(); });
    const results: { start: number; end: number; status: number; error: boolean; model: string | undefined }[] = [];
    const t0 = Date.now();
    let publishedAt = 0;
    const publisher = (async () => {
      await new Promise((r) => setTimeout(r, 800));
      expect(await publish('psale_mlp.onnx', { stage: 'prod', algo: 'mlp' })).toBe(2);
      publishedAt = Date.now();
    })();
    // About 3 s of load; on a busy machine it runs on until enough requests came after the swap.
    const enough = (): boolean => Date.now() - t0 >= 3000 && results.length >= 300 && swapAt > 0 && results.filter((r) => r.start > swapAt).length >= 40;
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; !enough() && Date.now() - t0 < 40_000; i++) {
        const start = Date.now();
        const r = await send(w + i * 4);
        results.push({ start, end: Date.now(), ...r });
      }
    };
    await Promise.all([publisher, ...[0, 1, 2, 3].map(worker)]);
    off();
    await pool.close();

    expect(results.length).toBeGreaterThanOrEqual(300);
    expect(results.filter((r) => r.status !== 200 || r.error)).toEqual([]);
    expect(swapAt).toBeGreaterThan(0);
    expect(swapAt - publishedAt).toBeLessThan(2000);
    // A request runs on the model of the moment it started: before the swap the old one, after it the new one.
    expect(results.filter((r) => r.end < swapAt && r.model !== 'psale@1')).toEqual([]);
    expect(results.filter((r) => r.start > swapAt && r.model !== 'psale@2')).toEqual([]);
    expect(new Set(results.map((r) => r.model))).toEqual(new Set(['psale@1', 'psale@2']));
    expect(srv.engine.models!.swaps.map((s) => `${s.from}→${s.to}`)).toContain('psale@1→psale@2');
  });

  it('rejects a new version that does not fit and keeps serving the old one', async () => {
    const before = srv.engine.models!.rejections.length;
    // Same tags, other input column names (a model the pipeline was not compiled against).
    const renamed = Array.from({ length: 24 }, (_, i) => ({ name: `x${i}`, type: 'float32' as const }));
    const v3 = await publish('psale_gbdt.onnx', { stage: 'prod' }, { inputs: renamed });
    await waitFor(() => srv.engine.models!.rejections.length > before);
    const rej = srv.engine.models!.rejections.at(-1)!;
    expect(rej).toMatchObject({ candidate: `psale@${v3}`, code: 'MODEL_LOAD_FAILED' });
    expect(rej.reason).toMatch(/differ from those of psale@2 .* which pipeline 'complimentary_items' was compiled against; it keeps psale@2/);
    const s = samples[0]!;
    const res = await fetch(`${srv.url}/pipelines/complimentary_items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_id: s.client_id, product_id: s.product_id }) });
    expect(((await res.json()) as { models: Record<string, string> }).models).toEqual({ psale_score: 'psale@2' });
  });
});

describe.skipIf(!enabled)('registry models checked at config load', () => {
  let reg: RunningRegistry;
  let dir: string;
  beforeAll(async () => {
    reg = await startRegistry();
    dir = await tempDir('airmail-models-load-');
    const client = new RegistryClient({ url: reg.url, cacheDir: join(dir, 'cache') });
    // A model whose last input column is one the catalog does not have.
    const inputs = [...Array.from({ length: 16 }, (_, i) => `f${i}`), ...Array.from({ length: 7 }, (_, i) => `c${i}`), 'zz'].map((name) => ({ name, type: 'float32' as const }));
    await client.publish(await buildPublishRequest({ artifact: join(BENCH, 'psale_gbdt.onnx'), flavor: 'onnx', name: 'odd', description: 'odd inputs', tags: { stage: 'prod' }, inputs, outputs: [{ name: 'psale', type: 'float32' }] }));
    await client.close();
  });
  afterAll(async () => {
    await reg.close();
    await rm(dir, { recursive: true, force: true });
  });

  const load = async (name: string, model: string, features: string, registry: string | undefined): Promise<RunningServer> => {
    const configs = join(dir, name);
    await mkdir(configs);
    await writeFile(join(configs, 'bench.yaml'), benchYaml(BENCH).replace(/PsaleProd:[\s\S]*$/, `PsaleProd:\n    use: ModelScore\n    parameters:\n      model: ${model}\n      features: ${features}\n`));
    await writeFile(join(configs, 'complimentary_items.yaml'), PIPELINE);
    return server({ configs, threads: 0, ...(registry ? { registry, modelHub: { cacheDir: join(dir, 'cache'), log: () => undefined } } : {}) });
  };

  it.each([
    ['no registry configured', '{tags: {name: psale}}', '{}', false, 'BAD_PARAMETER', /no registry: start it with --registry/],
    ['tags that match nothing', '{tags: {name: nope, stage: prod}}', '{}', true, 'MODEL_LOAD_FAILED', /no model for tags:name=nope,stage=prod .*nothing matches/],
    ['an input the pipeline does not provide', '{tags: {name: odd}}', JSON.stringify(Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`c${i}`, `$client.c${i}`]))), true, 'UNKNOWN_COLUMN', /odd@1 needs input column\(s\) zz, which the items dataset 'catalog' does not have/],
    ['a feature map naming a column the model lacks', '{tags: {name: odd}}', '{c0: $client.c0, c9: $client.c1}', true, 'BAD_PARAMETER', /odd@1 has no input column 'c9'/],
    ['a feature list of the wrong length', '{name: odd, version: 1}', '[f0, f1]', true, 'BAD_PARAMETER', /odd@1 takes 24 input columns .*features lists 2/],
  ])('refuses %s at load', async (what, model, features, withRegistry, code, message) => {
    const srv = await load(what.replace(/\W+/g, '-'), model, features, withRegistry ? reg.url : undefined);
    try {
      const diag = srv.startErrors.find((d) => d.code === code);
      expect(diag, JSON.stringify(srv.startErrors)).toBeDefined();
      expect(diag!.message).toMatch(message);
      expect(srv.engine.snapshot.pipelines.has('complimentary_items')).toBe(false);
    } finally {
      await srv.close();
    }
  });
});

/** 300 rows of bench features, as JSON rows (the sample a data scientist would hand over). */
function sampleRows(): Record<string, number>[] {
  const exp = JSON.parse(readFileSync(join(BENCH, 'model_expectations.json'), 'utf8')) as { rows: { features: Record<string, number> }[] };
  return exp.rows.map((r) => r.features);
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

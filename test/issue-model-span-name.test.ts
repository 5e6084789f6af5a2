/**
 * Regression: the `model` span's `airmail.model` named a file model by its pinned copy
 * (`e60ca1acbd4ad754-psale_demo.onnx`) while airmail_model_info and a debug step's
 * `parameters.model` say `models/psale_demo.onnx`, and a registry model by its artifact's path in
 * the cache. A span now names a file model by its path under the configs directory and a registry
 * model by name@version (as the answer's `models` does), with `airmail.model_version` and, for a
 * registry model, `airmail.model_binding` the labels of its airmail_model_info series.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Observability } from '../engine/observe/index.js';
import { attribute as attr, startOtlpSink, type OtlpSink } from '../engine/observe/otlp-sink.js';
import { Tracing } from '../engine/observe/tracing.js';
import { publishModel } from '../engine/registry/publish.js';
import { RegistryStore } from '../engine/registry/store.js';
import type { RunningServer } from '../engine/server.js';
import { demoConfigs, server, tempDir } from './helpers.js';

const W = 'export function predict(c, n) { return { y: Float64Array.from(c.w, (w) => 2 * w) }; }';
let col: OtlpSink;
let tracing: Tracing;
let srv: RunningServer;
let configs: string;
let dir: string;

type Answer = { models?: Record<string, string>; debug?: { steps?: { step: string; parameters?: Record<string, unknown> }[] } };
async function run(name: string, body: unknown): Promise<Answer> {
  const r = await fetch(`${srv.url}/pipelines/${name}?debug=true`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(r.status).toBe(200);
  return (await r.json()) as Answer;
}

async function modelSpans(): Promise<{ model: string; version: string; binding: string | undefined }[]> {
  await tracing.forceFlush();
  return col.spans.filter((s) => s.name === 'model').map((s) => ({ model: String(attr(s, 'airmail.model')), version: String(attr(s, 'airmail.model_version')), binding: attr(s, 'airmail.model_binding') as string | undefined }));
}

beforeAll(async () => {
  col = await startOtlpSink();
  tracing = new Tracing({ url: col.url, delayMs: 20, timeoutMs: 500 });
  dir = await tempDir('airmail-model-span-');
  const store = await RegistryStore.open(join(dir, 'registry'), { create: true });
  await publishModel({ artifact: new TextEncoder().encode(W), flavor: 'js', name: 'm', description: 'd', tags: { stage: 'prod' }, sample: [{ w: 1 }] }, store);
  configs = await demoConfigs();
  await writeFile(join(configs, 'wdata.yaml'), 'datasets:\n  witems: {path: witems.json, key: id}\n');
  await writeFile(join(configs, 'witems.json'), JSON.stringify([{ id: 1, w: 0.5 }, { id: 2, w: 0.25 }]));
  await writeFile(join(configs, 'scored.yaml'), 'pipeline: {name: scored, item_type: id, initialization: {includes: [{name: Static, parameters: {items: [1, 2]}}], scores: [{name: ModelScore, as: y, parameters: {model: {tags: {name: m, stage: prod}}}}]}}\n');
  srv = await server({ configs, threads: 1, registry: join(dir, 'registry'), modelHub: { cacheDir: join(dir, 'cache'), log: () => undefined }, observe: new Observability({ tracing }) });
  expect(srv.startErrors).toEqual([]);
}, 30_000);
afterAll(async () => {
  await srv?.close();
  await tracing?.shutdown();
  await col?.close();
  await rm(dir, { recursive: true, force: true });
  await rm(configs, { recursive: true, force: true });
});

describe('the model span names a model as the metrics and debug output do', () => {
  it('a model file: by its path under the configs directory', async () => {
    const a = await run('complimentary_items', { client_id: 17, product_id: 42 });
    const step = a.debug?.steps?.find((s) => s.step === 'PsaleScore');
    expect(step?.parameters?.['model']).toBe('models/psale_demo.onnx');
    const metrics = await (await fetch(`${srv.url}/metrics`)).text();
    const info = /airmail_model_info\{model="(models\/psale_demo\.onnx)",version="([0-9a-f]{12})"\} 1/.exec(metrics);
    expect(info, metrics.split('\n').filter((l) => l.startsWith('airmail_model_info')).join('\n')).not.toBeNull();
    const spans = (await modelSpans()).filter((s) => s.model.includes('psale_demo'));
    expect(spans.length).toBeGreaterThan(0);
    for (const s of spans) expect(s).toEqual({ model: info![1], version: info![2], binding: undefined });
  });

  it('a registry model: by name@version, with its binding', async () => {
    const a = await run('scored', {});
    expect(a.models).toEqual({ y: 'm@1' });
    const metrics = await (await fetch(`${srv.url}/metrics`)).text();
    const info = /airmail_model_info\{model="([^"]*name=m[^"]*)",version="(m@1)"\} 1/.exec(metrics);
    expect(info, metrics.split('\n').filter((l) => l.startsWith('airmail_model_info')).join('\n')).not.toBeNull();
    const spans = (await modelSpans()).filter((s) => !s.model.includes('psale_demo'));
    expect(spans.length).toBeGreaterThan(0);
    for (const s of spans) expect(s).toEqual({ model: 'm@1', version: 'm@1', binding: info![1] });
  });
});

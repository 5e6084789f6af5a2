/**
 * Found by a soak: every POST /execute naming registry tags that matched nothing (a client's
 * ever-new `{tags: {name: ghost<N>}}`) left a registry watch behind for good, meant for a config
 * refused for it: a poll timer each second per name with a registry folder, an event stream per
 * name with a registry service. A pipeline sent with a request is never tried again, so its
 * compile watches nothing; a config in the configs directory still does.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../engine/registry/fixtures.js';
import { publishModel } from '../engine/registry/publish.js';
import { RegistryStore } from '../engine/registry/store.js';
import type { RunningServer } from '../engine/server.js';
import { server, until } from './helpers.js';

const W = 'export function predict(c, n) { return { y: Float64Array.from(c.w, (w) => 2 * w) }; }';
let dir: string;
let srv: RunningServer | undefined;

beforeAll(async () => {
  dir = await tempDir('airmail-execute-missing-watch-');
  const root = join(dir, 'registry');
  const store = await RegistryStore.open(root, { create: true });
  await publishModel({ artifact: new TextEncoder().encode(W), flavor: 'js', name: 'm', description: 'd', tags: { stage: 'prod' }, sample: [{ w: 1 }] }, store);
  await mkdir(join(dir, 'configs'));
  await writeFile(join(dir, 'configs', 'items.json'), JSON.stringify([{ id: 1, w: 0.5 }, { id: 2, w: 0.25 }]));
  await writeFile(join(dir, 'configs', 'base.yaml'), 'datasets:\n  items: {path: items.json, key: id}\npipeline: {name: keep, item_type: id, initialization: {includes: [{name: Static, parameters: {items: [1]}}]}}\n');
  srv = await server({ configs: join(dir, 'configs'), threads: 0, registry: root, reloadSettleMs: 0, modelHub: { cacheDir: join(dir, 'cache'), pollMs: 50 } });
  expect(srv.startErrors).toEqual([]);
}, 30_000);
afterAll(async () => {
  await srv?.close();
  await rm(dir, { recursive: true, force: true });
});

const execute = async (tags: Record<string, string>): Promise<{ status: number; body: { code?: string; models?: Record<string, string> } }> => {
  const res = await fetch(`${srv!.url}/execute`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ pipeline: { name: 'x', item_type: 'id', initialization: { includes: [{ name: 'Static', parameters: { items: [1, 2] } }], scores: [{ name: 'ModelScore', as: 'y', parameters: { model: { tags } } }] } }, inputs: {} }),
  });
  return { status: res.status, body: (await res.json()) as { code?: string; models?: Record<string, string> } };
};

describe('POST /execute naming registry models', () => {
  it('leaves no registry watch for tags that match nothing', async () => {
    const hub = srv!.engine.models!;
    for (let i = 0; i < 60; i++) {
      const r = await execute({ name: `ghost${i}` });
      expect(r.body.code).toBe('MODEL_LOAD_FAILED');
    }
    // A model that exists still serves.
    const ok = await execute({ name: 'm', stage: 'prod' });
    expect(ok.status).toBe(200);
    expect(ok.body.models).toEqual({ y: 'm@1' });
    await new Promise((r) => setTimeout(r, 100));
    expect(hub.watchingMissing).toBe(0);
  });

  it('still watches for a config in the configs directory, which loads once the model is published', async () => {
    const hub = srv!.engine.models!;
    const before = hub.watchingMissing;
    await writeFile(join(dir, 'configs', 'late.yaml'), "pipeline: {name: late, item_type: id, initialization: {includes: [{name: Static, parameters: {items: [1]}}], scores: [{name: ModelScore, as: y, parameters: {model: {tags: {name: late}}}}]}}\n");
    await until(() => hub.watchingMissing === before + 1, 'a watch for the late config');
    const store = await RegistryStore.open(join(dir, 'registry'));
    await publishModel({ artifact: new TextEncoder().encode(W), flavor: 'js', name: 'late', description: 'd', sample: [{ w: 1 }] }, store);
    await until(() => srv!.engine.snapshot.pipelines.has('late'), 'the late config to load', 15_000);
  }, 30_000);
});

/**
 * Regression (engine started before its registry): configs naming registry models were refused at
 * start and never tried again until their file changed, so the engine served 0 pipelines for good.
 * They are now retried with backoff and come up by themselves once the registry answers; /ready is
 * 503 meanwhile.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, tempDir, type RunningRegistry } from '../engine/registry/fixtures.js';
import { publishModel } from '../engine/registry/publish.js';
import { RegistryStore } from '../engine/registry/store.js';
import type { RunningServer } from '../engine/server.js';
import { server } from './helpers.js';

const PORT = 18753;

describe('an engine started while its registry is down', () => {
  let dir: string;
  let reg: RunningRegistry | undefined;
  let srv: RunningServer | undefined;
  beforeAll(async () => { dir = await tempDir('airmail-registry-late-'); });
  afterAll(async () => {
    await srv?.close();
    await reg?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('loads the pipelines that need it once the registry answers', async () => {
    const root = join(dir, 'registry');
    const store = await RegistryStore.open(root, { create: true });
    await publishModel({ artifact: new TextEncoder().encode('export function predict(c) { return { y: Float64Array.from(c.w, (w) => 2 * w) }; }'), flavor: 'js', name: 'late', description: '2w', sample: [{ w: 1 }] }, store);
    await mkdir(join(dir, 'configs'));
    await writeFile(join(dir, 'items.json'), JSON.stringify([{ id: 1, w: 0.5 }]));
    await writeFile(join(dir, 'configs', 'p.yaml'), `
datasets:
  items: {path: ../items.json, key: id}
pipeline:
  name: late
  item_type: id
  initialization:
    includes: [{name: Static, parameters: {items: [1]}}]
    scores: [{name: ModelScore, parameters: {model: {tags: {name: late}}}}]
  return: [id, score]
`);
    srv = await server({ configs: join(dir, 'configs'), threads: 0, registry: `http://127.0.0.1:${PORT}`, modelHub: { cacheDir: join(dir, 'cache'), log: () => undefined } });
    expect(srv.startErrors.map((d) => d.code)).toContain('REGISTRY_UNAVAILABLE');
    expect((await fetch(`${srv.url}/ready`)).status).toBe(503);

    reg = await startRegistry({ root, port: PORT });
    while ((await fetch(`${srv.url}/ready`)).status !== 200) await new Promise((r) => setTimeout(r, 50));
    const res = await fetch(`${srv.url}/pipelines/late`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(await res.json()).toMatchObject({ items: [{ id: 1, score: 1 }], models: { model_score: 'late@1' } });
  }, 30_000);

  it('also loads a pipeline refused only because the presets it uses sit in a file that waits on the registry', async () => {
    const base = await tempDir('airmail-registry-late-presets-');
    const port = PORT + 1;
    const root = join(base, 'registry');
    const store = await RegistryStore.open(root, { create: true });
    await publishModel({ artifact: new TextEncoder().encode('export function predict(c) { return { y: Float64Array.from(c.w, (w) => 2 * w) }; }'), flavor: 'js', name: 'late', description: '2w', sample: [{ w: 1 }] }, store);
    await mkdir(join(base, 'configs'));
    await writeFile(join(base, 'items.json'), JSON.stringify([{ id: 1, w: 0.5 }]));
    await writeFile(join(base, 'configs', 'defs.yaml'), `
datasets:
  items: {path: ../items.json, key: id}
operators:
  Late: {use: ModelScore, parameters: {model: {tags: {name: late}}}}
deployments:
- {name: late, model: {tags: {name: late}}}
`);
    await writeFile(join(base, 'configs', 'p.yaml'), `
pipeline:
  name: late2
  item_type: id
  initialization:
    includes: [{name: Static, parameters: {items: [1]}}]
    scores: [Late]
  return: [id, score]
`);
    const eng = await server({ configs: join(base, 'configs'), threads: 0, registry: `http://127.0.0.1:${port}`, modelHub: { cacheDir: join(base, 'cache'), log: () => undefined } });
    let late: RunningRegistry | undefined;
    try {
      // Let at least one retry fail first (the first comes after 500 ms): p.yaml is then refused for
      // its unknown preset, not for the registry, and used to be left out of every later retry.
      await new Promise((r) => setTimeout(r, 1200));
      late = await startRegistry({ root, port });
      while ((await fetch(`${eng.url}/ready`)).status !== 200) await new Promise((r) => setTimeout(r, 50));
      const res = await fetch(`${eng.url}/pipelines/late2`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(await res.json()).toMatchObject({ items: [{ id: 1, score: 1 }] });
    } finally {
      await eng.close();
      await late?.close();
      await rm(base, { recursive: true, force: true });
    }
  }, 30_000);
});

/**
 * Regression: a config refused for what the registry held (a deployment naming a model not yet
 * published, or a pipeline refused for a newer version whose inputs it lacks) stayed refused after
 * the registry changed (the model published, or a version with the old inputs published again to
 * roll back) until its file was edited: `touch` does not count, the text is the same. The engine
 * now proposes refused files again when the registry's answer to a model it asked for changes.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../engine/registry/fixtures.js';
import { publishModel } from '../engine/registry/publish.js';
import { RegistryStore } from '../engine/registry/store.js';
import type { RunningServer } from '../engine/server.js';
import { server, until } from './helpers.js';

const TWICE = 'export function predict(c, n) { return { y: Float64Array.from(c.w, (w) => 2 * w) }; }';
const OTHER = 'export function predict(c, n) { return { y: Float64Array.from(c.v, (v) => 3 * v) }; }';

describe('configs refused for what the registry held', () => {
  let dir: string;
  let srv: RunningServer | undefined;
  beforeAll(async () => { dir = await tempDir('airmail-registry-refused-'); });
  afterAll(async () => {
    await srv?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('come up by themselves once a matching model is published, and after a roll back', async () => {
    const root = join(dir, 'registry');
    const store = await RegistryStore.open(root, { create: true });
    await publishModel({ artifact: new TextEncoder().encode(TWICE), flavor: 'js', name: 'm', description: '2w', tags: { stage: 'prod' }, sample: [{ w: 1 }] }, store);
    await mkdir(join(dir, 'configs'));
    await writeFile(join(dir, 'items.json'), JSON.stringify([{ id: 1, w: 0.5 }]));
    await writeFile(join(dir, 'configs', 'p.yaml'), `
datasets:
  items: {path: ../items.json, key: id}
pipeline:
  name: p
  item_type: id
  initialization:
    includes: [{name: Static, parameters: {items: [1]}}]
    scores: [{name: ModelScore, parameters: {model: {tags: {name: m, stage: prod}}}}]
  return: [id, score]
`);
    await writeFile(join(dir, 'configs', 'later.yaml'), 'deployments:\n- {name: later, model: {tags: {name: later, stage: prod}}}\n');
    srv = await server({ configs: join(dir, 'configs'), threads: 0, registry: root, modelHub: { cacheDir: join(dir, 'cache'), pollMs: 50, log: () => undefined } });
    const url = srv.url;
    expect(srv.startErrors.map((d) => d.file)).toContain(join(dir, 'configs', 'later.yaml'));
    const predict = (name: string): Promise<Response> => fetch(`${url}/models/${name}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rows: [{ w: 1 }] }) });
    expect((await predict('later')).status).toBe(404);

    // The model the deployment names is published: the deployment serves without a file edit.
    await publishModel({ artifact: new TextEncoder().encode(TWICE), flavor: 'js', name: 'later', description: '2w', tags: { stage: 'prod' }, sample: [{ w: 1 }] }, store);
    await until(async () => (await predict('later')).status === 200);

    // A newer m whose inputs p.yaml does not provide, then a config change that recompiles p.yaml
    // (a new file): refused, naming the input. Rolling back (m with the old inputs, published again)
    // brings the new file in without touching it.
    await publishModel({ artifact: new TextEncoder().encode(OTHER), flavor: 'js', name: 'm', description: '3v', tags: { stage: 'prod' }, sample: [{ v: 1 }] }, store);
    await writeFile(join(dir, 'configs', 'extra.yaml'), 'deployments:\n- {name: extra, model: {tags: {name: later}}}\n');
    await until(async () => {
      const r = (await (await fetch(`${url}/pipelines`)).json()) as { rejections: { files: string[] }[] };
      return r.rejections.some((x) => x.files.includes('extra.yaml'));
    });
    expect((await predict('extra')).status).toBe(404);
    await publishModel({ artifact: new TextEncoder().encode(TWICE), flavor: 'js', name: 'm', description: '2w again', tags: { stage: 'prod' }, sample: [{ w: 1 }] }, store);
    await until(async () => (await predict('extra')).status === 200);
    const res = await fetch(`${url}/pipelines/p`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(await res.json()).toMatchObject({ items: [{ id: 1, score: 1 }], models: { model_score: 'm@3' } });
  }, 40_000);
});

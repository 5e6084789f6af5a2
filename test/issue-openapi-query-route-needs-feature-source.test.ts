/**
 * /openapi.json listed GET /models/{name}/query/{id} for every deployment, also one whose model was
 * published without --feature-source and that has no features_from: that route answers 404 NOT_FOUND
 * ("has no feature source"), so a client generated from the document had a call that always fails.
 * The route is now listed only for deployments that can answer it (the served version's feature
 * source, or the deployment's features_from), and appears once a version with one swaps in.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, tempDir, type RunningRegistry } from '../engine/registry/fixtures.js';
import { buildPublishRequest } from '../engine/registry/publish.js';
import type { FeatureSource } from '../engine/registry/envelope.js';
import type { RunningServer } from '../engine/server.js';
import { RegistryClient } from '../registry-client/client.js';
import { server, until } from './helpers.js';

const JS = new TextEncoder().encode('export function predict(c, n) { return { s: Float64Array.from({ length: n }, (_, i) => 2 * c.x[i]) }; }\n');

describe('/openapi.json lists a deployment\'s query route only when it can answer it', () => {
  let dir: string;
  let reg: RunningRegistry;
  let srv: RunningServer;
  let client: RegistryClient;
  const publish = async (name: string, featureSource?: FeatureSource): Promise<number> =>
    (await client.publish(await buildPublishRequest({ artifact: JS, flavor: 'js', name, description: '2x', sample: [{ x: 1 }, { x: 3 }], ...(featureSource ? { featureSource } : {}), context: { packages: {}, gitCommit: 'abcdef0' } }))).version;
  const paths = async (): Promise<string[]> => Object.keys(((await (await fetch(`${srv.url}/openapi.json`)).json()) as { paths: Record<string, unknown> }).paths);

  beforeAll(async () => {
    dir = await tempDir('airmail-openapi-query-');
    reg = await startRegistry();
    client = new RegistryClient({ url: reg.url });
    await publish('sourced', { dataset: 'items', key: 'sku_id' });
    await publish('bare');
    await mkdir(join(dir, 'configs'));
    await writeFile(join(dir, 'configs', 'items.json'), JSON.stringify([{ sku_id: 1, x: 1 }, { sku_id: 2, x: 2 }]));
    await writeFile(join(dir, 'configs', 'p.yaml'), `
datasets:
  items: {path: items.json, key: sku_id}
deployments:
- {name: sourced, model: {tags: {name: sourced}}}
- {name: bare, model: {tags: {name: bare}}}
- {name: bare_from_config, model: {tags: {name: bare}}, features_from: {dataset: items, key: sku_id}}
`);
    srv = await server({ configs: join(dir, 'configs'), threads: 1, registry: reg.url, modelHub: { pollMs: 50, log: () => undefined } });
    expect(srv.startErrors).toEqual([]);
  }, 30_000);

  afterAll(async () => {
    await srv?.close();
    await reg?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('lists /predict for all three, /query only where a feature source is known', async () => {
    const p = await paths();
    for (const d of ['sourced', 'bare', 'bare_from_config']) expect(p).toContain(`/models/${d}/predict`);
    expect(p).toContain('/models/sourced/query/{id}');
    expect(p).toContain('/models/bare_from_config/query/{id}');
    expect(p).not.toContain('/models/bare/query/{id}');
    // What the document leaves out is what the server refuses; what it lists answers.
    const bare = await fetch(`${srv.url}/models/bare/query/1`);
    expect(bare.status).toBe(404);
    expect(await bare.json()).toMatchObject({ code: 'NOT_FOUND', reason: expect.stringMatching(/has no feature source/) });
    const sourced = await fetch(`${srv.url}/models/sourced/query/2`);
    expect(sourced.status).toBe(200);
    expect(await sourced.json()).toMatchObject({ predictions: [{ s: 4 }] });
  });

  it('lists it once a version published with a feature source serves', async () => {
    const v = await publish('bare', { dataset: 'items', key: 'sku_id' });
    await until(async () => (await paths()).includes('/models/bare/query/{id}'), `bare@${v} serves and its query route is listed`, 10_000);
    const res = await fetch(`${srv.url}/models/bare/query/1`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ model: { version: v }, predictions: [{ s: 2 }] });
  }, 20_000);
});

/**
 * A deployment's /query read the features of an id through the feature source of the version resolved
 * when its config loaded, even after a newer version published with another one (or none) swapped in.
 * It now follows the served version; a version whose feature source the engine cannot read is
 * rejected (the old keeps serving), and rejections name the deployment that uses the model, not
 * "the running pipelines".
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../engine/registry/fixtures.js';
import { publishModel } from '../engine/registry/publish.js';
import { RegistryStore } from '../engine/registry/store.js';
import type { RunningServer } from '../engine/server.js';
import { server, until } from './helpers.js';

const sum = new TextEncoder().encode('export function predict(c, n) { return { s: Float64Array.from({ length: n }, (_, i) => c.x[i] + c.y[i]) }; }\n');
const onlyX = new TextEncoder().encode('export function predict(c, n) { return { s: Float64Array.from(c.x) }; }\n');

describe('a deployment follows the feature source of the version it serves', () => {
  let dir: string;
  let store: RegistryStore;
  let srv: RunningServer;

  const publish = (featureSource?: { dataset: string; key: string }, artifact = sum, sample: Record<string, unknown>[] = [{ x: 1.5, y: 2 }]): Promise<unknown> =>
    publishModel({ artifact, flavor: 'js', name: 'trend', description: 'x + y', sample, ...(featureSource ? { featureSource } : {}) }, store);
  const query = async (name: string, id: string): Promise<{ status: number; body: { model?: { version: number }; predictions?: { s: number }[]; reason?: string } }> => {
    const res = await fetch(`${srv.url}/models/${name}/query/${id}`);
    return { status: res.status, body: (await res.json()) as never };
  };
  const version = async (): Promise<number> => ((await (await fetch(`${srv.url}/models/trend`)).json()) as { model: { version: number } }).model.version;

  beforeAll(async () => {
    dir = await tempDir('airmail-feature-source-');
    store = await RegistryStore.open(join(dir, 'registry'), { create: true });
    await publish({ dataset: 'shop_a', key: 'id' });
    await mkdir(join(dir, 'configs'));
    await writeFile(join(dir, 'configs', 'a.json'), JSON.stringify([{ id: 1, x: 10, y: 1 }, { id: 2, x: 20, y: 2 }]));
    await writeFile(join(dir, 'configs', 'b.json'), JSON.stringify([{ pid: 1, x: 100, y: 5 }, { pid: 7, x: 700, y: 7 }]));
    await writeFile(join(dir, 'configs', 'models.yaml'), `
datasets:
  shop_a: {path: a.json, key: id}
  shop_b: {path: b.json, key: pid}
deployments:
- {name: trend, model: {tags: {name: trend}}}
- {name: pinned_source, model: {tags: {name: trend}}, features_from: {dataset: shop_a, key: id}}
`);
    srv = await server({ configs: join(dir, 'configs'), threads: 0, registry: pathToFileURL(join(dir, 'registry')).href, modelHub: { pollMs: 50, log: () => undefined } });
    expect(srv.startErrors).toEqual([]);
  });

  afterAll(async () => {
    await srv?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reads the dataset of the version that swapped in', async () => {
    expect((await query('trend', '2')).body.predictions).toEqual([{ s: 22 }]);
    await publish({ dataset: 'shop_b', key: 'pid' });
    await until(async () => (await version()) === 2, 'trend@2 serves', 5000);
    const r = await query('trend', '7');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ model: { version: 2 }, predictions: [{ s: 707 }] });
    const d = (await (await fetch(`${srv.url}/models/trend`)).json()) as { features_from: unknown };
    expect(d.features_from).toEqual({ dataset: 'shop_b', key: 'pid' });
    // features_from in the config still wins.
    expect((await query('pinned_source', '2')).body).toMatchObject({ model: { version: 2 }, predictions: [{ s: 22 }] });
  });

  it('rejects a version whose feature source cannot be read, naming the deployment; the old one keeps serving', async () => {
    // One at a time: the watch resolves the newest match, so two quick publishes may show it only the second.
    await publish({ dataset: 'warehouse', key: 'id' });
    await until(async () => srv.engine.models!.rejections.some((r) => r.candidate === 'trend@3'), 'trend@3 is rejected', 5000);
    await publish({ dataset: 'shop_a', key: 'nope' });
    await until(async () => srv.engine.models!.rejections.some((r) => r.candidate === 'trend@4'), 'trend@4 is rejected', 5000);
    const rej = srv.engine.models!.rejections;
    expect(rej.map((r) => [r.candidate, r.code])).toEqual([['trend@3', 'UNKNOWN_DATASET'], ['trend@4', 'UNKNOWN_COLUMN']]);
    expect(rej[0]!.reason).toMatch(/deployment 'trend'.*dataset 'warehouse'/);
    expect(await version()).toBe(2);
    expect((await query('trend', '7')).body.predictions).toEqual([{ s: 707 }]);
  });

  it('a version published with no feature source serves /predict; /query says it has none', async () => {
    await publish();
    await until(async () => (await version()) === 5, 'trend@5 serves', 5000);
    const r = await query('trend', '7');
    expect(r.status).toBe(404);
    expect(r.body.reason).toMatch(/trend@5 was published without --feature-source/);
    expect((await query('pinned_source', '1')).body).toMatchObject({ model: { version: 5 }, predictions: [{ s: 11 }] });
  });

  it('a newer version with other inputs is rejected naming the deployments that use it', async () => {
    await publish({ dataset: 'shop_a', key: 'id' }, onlyX, [{ x: 1.5 }]);
    await until(async () => srv.engine.models!.rejections.some((r) => r.candidate === 'trend@6'), 'trend@6 is rejected', 5000);
    const reason = srv.engine.models!.rejections.find((r) => r.candidate === 'trend@6')!.reason;
    expect(reason).toContain("which deployment 'pinned_source' and deployment 'trend' were compiled against; they keep trend@5");
    expect(reason).not.toContain('pipelines');
  });
});


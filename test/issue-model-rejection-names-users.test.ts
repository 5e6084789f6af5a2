/**
 * GET /models listed a rejected version (one that failed to load or warm) with only its binding
 * (`tags:name=m,stage=prod`), while the README says rejections name the pipelines and deployments
 * that use the model: an operator reading it could not tell what kept the old version. Each
 * rejection now carries `used_by`. Also checked here: while the bad version is rejected, every
 * answer still names the old version and scores with its function exactly.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, tempDir, type RunningRegistry } from '../engine/registry/fixtures.js';
import { buildPublishRequest } from '../engine/registry/publish.js';
import type { RunningServer } from '../engine/server.js';
import { RegistryClient } from '../registry-client/client.js';
import { server, until } from './helpers.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const times = (k: number): Uint8Array => enc(`export function predict(c, n) { return { s: Float64Array.from({ length: n }, (_, i) => ${k} * c.x[i]) }; }\n`);
// Runs on its sample (x = 1 and 3) at publish, but throws on the engine's warm-up (each input at its sample mean, 2).
const failsWarm = enc('export function predict(c, n) { if (c.x.some((v) => v === 2)) throw new Error("cannot warm"); return { s: Float64Array.from(c.x) }; }\n');

describe('a rejected registry version names what it would have served', () => {
  let dir: string;
  let reg: RunningRegistry;
  let srv: RunningServer;
  let client: RegistryClient;
  const publish = async (artifact: Uint8Array): Promise<number> =>
    (await client.publish(await buildPublishRequest({ artifact, flavor: 'js', name: 'm', description: 'k * x', tags: { stage: 'prod' }, sample: [{ x: 1 }, { x: 3 }] }))).version;
  const post = async (path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(`${srv.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    dir = await tempDir('airmail-rejection-users-');
    reg = await startRegistry();
    client = new RegistryClient({ url: reg.url });
    await publish(times(2));
    await mkdir(join(dir, 'configs'));
    await writeFile(join(dir, 'configs', 'items.json'), JSON.stringify([{ sku_id: 1, x: 1 }, { sku_id: 2, x: 2 }, { sku_id: 3, x: 3 }]));
    await writeFile(join(dir, 'configs', 'p.yaml'), `
datasets:
  items: {path: items.json, key: sku_id}
deployments:
- {name: m, model: {tags: {name: m, stage: prod}}}
pipeline:
  name: scored
  item_type: sku_id
  initialization:
    includes: [{name: Static, parameters: {items: [1, 2, 3]}}]
    scores:
    - {name: ModelScore, as: s, parameters: {model: {tags: {name: m, stage: prod}}, features: [x]}}
  return: [sku_id, score]
`);
    srv = await server({ configs: join(dir, 'configs'), threads: 1, registry: reg.url, modelHub: { pollMs: 50, log: () => undefined } });
    expect(srv.startErrors).toEqual([]);
  }, 30_000);

  afterAll(async () => {
    await srv?.close();
    await reg?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('lists the pipeline and the deployment under used_by, and the old version keeps serving exactly', async () => {
    const bad = await publish(failsWarm);
    type Listed = { rejections: { candidate: string; code: string; used_by?: string[] }[] };
    const listed = async (): Promise<Listed> => (await (await fetch(`${srv.url}/models`)).json()) as Listed;
    await until(async () => (await listed()).rejections.some((r) => r.candidate === `m@${bad}`), `m@${bad} is rejected`, 10_000);
    const rej = (await listed()).rejections.find((r) => r.candidate === `m@${bad}`)!;
    expect(rej.code).toBe('MODEL_LOAD_FAILED');
    expect(rej.used_by).toEqual(["deployment 'm'", "pipeline 'scored'"]);
    const p = await post('/pipelines/scored', {});
    expect(p.status).toBe(200);
    expect(p.body).toMatchObject({ models: { s: 'm@1' }, items: [{ sku_id: 1, score: 2 }, { sku_id: 2, score: 4 }, { sku_id: 3, score: 6 }] });
    const d = await post('/models/m/predict', { rows: [{ x: 5 }] });
    expect(d.body).toMatchObject({ predictions: [{ s: 10 }], model: { version: 1 } });
  }, 30_000);
});

/**
 * Regressions (newest match stuck on an old version; registry failures reported as the client's):
 *  - a newer version whose inputs differ was rejected for the running pipelines with the advice to
 *    reload, yet a reload and a new /execute still resolved the old version. Every compile now asks
 *    the registry again and adopts the newest match when the config provides its inputs;
 *  - with the registry down, /execute naming a model not yet bound answered 422 MODEL_LOAD_FAILED;
 *    it is 502 REGISTRY_UNAVAILABLE, and a model already bound keeps serving.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, tempDir, type RunningRegistry } from '../engine/registry/fixtures.js';
import { publishModel } from '../engine/registry/publish.js';
import type { RunningServer } from '../engine/server.js';
import { server } from './helpers.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
// v1 takes w and bonus; v2 takes w only.
const V1 = enc('export function predict(c, rows) { return { y: Float64Array.from(c.w, (w, i) => w + c.bonus[i]) }; }');
const V2 = enc('export function predict(c, rows) { return { y: Float64Array.from(c.w, (w) => 10 * w) }; }');

const pipelineYaml = (features: string): string => `
datasets:
  items: {path: ../items.json, key: id}
pipeline:
  name: ranked
  item_type: id
  initialization:
    includes: [{name: Static, parameters: {items: [1, 2]}}]
    scores: [{name: ModelScore, parameters: {model: {tags: {name: rank, stage: prod}}${features}}}]
  return: [id, score]
  inputs: {bonus: {type: number}}
`;

const adhoc = (name: string): unknown => ({
  pipeline: {
    name: 'adhoc', item_type: 'id',
    initialization: { includes: [{ name: 'Static', parameters: { items: [1, 2] } }], scores: [{ name: 'ModelScore', parameters: { model: { tags: { name, stage: 'prod' } } } }] },
    return: ['id', 'score'],
  },
  inputs: {},
});

describe('newest match after a version with other inputs', () => {
  let dir: string;
  let reg: RunningRegistry;
  let srv: RunningServer;
  const post = async (path: string, body: unknown): Promise<{ status: number; body: { models?: Record<string, string>; items?: { id: number; score: number }[]; code?: string; reason?: string } }> => {
    const res = await fetch(`${srv.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as never };
  };

  beforeAll(async () => {
    dir = await tempDir('airmail-reresolve-');
    reg = await startRegistry();
    await publishModel({ artifact: V1, flavor: 'js', name: 'rank', description: 'w + bonus', tags: { stage: 'prod' }, sample: [{ w: 1, bonus: 0 }] }, reg.store);
    await mkdir(join(dir, 'configs'));
    await writeFile(join(dir, 'items.json'), JSON.stringify([{ id: 1, w: 0.5 }, { id: 2, w: 3 }]));
    await writeFile(join(dir, 'configs', 'p.yaml'), pipelineYaml(', features: {bonus: $bonus}'));
    srv = await server({ configs: join(dir, 'configs'), threads: 0, watch: false, registry: reg.url, modelHub: { pollMs: 50, cacheDir: join(dir, 'cache'), log: () => undefined } });
    expect(srv.startErrors).toEqual([]);
  });
  afterAll(async () => {
    await srv?.close();
    await reg?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('keeps the running pipeline on its version, and a new compile or a reload adopts the newer one', async () => {
    expect((await post('/pipelines/ranked', { bonus: 1 })).body.models).toEqual({ model_score: 'rank@1' });
    await publishModel({ artifact: V2, flavor: 'js', name: 'rank', description: '10 w', tags: { stage: 'prod' }, sample: [{ w: 1 }] }, reg.store);
    while (!srv.engine.models!.rejections.some((r) => r.candidate === 'rank@2')) await new Promise((r) => setTimeout(r, 20));
    expect(srv.engine.models!.rejections.find((r) => r.candidate === 'rank@2')!.reason).toMatch(/which pipeline .ranked. was compiled against; it keeps rank@1\. A config that is loaded or reloaded from now on .* takes rank@2/);
    expect((await post('/pipelines/ranked', { bonus: 1 })).body.models).toEqual({ model_score: 'rank@1' });

    const ad = await post('/execute', adhoc('rank'));
    expect(ad.status).toBe(200);
    expect(ad.body.models).toEqual({ model_score: 'rank@2' });
    expect(ad.body.items).toEqual([{ id: 1, score: 5 }, { id: 2, score: 30 }]);

    // The config still hands v2 an input it does not take: the reload is refused and says why.
    await writeFile(join(dir, 'configs', 'p.yaml'), pipelineYaml(', features: {bonus: $bonus}') + '\n');
    const refused = await srv.engine.store.rescan();
    expect(refused.map((d) => d.message).join('\n')).toMatch(/bonus/);
    expect((await post('/pipelines/ranked', { bonus: 1 })).body.models).toEqual({ model_score: 'rank@1' });

    await writeFile(join(dir, 'configs', 'p.yaml'), pipelineYaml(''));
    expect(await srv.engine.store.rescan()).toEqual([]);
    expect((await post('/pipelines/ranked', { bonus: 1 })).body.models).toEqual({ model_score: 'rank@2' });
  });

  it('answers 502 REGISTRY_UNAVAILABLE for a model it cannot resolve while the registry is down; bound models keep serving', async () => {
    await reg.close();
    const r = await post('/execute', adhoc('conc'));
    expect(r.status).toBe(502);
    expect(r.body.code).toBe('REGISTRY_UNAVAILABLE');
    const bound = await post('/execute', adhoc('rank'));
    expect(bound.status).toBe(200);
    expect(bound.body.models).toEqual({ model_score: 'rank@2' });
  });
});

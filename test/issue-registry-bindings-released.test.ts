/**
 * Regression: a reload refused because the newest model needs an input the config lacks left the
 * binding that compile made loaded and watched for good. At every later publish it logged and listed
 * rejections such as "its inputs differ from those of m@2, which the running pipelines were compiled
 * against" although no running pipeline used m@2. A binding is now held by the compiles and served
 * configs that resolved it, and released (watch stopped, model closed, rejections dropped) when none does.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../engine/registry/fixtures.js';
import { publishModel } from '../engine/registry/publish.js';
import { RegistryStore } from '../engine/registry/store.js';
import type { RunningServer } from '../engine/server.js';
import { server, until } from './helpers.js';

const W = 'export function predict(c, n) { return { y: Float64Array.from(c.w, (w) => 2 * w) }; }';
const WV = 'export function predict(c, n) { return { y: Float64Array.from(c.w, (w, i) => w + c.v[i]) }; }';

const pipeline = (comment: string): string => `# ${comment}
datasets:
  items: {path: ../items.json, key: id}
pipeline:
  name: p
  item_type: id
  initialization:
    includes: [{name: Static, parameters: {items: [1]}}]
    scores: [{name: ModelScore, as: y, parameters: {model: {tags: {name: m, stage: prod}}}}]
  return: [id, score]
`;

describe('registry bindings no served config uses', () => {
  let dir: string;
  let srv: RunningServer | undefined;
  beforeAll(async () => { dir = await tempDir('airmail-bindings-released-'); });
  afterAll(async () => {
    await srv?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('are released after a refused reload, and rejections name only what serves', async () => {
    const root = join(dir, 'registry');
    const store = await RegistryStore.open(root, { create: true });
    const publish = (code: string, sample: Record<string, number>): Promise<unknown> =>
      publishModel({ artifact: new TextEncoder().encode(code), flavor: 'js', name: 'm', description: 'd', tags: { stage: 'prod' }, sample: [sample] }, store);
    await publish(W, { w: 1 });
    await writeFile(join(dir, 'items.json'), JSON.stringify([{ id: 1, w: 0.5 }]));
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(dir, 'configs'));
    const file = join(dir, 'configs', 'p.yaml');
    await writeFile(file, pipeline('one'));
    const logs: string[] = [];
    srv = await server({ configs: join(dir, 'configs'), threads: 0, registry: root, reloadSettleMs: 0, modelHub: { cacheDir: join(dir, 'cache'), pollMs: 50, log: (l) => logs.push(l) } });
    const hub = srv.engine.models!;
    const run = async (): Promise<{ models?: Record<string, string> }> =>
      (await (await fetch(`${srv!.url}/pipelines/p`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json()) as { models?: Record<string, string> };
    expect((await run()).models).toEqual({ y: 'm@1' });

    // m@2 needs v, which items lack: the running pipeline keeps m@1 (one true rejection).
    await publish(WV, { w: 1, v: 2 });
    await until(async () => hub.rejections.some((r) => r.candidate === 'm@2'));
    // An edit recompiles p.yaml against m@2 and is refused, naming v.
    await writeFile(file, pipeline('two'));
    await until(async () => {
      const r = (await (await fetch(`${srv!.url}/pipelines`)).json()) as { rejections: { diagnostics: { message: string }[] }[] };
      return r.rejections.some((x) => x.diagnostics.some((d) => d.message.includes('m@2')));
    });
    await until(async () => Object.keys(hub.refs).length === 1);
    expect(Object.values(hub.refs).map((r) => r.version)).toEqual(['m@1']);

    // m@3 with the first inputs: the served binding swaps; nothing claims m@2 is what pipelines run.
    logs.length = 0;
    await publish(W, { w: 1 });
    await until(async () => (await run()).models?.['y'] === 'm@3');
    await new Promise((r) => setTimeout(r, 300));
    expect(logs.filter((l) => l.includes('rejected'))).toEqual([]);
    expect(hub.rejections.filter((r) => r.reason.includes('those of m@2'))).toEqual([]);
    expect(Object.values(hub.refs).map((r) => r.version)).toEqual(['m@3']);
  }, 40_000);
});

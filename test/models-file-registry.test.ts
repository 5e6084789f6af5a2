/**
 * The engine reading a registry folder directly (file://, no registry server): tag, alias and pinned
 * specs each follow what they should when another process publishes or moves an alias.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../engine/registry/fixtures.js';
import { publishModel } from '../engine/registry/publish.js';
import { RegistryStore } from '../engine/registry/store.js';
import type { RunningServer } from '../engine/server.js';
import { server } from './helpers.js';

const model = (k: number): Uint8Array => new TextEncoder().encode(`export function predict(c) { return { y: Float64Array.from(c.x, (v) => v * ${k}) }; }\n`);

describe('deployments over a file:// registry', () => {
  let dir: string;
  let folder: string;
  let publisher: RegistryStore;
  let srv: RunningServer;

  const publish = (k: number): Promise<unknown> => publishModel({ artifact: model(k), flavor: 'js', name: 'scale', description: `y = ${k}x`, sample: [{ x: 1.5 }, { x: 2 }] }, publisher);
  const served = async (name: string): Promise<{ version: number; y: number }> => {
    const res = await fetch(`${srv.url}/models/${name}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"rows": [{"x": 1}]}' });
    const body = (await res.json()) as { predictions: { y: number }[]; model: { version: number } };
    return { version: body.model.version, y: body.predictions[0]!.y };
  };

  beforeAll(async () => {
    dir = await tempDir('airmail-file-registry-');
    folder = join(dir, 'registry');
    publisher = await RegistryStore.open(folder, { create: true });
    await publish(10);
    await publish(20);
    await publisher.setAlias('scale', 'champion', 1);
    await mkdir(join(dir, 'configs'));
    await writeFile(join(dir, 'configs', 'models.yaml'), `
deployments:
- {name: latest, model: {tags: {name: scale}}}
- {name: champion, model: {name: scale, alias: champion}}
- {name: pinned, model: {name: scale, version: 1}}
`);
    srv = await server({ configs: join(dir, 'configs'), threads: 0, registry: pathToFileURL(folder).href, modelHub: { pollMs: 100, log: () => undefined } });
    expect(srv.startErrors).toEqual([]);
  });

  afterAll(async () => {
    await srv?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('resolves tags to the newest, an alias to its version, a pin to itself', async () => {
    expect(await served('latest')).toEqual({ version: 2, y: 20 });
    expect(await served('champion')).toEqual({ version: 1, y: 10 });
    expect(await served('pinned')).toEqual({ version: 1, y: 10 });
  });

  it('follows an alias moved and a version published by another process, within 2 s', async () => {
    // A second store object on the same folder stands for another process.
    const other = await RegistryStore.open(folder);
    const t0 = Date.now();
    await other.setAlias('scale', 'champion', 2);
    await publishModel({ artifact: model(30), flavor: 'js', name: 'scale', description: 'y = 30x', sample: [{ x: 1 }] }, other);
    await waitFor(async () => (await served('latest')).version === 3 && (await served('champion')).version === 2);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(await served('latest')).toEqual({ version: 3, y: 30 });
    expect(await served('champion')).toEqual({ version: 2, y: 20 });
    expect(await served('pinned')).toEqual({ version: 1, y: 10 });
    expect(srv.engine.models!.swaps.map((s) => `${s.from}→${s.to}`).sort()).toEqual(['scale@1→scale@2', 'scale@2→scale@3']);
  });
});

async function waitFor(cond: () => Promise<boolean>, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

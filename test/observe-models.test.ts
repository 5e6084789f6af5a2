/**
 * /metrics names the registry model version each binding serves, and counts
 * a live swap when a newer matching version is published.
 */
import { readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Observability } from '../engine/observe/index.js';
import { EngineMetrics } from '../engine/observe/metrics.js';
import { startRegistry, tempDir, type RunningRegistry } from '../engine/registry/fixtures.js';
import { buildPublishRequest } from '../engine/registry/publish.js';
import type { RunningServer } from '../engine/server.js';
import { RegistryClient } from '../registry-client/client.js';
import { BENCH, benchOrSkip, server } from './helpers.js';

const enabled = benchOrSkip();

const CONFIG = (bench: string): string => `
datasets:
  catalog: {path: ${bench}/catalog.arrow, key: sku_id}
  clients: {path: ${bench}/clients.arrow, key: client_id}
contexts:
  client: {dataset: clients, key: $client_id}
pipeline:
  name: scored
  item_type: sku_id
  initialization:
    includes: [{name: Static, parameters: {items: [1, 2, 3]}}]
    scores:
    - name: ModelScore
      as: psale_score
      parameters:
        model: {tags: {name: psale, stage: prod}}
        features: ${JSON.stringify(Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`c${i}`, `$client.c${i}`])))}
  return: [sku_id, score]
`;

describe.skipIf(!enabled)('model versions in /metrics', () => {
  let reg: RunningRegistry;
  let client: RegistryClient;
  let dir: string;
  let srv: RunningServer;
  const metrics = new EngineMetrics();

  const publish = async (file: string): Promise<number> => {
    const sample = (JSON.parse(readFileSync(join(BENCH, 'model_expectations.json'), 'utf8')) as { rows: { features: Record<string, number> }[] }).rows.map((r) => r.features);
    const req = await buildPublishRequest({ artifact: join(BENCH, file), flavor: 'onnx', name: 'psale', description: file, tags: { stage: 'prod' }, sample });
    return (await client.publish(req)).version;
  };
  const scrape = async (): Promise<string> => (await request(`${srv.url}/metrics`)).body.text();

  beforeAll(async () => {
    reg = await startRegistry();
    dir = await tempDir('airmail-observe-models-');
    client = new RegistryClient({ url: reg.url, cacheDir: join(dir, 'publisher-cache') });
    expect(await publish('psale_gbdt.onnx')).toBe(1);
    await mkdir(join(dir, 'configs'));
    await writeFile(join(dir, 'configs', 'scored.yaml'), CONFIG(BENCH));
    srv = await server({ configs: join(dir, 'configs'), registry: reg.url, threads: 1, observe: new Observability({ metrics }), modelHub: { cacheDir: join(dir, 'engine-cache'), log: () => undefined } });
    expect(srv.startErrors).toEqual([]);
  });
  afterAll(async () => {
    await srv?.close();
    await client?.close();
    await reg?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('shows the version in service, then counts the swap to a newer one', async () => {
    const before = await scrape();
    expect(before).toMatch(/airmail_model_info\{model="[^"]+",version="psale@1"\} 1/);
    expect(before).not.toContain('airmail_model_swaps_total{');
    expect(await publish('psale_mlp.onnx')).toBe(2);
    const until = Date.now() + 20_000;
    while (srv.engine.models!.swaps.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    const after = await scrape();
    expect(after).toMatch(/airmail_model_info\{model="[^"]+",version="psale@2"\} 1/);
    expect(after).not.toContain('version="psale@1"');
    expect(after).toMatch(/airmail_model_swaps_total\{model="[^"]+"\} 1/);
  });
});

/**
 * Model swaps and rejections are JSON log lines. They were plain text on stderr
 * (`model tags:name=affinity,stage=prod: affinity@1 → affinity@2`), the only
 * engine lines a log pipeline reading the JSON lines could not parse, so a swap
 * or a refused model version never reached it.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Observability } from '../engine/observe/index.js';
import { Logger } from '../engine/observe/logs.js';
import { startRegistry, tempDir, type RunningRegistry } from '../engine/registry/fixtures.js';
import { buildPublishRequest } from '../engine/registry/publish.js';
import type { RunningServer } from '../engine/server.js';
import { RegistryClient } from '../registry-client/client.js';
import { logisticModel } from '../scripts/onnx-builder.js';
import { server } from './helpers.js';

const CONFIG = `
pipeline:
  name: scored
  item_type: sku_id
  initialization:
    includes: [{name: Static, parameters: {items: [{sku_id: 1, price: 10}, {sku_id: 2, price: 20}]}}]
    scores:
    - {name: ModelScore, as: p, parameters: {model: {tags: {name: aff, stage: prod}}}}
`;

describe('model swaps in the JSON log', () => {
  let reg: RunningRegistry | undefined;
  let client: RegistryClient | undefined;
  let srv: RunningServer | undefined;
  let dir: string | undefined;
  afterAll(async () => {
    await srv?.close();
    await client?.close();
    await reg?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a swap is an info line and a refused version a warn line, each naming the model and the versions', async () => {
    reg = await startRegistry();
    dir = await tempDir('airmail-model-log-');
    client = new RegistryClient({ url: reg.url, cacheDir: join(dir, 'publisher-cache') });
    const publish = async (weights: number[], sample: Record<string, number>[]): Promise<void> => {
      await writeFile(join(dir!, 'm.onnx'), logisticModel(weights, 0));
      await client!.publish(await buildPublishRequest({ artifact: join(dir!, 'm.onnx'), flavor: 'onnx', name: 'aff', description: 'affinity', tags: { stage: 'prod' }, sample }));
    };
    await publish([0.1], [{ price: 1 }]);
    await mkdir(join(dir, 'configs'));
    await writeFile(join(dir, 'configs', 'scored.yaml'), CONFIG);
    const lines: Record<string, unknown>[] = [];
    const logger = new Logger({ level: 'info', sink: { write: (s: string) => lines.push(JSON.parse(s) as Record<string, unknown>) }, pretty: false });
    srv = await server({ configs: join(dir, 'configs'), registry: reg.url, threads: 0, observe: new Observability({ metrics: false, logger }), modelHub: { cacheDir: join(dir, 'engine-cache') } });
    expect(srv.startErrors).toEqual([]);
    const wait = async (ok: () => boolean): Promise<void> => {
      const until = Date.now() + 20_000;
      while (!ok() && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      logger.flush();
    };
    await publish([0.2], [{ price: 2 }]);
    await wait(() => srv!.engine.models!.swaps.length > 0);
    expect(lines.find((l) => l['event'] === 'swap')).toMatchObject({ level: 'info', model: expect.stringContaining('name=aff'), from: 'aff@1', to: 'aff@2', msg: expect.stringContaining('aff@1 → aff@2') });
    // Other inputs than the running pipelines were compiled against: refused for them, a warn line.
    await publish([0.2, 0.3], [{ price: 2, bonus: 1 }]);
    await wait(() => srv!.engine.models!.rejections.length > 0);
    expect(lines.find((l) => l['event'] === 'rejected')).toMatchObject({ level: 'warn', from: 'aff@2', to: 'aff@3', code: 'MODEL_LOAD_FAILED' });
  });
});

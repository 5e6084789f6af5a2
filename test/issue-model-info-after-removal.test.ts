/**
 * airmail_model_info says which model versions are in service. A model file whose only pipeline
 * was removed (or changed to score without it) used to stay listed, at its last version, for as
 * long as the server ran: a dashboard or alert reading it saw a model that nothing served.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Observability } from '../engine/observe/index.js';
import { EngineMetrics } from '../engine/observe/metrics.js';
import type { RunningServer } from '../engine/server.js';
import { demoConfigs, server } from './helpers.js';

let srv: RunningServer;
let dir: string;
const scrape = async (): Promise<string> => (await request(`${srv.url}/metrics`)).body.text();
const INFO = /airmail_model_info\{model="models\/psale_demo\.onnx",version="[0-9a-f]{12}"\} 1/;

describe('airmail_model_info after the pipeline scoring with a model file is removed', () => {
  beforeAll(async () => {
    dir = await demoConfigs();
    srv = await server({ configs: dir, threads: 1, reloadSettleMs: 0, observe: new Observability({ metrics: new EngineMetrics() }) });
  });
  afterAll(async () => {
    await srv?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('drops the model from the models in service', async () => {
    expect(await scrape()).toMatch(INFO);
    await rm(join(dir, 'complimentary_items.yaml'));
    for (let i = 0; i < 200 && srv.engine.snapshot.pipelines.has('complimentary_items'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(srv.engine.snapshot.pipelines.has('complimentary_items')).toBe(false);
    const after = await scrape();
    expect(after).not.toMatch(/airmail_model_info\{/);
    expect(after).toContain('airmail_pipeline_info{pipeline="MyPipeline"');
  });
});

/**
 * A rejected reload keeps the last good version serving what it validated. Models load lazily in
 * each worker: before, a worker that had not yet loaded the model read the file at its first
 * request, so overwriting the model with junk (the reload that followed was rejected, the old
 * version "kept") turned every request into 422 MODEL_LOAD_FAILED while /ready said 200. Now the
 * load pins the bytes it checked (a copy named by their sha256) and workers load that copy.
 */
import { appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { demoConfigs, server } from './helpers.js';

let srv: RunningServer | undefined;
afterAll(async () => srv?.close());

it('the model overwritten with junk on a fresh server (no request yet): the reload is rejected and requests still get the validated model', async () => {
  const configs = await demoConfigs();
  srv = await server({ configs, threads: 1, watch: false });
  expect(srv.startErrors).toEqual([]);
  const version = srv.engine.pipeline('complimentary_items').version;
  await writeFile(join(configs, 'models', 'psale_demo.onnx'), 'not an onnx model');
  await appendFile(join(configs, 'demo.yaml'), '\n# touched\n');
  const diags = await srv.engine.store.rescan();
  expect(diags.map((d) => d.code)).toContain('MODEL_LOAD_FAILED');
  expect(srv.engine.pipeline('complimentary_items').version).toBe(version);
  const res = await request(`${srv.url}/pipelines/complimentary_items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_id: 17, product_id: 42 }) });
  const body = (await res.body.json()) as { items: unknown[]; code?: string };
  expect(res.statusCode, JSON.stringify(body)).toBe(200);
  expect(body.items.length).toBe(10);
  expect((await request(`${srv.url}/ready`)).statusCode).toBe(200);
}, 60_000);

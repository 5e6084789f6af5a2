/**
 * POST /validate compiles the whole configs directory with the sent file in it: with 1,000
 * pipeline files about a second of the main thread each, so an anonymous client sending dry runs
 * back to back held the server, /health included, nearly all the time. Dry runs may take at most a
 * share of the main thread: after a costly one the next is a 503 OVERLOADED with Retry-After. The
 * bound is lowered here (PUBLIC_COMPILE_DUTY) so that a dry run over the demo configs counts as
 * costly; the arithmetic itself is in engine/reliability/duty.test.ts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PUBLIC_COMPILE_DUTY } from '../engine/reliability/duty.js';
import type { RunningServer } from '../engine/server.js';
import { demoConfigs, server } from './helpers.js';

let srv: RunningServer;
const defaults = { ...PUBLIC_COMPILE_DUTY };
beforeAll(async () => {
  srv = await server({ configs: await demoConfigs(), threads: 1, watch: false });
});
afterAll(async () => {
  await srv.close();
});
afterEach(() => void Object.assign(PUBLIC_COMPILE_DUTY, defaults));

describe('POST /validate', () => {
  it('by default a dry run over a small directory leaves no wait', async () => {
    const body = 'pipeline: {name: MyPipeline, item_type: sku_id, initialization: {includes: [{name: Static, parameters: {items: [1]}}]}}\n';
    for (let i = 0; i < 5; i++) expect((await fetch(`${srv.url}/validate`, { method: 'POST', headers: { 'content-type': 'application/yaml' }, body })).status).toBe(200);
  });

  it('after a costly dry run the next is a 503 with Retry-After; after the wait it runs', async () => {
    Object.assign(PUBLIC_COMPILE_DUTY, { share: 0.01, freeMs: 0 });
    const body = 'pipeline: {name: MyPipeline, item_type: sku_id, initialization: {includes: [{name: Static, parameters: {items: [1]}}]}}\n';
    const send = (): Promise<Response> => fetch(`${srv.url}/validate`, { method: 'POST', headers: { 'content-type': 'application/yaml' }, body });
    expect((await send()).status).toBe(200);
    const second = await send();
    expect(second.status).toBe(503);
    expect(await second.json()).toMatchObject({ valid: false, error: true, code: 'OVERLOADED' });
    const wait = Number(second.headers.get('retry-after-ms'));
    expect(wait).toBeGreaterThan(0);
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    await new Promise((r) => setTimeout(r, wait + 20));
    expect((await send()).status).toBe(200);
  });
});

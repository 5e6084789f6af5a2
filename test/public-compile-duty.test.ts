/**
 * The compiles of public routes run on the main thread. POST /validate compiles the whole configs
 * directory with the sent file in it (about a second with 1,000 pipeline files); POST /execute
 * compiles what it is sent (100,000 Static items under the 1 MiB body limit: most of a second).
 * Sent back to back (/execute with varied texts, so no compile cache hit), they held the server,
 * /health included, nearly all the time. Each may now take at most a share of the main thread:
 * after a costly one the next is a 503 OVERLOADED with Retry-After. The bound is lowered here
 * (PUBLIC_COMPILE_DUTY) so that a small compile counts as costly; the arithmetic itself is in
 * engine/reliability/duty.test.ts.
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

/** A 503 OVERLOADED with both retry headers; the wait it asks for, in ms. */
async function refused(r: Response, extra: Record<string, unknown> = {}): Promise<number> {
  expect(r.status).toBe(503);
  expect(await r.json()).toMatchObject({ ...extra, error: true, code: 'OVERLOADED' });
  expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  const wait = Number(r.headers.get('retry-after-ms'));
  expect(wait).toBeGreaterThan(0);
  return wait;
}

describe('POST /validate', () => {
  const body = 'pipeline: {name: MyPipeline, item_type: sku_id, initialization: {includes: [{name: Static, parameters: {items: [1]}}]}}\n';
  const send = (): Promise<Response> => fetch(`${srv.url}/validate`, { method: 'POST', headers: { 'content-type': 'application/yaml' }, body });

  it('by default a dry run over a small directory leaves no wait', async () => {
    for (let i = 0; i < 5; i++) expect((await send()).status).toBe(200);
  });

  it('after a costly dry run the next is a 503 with Retry-After; after the wait it runs', async () => {
    Object.assign(PUBLIC_COMPILE_DUTY, { share: 0.01, freeMs: 0 });
    expect((await send()).status).toBe(200);
    const wait = await refused(await send(), { valid: false });
    await new Promise((r) => setTimeout(r, wait + 20));
    expect((await send()).status).toBe(200);
  });
});

describe('POST /execute', () => {
  const sent = (n: number): string => JSON.stringify({ pipeline: { name: `p${n}`, item_type: 'sku_id', initialization: { includes: [{ name: 'Static', parameters: { items: [n, n + 1, n + 2] } }] } }, inputs: {} });
  const execute = (body: string): Promise<Response> => fetch(`${srv.url}/execute`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

  it('by default, small compiles back to back never wait', async () => {
    for (let i = 0; i < 10; i++) expect((await execute(sent(100 + i))).status).toBe(200);
  });

  it('after a costly compile the next miss is a 503, a cached pipeline is not; after the wait it compiles', async () => {
    expect((await execute(sent(1))).status).toBe(200);
    Object.assign(PUBLIC_COMPILE_DUTY, { share: 0.01, freeMs: 0 });
    expect((await execute(sent(2))).status).toBe(200);
    const wait = await refused(await execute(sent(3)));
    expect((await execute(sent(1))).status).toBe(200); // compiled before: runs at once
    await new Promise((r) => setTimeout(r, wait + 20));
    expect((await execute(sent(3))).status).toBe(200);
  });
});

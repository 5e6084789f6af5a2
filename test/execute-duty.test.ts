/**
 * POST /execute compiles the pipeline it is sent on the main thread: one of 100,000 Static items
 * (under the 1 MiB body limit) held it for most of a second, and an anonymous client varying the
 * text (no compile cache hit) could hold the server back to back. Compiles that miss the cache may
 * take at most a share of the main thread: after a costly one, the next miss is a 503 OVERLOADED
 * with Retry-After; a pipeline compiled before runs at once. The bound is lowered here
 * (PUBLIC_COMPILE_DUTY) so that a small compile counts as costly.
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

const sent = (n: number): string => JSON.stringify({ pipeline: { name: `p${n}`, item_type: 'sku_id', initialization: { includes: [{ name: 'Static', parameters: { items: [n, n + 1, n + 2] } }] } }, inputs: {} });
const execute = (body: string): Promise<Response> => fetch(`${srv.url}/execute`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

describe('POST /execute compiles', () => {
  it('by default, small compiles back to back never wait', async () => {
    for (let i = 0; i < 10; i++) expect((await execute(sent(100 + i))).status).toBe(200);
  });

  it('after a costly compile the next miss is a 503, a cached pipeline is not; after the wait it compiles', async () => {
    expect((await execute(sent(1))).status).toBe(200);
    Object.assign(PUBLIC_COMPILE_DUTY, { share: 0.01, freeMs: 0 });
    expect((await execute(sent(2))).status).toBe(200);
    const second = await execute(sent(3));
    expect(second.status).toBe(503);
    expect(await second.json()).toMatchObject({ error: true, code: 'OVERLOADED' });
    const wait = Number(second.headers.get('retry-after-ms'));
    expect(wait).toBeGreaterThan(0);
    expect((await execute(sent(1))).status).toBe(200); // compiled before: runs at once
    await new Promise((r) => setTimeout(r, wait + 20));
    expect((await execute(sent(3))).status).toBe(200);
  });
});

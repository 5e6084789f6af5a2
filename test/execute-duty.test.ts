/**
 * POST /execute compiles the pipeline it is sent on the main thread: one of 100,000 Static items
 * (under the 1 MiB body limit) held it for most of a second, and an anonymous client varying the
 * text (no compile cache hit) could hold the server back to back. Compiles that miss the cache may
 * take at most a quarter of the main thread: after a long one, the next miss within 3t is a 503
 * OVERLOADED with Retry-After; cached ones (the same text again) and short ones never wait.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { demoConfigs, server } from './helpers.js';

let srv: RunningServer;
beforeAll(async () => {
  srv = await server({ configs: await demoConfigs(), threads: 1, watch: false });
});
afterAll(async () => {
  await srv.close();
});

const big = (tag: number): string => JSON.stringify({
  pipeline: { name: `big${tag}`, item_type: 'sku_id', initialization: { includes: [{ name: 'Static', parameters: { items: Array.from({ length: 100_000 }, (_, i) => i + 1) } }] }, operations: [{ name: 'Limit', parameters: { n: 3 } }] },
  inputs: {},
});
const small = JSON.stringify({ pipeline: { name: 'small', item_type: 'sku_id', initialization: { includes: [{ name: 'Static', parameters: { items: [1, 2, 3] } }] } }, inputs: {} });
const execute = (body: string): Promise<Response> => fetch(`${srv.url}/execute`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

describe('POST /execute compiles', () => {
  it('a long compile is followed by a 503 for the next miss, not for a cached pipeline; after the wait it compiles', async () => {
    expect((await execute(small)).status).toBe(200);
    const t0 = performance.now();
    const first = await execute(big(1));
    expect(first.status).toBe(200);
    expect(performance.now() - t0, 'compiling 100,000 Static items must take long enough to be limited').toBeGreaterThan(100);
    const second = await execute(big(2));
    expect(second.status).toBe(503);
    expect(await second.json()).toMatchObject({ error: true, code: 'OVERLOADED' });
    const wait = Number(second.headers.get('retry-after-ms'));
    expect(wait).toBeGreaterThan(0);
    expect((await execute(small)).status).toBe(200); // cached: runs at once
    await new Promise((r) => setTimeout(r, wait + 20));
    expect((await execute(big(2))).status).toBe(200);
  });
});

/**
 * A pipeline holds at most MAX_STEPS steps per list. `/execute` is public and compiles the pipeline
 * it is sent on the main thread: 20,000 `Limit` steps (an 860 KB body) held it for 0.7–2 s, and a
 * refusal still compiled every step for its own problems. Now such a list is one 422, found first.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_STEPS } from '../engine/config/schema.js';
import type { RunningServer } from '../engine/server.js';
import { demoConfigs, server } from './helpers.js';

let srv: RunningServer;

beforeAll(async () => {
  srv = await server({ configs: await demoConfigs(), threads: 1, watch: false });
  expect(srv.startErrors).toEqual([]);
});
afterAll(async () => srv?.close());

const sent = (name: string, n: number): string => JSON.stringify({
  pipeline: { name, item_type: 'sku_id', initialization: { includes: [{ name: 'Static', parameters: { items: [1, 2, 3] } }] }, operations: Array.from({ length: n }, () => ({ name: 'Limit', parameters: { n: 5 } })) },
  inputs: {},
});

async function execute(body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await request(`${srv.url}/execute`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}

describe('steps per list are bounded', () => {
  it(`${MAX_STEPS} steps run; one more is a 422 naming the list`, async () => {
    const ok = await execute(sent('at_limit', MAX_STEPS));
    expect(ok.status).toBe(200);
    expect(ok.json['items']).toHaveLength(3);
    const over = await execute(sent('over_limit', MAX_STEPS + 1));
    expect(over.status).toBe(422);
    expect(String(over.json['reason'])).toContain(`/pipeline/operations pipeline 'over_limit': 'operations' must NOT have more than ${MAX_STEPS} items`);
  });

  it('20,000 steps are refused without compiling them (the event loop stays free)', async () => {
    await execute(sent('warm', 2));
    const h = monitorEventLoopDelay({ resolution: 10 });
    h.enable();
    const r = await execute(sent('huge', 20_000));
    h.disable();
    expect(r.status).toBe(422);
    expect((r.json['errors'] as unknown[]).length).toBe(1);
    // Compiled, the steps held the loop 0.7–2 s.
    expect(h.max / 1e6).toBeLessThan(400);
  });
});

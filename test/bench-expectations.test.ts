/**
 * Acceptance on the standard workload: complimentary_items with the GBDT,
 * through HTTP and the worker pool, returns exactly the expected items.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { BENCH, ROOT, benchOrSkip, server } from './helpers.js';

interface Expected { client_id: number; product_id: number; items: { sku_id: number; product_id: number; score: number }[] }

const enabled = benchOrSkip();
let srv: RunningServer | undefined;

beforeAll(async () => {
  if (enabled) srv = await server({ configs: join(ROOT, 'loadtest/bench-configs'), watch: false });
});
afterAll(async () => srv?.close());

/** Same skus in the same order, except neighbours whose scores differ by < 1e-6 may swap; scores within 1e-5. */
export function assertSameItems(got: { sku_id: number; score: number }[], want: { sku_id: number; score: number }[]): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    if (g.sku_id !== w.sku_id) {
      const twin = want.findIndex((x) => x.sku_id === g.sku_id);
      expect(twin, `sku ${g.sku_id} at ${i} is not expected`).toBeGreaterThanOrEqual(0);
      expect(Math.abs(want[twin]!.score - w.score)).toBeLessThan(1e-6);
    }
    expect(Math.abs(g.score - w.score)).toBeLessThan(1e-5);
  }
}

describe.runIf(enabled)('complimentary_items on the standard workload', () => {
  const expected = enabled ? (JSON.parse(readFileSync(join(BENCH, 'pipeline_expectations_sample.json'), 'utf8')) as Expected[]) : [];
  it.each(expected.map((e, i) => [i, e] as const))('request %i matches the expectations', async (_i, e) => {
    const res = await request(`${srv!.url}/pipelines/complimentary_items`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_id: e.client_id, product_id: e.product_id }),
    });
    const body = (await res.body.json()) as { items: { sku_id: number; product_id: number; score: number }[]; error: boolean };
    expect(res.statusCode).toBe(200);
    expect(body.error).toBe(false);
    assertSameItems(body.items, e.items);
    for (const [k, it] of body.items.entries()) expect(it.product_id).toBe(e.items.find((x) => x.sku_id === it.sku_id)?.product_id ?? e.items[k]!.product_id);
  });
});

describe.runIf(enabled)('complimentary_items_mlp: the planned path equals the literal one', () => {
  // The planned path scores memoised candidates (inputs kept per candidate set, the model maybe
  // split); ?debug=true runs the literal order, which gathers every input and runs the model as
  // published. Requests repeat so the second answer comes from the memo.
  const post = async (body: object, debug: boolean) => {
    const res = await request(`${srv!.url}/pipelines/complimentary_items_mlp${debug ? '?debug=true' : ''}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.statusCode).toBe(200);
    return ((await res.body.json()) as { items: { sku_id: number; score: number }[] }).items;
  };
  it('gives the same items and scores for clients in every warehouse and size, twice each', async () => {
    const clients = [3, 17, 256, 1024, 4097, 9001, 15000, 19999];
    for (const [i, client_id] of clients.entries()) {
      const body = { client_id, product_id: 1 + ((i * 1231) % 9000) };
      const literal = await post(body, true);
      expect(literal.length).toBeGreaterThan(0);
      for (let round = 0; round < 2; round++) assertSameItems(await post(body, false), literal);
    }
  });
});

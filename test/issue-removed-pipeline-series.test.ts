/**
 * Found by a soak that added and removed a pipeline through the admin API every few seconds: a
 * removed pipeline kept its ~40 series in /metrics (requests, latency buckets, per-step latency and
 * rows) and its row in /ui/stats for good, so names that come and go (experiments, one per A/B
 * test) grew both without bound. A pipeline no longer served leaves them at the reload that
 * removed it; served again, it starts from zero.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { server } from './helpers.js';

const TOKEN = 'removed-series-token';
let srv: RunningServer;

async function call(method: string, path: string, body?: unknown): Promise<number> {
  const res = await request(`${srv.url}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  await res.body.text();
  return res.statusCode;
}
const series = (text: string): string[] => text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));

beforeAll(async () => {
  const configs = await mkdtemp(join(tmpdir(), 'airmail-removed-series-'));
  await writeFile(join(configs, 'keep.yaml'), 'pipeline: {name: keep, item_type: id, initialization: {includes: [{name: Static, parameters: {items: [1, 2, 3]}}]}, operations: [{name: Limit, parameters: {n: 2}}]}\n');
  srv = await server({ configs, adminToken: TOKEN, threads: 1 });
  expect(srv.startErrors).toEqual([]);
}, 30_000);
afterAll(async () => srv?.close());

describe('a pipeline removed through the admin API', () => {
  it('leaves /metrics and /ui/stats, however many come and go', async () => {
    const cycle = async (name: string): Promise<void> => {
      expect(await call('POST', '/pipelines', { pipeline: { name, item_type: 'id', initialization: { includes: [{ name: 'Static', parameters: { items: [4, 5, 6] } }] }, operations: [{ name: 'Limit', parameters: { n: 1 } }] } })).toBe(201);
      expect(await call('POST', `/pipelines/${name}`, {})).toBe(200);
      expect(await call('GET', `/pipelines/${name}?debug=true`)).toBe(200);
      expect(await call('DELETE', `/pipelines/${name}`)).toBe(204);
    };
    expect(await call('POST', '/pipelines/keep', {})).toBe(200);
    await cycle('exp_first');
    const after1 = series(await (await request(`${srv.url}/metrics`)).body.text()).length;
    for (let i = 0; i < 30; i++) await cycle(`exp_${i}`);
    const text = await (await request(`${srv.url}/metrics`)).body.text();
    expect(text).not.toContain('pipeline="exp_');
    // The kept pipeline's series stay; the count does not grow with the names that came and went.
    expect(text).toMatch(/airmail_requests_total\{pipeline="keep",status="200"\} 1/);
    expect(series(text).length).toBeLessThanOrEqual(after1 + 2);
    const stats = (await (await request(`${srv.url}/ui/stats`)).body.json()) as { pipelines: Record<string, unknown> | { pipeline: string }[]; operators: { pipeline: string }[] };
    const names = Array.isArray(stats.pipelines) ? stats.pipelines.map((p) => p.pipeline) : Object.keys(stats.pipelines);
    expect(names).toEqual(['keep']);
    expect(stats.operators.map((o) => o.pipeline).filter((p) => p !== 'keep')).toEqual([]);
    // Back again, it is counted from zero.
    await cycle('exp_first');
    expect(await call('POST', '/pipelines', { pipeline: { name: 'exp_first', item_type: 'id', initialization: { includes: [{ name: 'Static', parameters: { items: [4] } }] } } })).toBe(201);
    expect(await call('POST', '/pipelines/exp_first', {})).toBe(200);
    expect(await (await request(`${srv.url}/metrics`)).body.text()).toMatch(/airmail_requests_total\{pipeline="exp_first",status="200"\} 1\n/);
  }, 60_000);
});

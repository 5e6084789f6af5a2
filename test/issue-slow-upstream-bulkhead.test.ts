/**
 * One pipeline's slow upstream must not take the workers from the others. A worker runs one task
 * at a time and a task waiting on a remote fetch holds its worker idle: on two workers, an
 * HttpSource answering in 400 ms at 40 req/s held both, and an unrelated Lookup pipeline was
 * answered with 503s (1,752 of 1,935 in the open-loop measurement; loadtest/bulkhead.ts). Now the
 * slow pipeline holds at most half the workers (bulkhead.ts) and the excess of it alone is refused
 * fast with a 503 that names it and its limit.
 */
import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { slowUpstreamWorld, type SlowUpstreamWorld } from './slow-upstream-world.js';

let w: SlowUpstreamWorld;

beforeAll(async () => {
  w = await slowUpstreamWorld(`- name: capped
  item_type: sku_id
  max_workers: 1
  initialization:
    includes: [{name: Lookup, parameters: {dataset: catalog, where: {dept: $dept}}}]
`);
});

afterAll(async () => {
  await w?.close();
});

async function post(name: string, body: object): Promise<{ status: number; json: Record<string, unknown>; headers: Record<string, unknown> }> {
  const res = await request(`${w.srv.url}/pipelines/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown>, headers: res.headers };
}

/** Open loop for `ms`: a slow request every 25 ms, a fast one every 10 ms; every answer kept. */
async function mixed(ms: number): Promise<{ slow: Awaited<ReturnType<typeof post>>[]; fast: Awaited<ReturnType<typeof post>>[] }> {
  const slow: Promise<Awaited<ReturnType<typeof post>>>[] = [];
  const fast: Promise<Awaited<ReturnType<typeof post>>>[] = [];
  let user = 0;
  const a = setInterval(() => slow.push(post('slow', { user: ++user })), 25);
  const b = setInterval(() => fast.push(post('fast', { dept: user % 10 })), 10);
  await new Promise((r) => setTimeout(r, ms));
  clearInterval(a);
  clearInterval(b);
  return { slow: await Promise.all(slow), fast: await Promise.all(fast) };
}

const count = (rs: { status: number }[], s: number): number => rs.filter((r) => r.status === s).length;

it('a fast pipeline keeps being served while another one waits on a slow upstream', async () => {
  // Healthy upstream first: the slow pipeline uses the workers freely.
  const healthy = await mixed(1000);
  expect(count(healthy.slow, 200)).toBe(healthy.slow.length);
  expect(count(healthy.fast, 200)).toBe(healthy.fast.length);

  w.delayMs = 400;
  const slowed = await mixed(3000);
  // The fast pipeline: not one refused or timed out (without the bulkhead most were 503s).
  expect(count(slowed.fast, 503)).toBe(0);
  expect(count(slowed.fast, 504)).toBe(0);
  expect(count(slowed.fast, 200)).toBe(slowed.fast.length);
  // The slow pipeline's excess is refused fast, naming it and its limit, with Retry-After.
  const refused = slowed.slow.filter((r) => r.status === 503);
  expect(refused.length).toBeGreaterThan(slowed.slow.length / 2);
  expect(count(slowed.slow, 200)).toBeGreaterThan(0);
  expect(refused[0]!.json['code']).toBe('OVERLOADED');
  expect(refused[0]!.json['reason']).toMatch(/pipeline 'slow' holds its limit of 1 of 2 worker/);
  expect(refused[0]!.headers['retry-after']).toBeDefined();
  w.delayMs = 2;
}, 30_000);

it('max_workers is a pipeline setting checked at load', async () => {
  expect((await post('capped', { dept: 1 })).status).toBe(200);
  const res = await request(`${w.srv.url}/validate`, { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: 'pipeline: {name: bad, item_type: id, max_workers: 0, initialization: {includes: [{name: Static, parameters: {items: [1]}}]}}\n' });
  const text = await res.body.text();
  expect(res.statusCode).toBe(422);
  expect(text).toMatch(/max_workers/);
});

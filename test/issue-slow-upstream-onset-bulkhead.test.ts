/**
 * The moment an upstream turns slow. The bulkheads learned that a pipeline waits on remote sources
 * only from its finished runs, and no run finishes for as long as the slow upstream takes: on two
 * workers the next request of the slow pipeline took the last free worker, both held slow runs, and
 * the fast pipeline beside it met the pool-wide shed (0-34 of 1,600 refused and a p99 of 0.4-0.6 s
 * in loadtest/bulkhead.ts). Now a running task that has waited on a fetch for over 5 ms counts at
 * once (engine/fetch-slots.ts): the upstream never sees more than one request of it at a time
 * while the fast pipeline is active, and the fast pipeline is not refused.
 */
import { request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { slowUpstreamWorld, type SlowUpstreamWorld } from './slow-upstream-world.js';

let w: SlowUpstreamWorld;

beforeAll(async () => {
  w = await slowUpstreamWorld();
});

afterAll(async () => {
  await w?.close();
});

async function post(name: string, body: object): Promise<number> {
  const res = await request(`${w.srv.url}/pipelines/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await res.body.dump();
  return res.statusCode;
}

/** Open loop for `ms`: a slow request every 25 ms, a fast one every 10 ms; the upstream's concurrency counted meanwhile. */
async function mixed(ms: number): Promise<{ slow: number[]; fast: number[]; most: number }> {
  const slow: Promise<number>[] = [];
  const fast: Promise<number>[] = [];
  let user = 0;
  w.most = w.inFlight;
  const a = setInterval(() => slow.push(post('slow', { user: ++user })), 25);
  const b = setInterval(() => fast.push(post('fast', { dept: user % 10 })), 10);
  await new Promise((r) => setTimeout(r, ms));
  clearInterval(a);
  clearInterval(b);
  const held = w.most;
  return { slow: await Promise.all(slow), fast: await Promise.all(fast), most: held };
}

it('when the upstream turns slow, the slow pipeline does not take the last free worker before any of its runs finished', async () => {
  const healthy = await mixed(1000);
  expect(healthy.slow.every((s) => s === 200)).toBe(true);
  expect(healthy.fast.every((s) => s === 200)).toBe(true);

  w.delayMs = 400;
  // Shorter than a slow answer and a bit more: the moment the average of finished runs cannot know yet.
  const onset = await mixed(1200);
  w.delayMs = 2;
  // Was 2: the second slow request, 25 ms after the first, took the other worker.
  expect(onset.most).toBe(1);
  expect(onset.fast.filter((s) => s !== 200)).toEqual([]);
  expect(onset.slow.filter((s) => s === 200).length).toBeGreaterThan(0);
}, 30_000);

/**
 * Regression (a batch whose answer had no bound): every element of a batch may answer many items
 * (a pipeline without a Limit, or whose Limit is an input: `n: $n`), and the batch's answer held
 * them all. 1,000 elements of a 100,000-row pipeline made one unauthenticated request hold the
 * main thread for 20 s, grow the process to 2.9 GB and end in `500 INTERNAL "Invalid string
 * length"` (the answer was over V8's largest string), after running every element for nothing.
 * Now a batch's answer holds at most MAX_BATCH_ITEMS items: once its answered elements hold that
 * many, the elements not started yet are not run and are each a 413 `BATCH_TOO_LARGE` entry.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import * as batch from '../engine/batch.js';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

const ROWS = 25_000;
const MAX_BATCH_ITEMS = 1_000_000; // batch.MAX_BATCH_ITEMS, checked below
let dir: string;
let srv: RunningServer;

beforeAll(async () => {
  dir = await tempDir('airmail-batch-bound-');
  await writeFile(join(dir, 'rows.json'), JSON.stringify(Array.from({ length: ROWS }, (_, i) => ({ id: i, g: i % 7 }))));
  await writeFile(join(dir, 'p.yaml'), `datasets:
  rows: {path: rows.json, key: id}
operators:
  All: {use: Lookup, parameters: {dataset: rows, where: {}}}
pipeline:
  name: everything
  item_type: id
  inputs: {n: {type: integer, default: 10}}
  initialization: {includes: [All]}
  operations:
  - {name: Limit, parameters: {n: $n}}
`);
  srv = await server({ configs: dir, threads: 1 });
  expect(srv.startErrors).toEqual([]);
});

afterAll(async () => {
  await srv?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

interface Entry { index: number; status: number; items: unknown[]; code?: string; reason?: string }

it(`holds at most ${MAX_BATCH_ITEMS} items: the elements past it are 413 entries, not run`, async () => {
  const elements = Math.ceil(MAX_BATCH_ITEMS / ROWS) + 20;
  const res = await fetch(`${srv.url}/pipelines/everything/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-airmail-deadline-ms': '60000' },
    body: JSON.stringify({ requests: Array.from({ length: elements }, () => ({ n: 1_000_000_000 })) }),
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { results: Entry[]; failed: number };
  expect(body.results).toHaveLength(elements);
  const served = body.results.filter((r) => r.status === 200);
  const items = served.reduce((n, r) => n + r.items.length, 0);
  // One worker: the element in flight when the bound is reached may pass it, no more.
  expect(items).toBeGreaterThanOrEqual(MAX_BATCH_ITEMS);
  expect(items).toBeLessThanOrEqual(MAX_BATCH_ITEMS + ROWS);
  const refused = body.results.filter((r) => r.status !== 200);
  expect(refused.length).toBeGreaterThanOrEqual(19);
  expect(body.failed).toBe(refused.length);
  for (const r of refused) {
    expect(r.status).toBe(413);
    expect(r.code).toBe('BATCH_TOO_LARGE');
    expect(r.items).toEqual([]);
    expect(r.reason).toMatch(/already holds .* items .*at most 1000000.*not run/);
  }
  // The served ones come first, in order; the server answers at once afterwards.
  expect(body.results.slice(0, served.length).every((r) => r.status === 200)).toBe(true);
  expect((await fetch(`${srv.url}/health`)).status).toBe(200);
  expect(batch.MAX_BATCH_ITEMS).toBe(MAX_BATCH_ITEMS);
}, 60_000);

it('leaves a batch of small answers alone', async () => {
  const res = await fetch(`${srv.url}/pipelines/everything/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ requests: Array.from({ length: 1000 }, () => ({ n: 3 })) }) });
  const body = (await res.json()) as { results: Entry[]; failed: number };
  expect(body.failed).toBe(0);
  expect(body.results.every((r) => r.items.length === 3)).toBe(true);
}, 60_000);

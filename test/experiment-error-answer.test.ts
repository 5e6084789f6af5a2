/**
 * An experiment's error answer once its arm was picked (a 504 of the arm, an operator's 500) lacked the
 * `experiment` field its 200 answers carry, so a client logging exposures lost the arm of exactly the
 * failing requests. Single and batch answers carry it now; a refusal before an arm was picked does not.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { ROOT, server, tempDir } from './helpers.js';

let srv: RunningServer;
const post = async (path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> => {
  const r = await fetch(`${srv.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};

beforeAll(async () => {
  const dir = await tempDir('airmail-x-error-');
  await writeFile(join(dir, 'items.json'), JSON.stringify([{ sku: 1 }, { sku: 2 }]));
  await writeFile(join(dir, 'p.yaml'), `operator_paths: [${JSON.stringify(join(ROOT, 'test/fixtures/operators'))}]
datasets: {items: {path: items.json}}
pipelines:
- {name: slow_arm, item_type: sku, inputs: {u: {type: integer}}, initialization: {includes: [{name: Lookup, parameters: {dataset: items}}]}, operations: [{name: Fault, parameters: {mode: sleep, ms: 2000}}]}
- {name: fine_arm, item_type: sku, inputs: {u: {type: integer}}, initialization: {includes: [{name: Lookup, parameters: {dataset: items}}]}}
experiments:
- {name: feed, unit: $u, arms: [{pipeline: slow_arm, weight: 1}, {pipeline: fine_arm, weight: 1}]}
`);
  srv = await server({ configs: dir, threads: 1 });
  expect(srv.startErrors).toEqual([]);
});
afterAll(async () => {
  await srv?.close();
});

it('a 504 of the picked arm names the arm and carries experiment, single and in a batch', async () => {
  const deadline = { 'x-airmail-deadline-ms': '200', 'x-airmail-arm': 'slow_arm' };
  const one = await post('/pipelines/feed', { u: 1 }, deadline);
  expect(one.status).toBe(504);
  expect(one.body).toMatchObject({ error: true, code: 'DEADLINE_EXCEEDED', pipeline: 'slow_arm', experiment: { name: 'feed', arm: 'slow_arm', assignment: 'forced' } });
  const batch = await post('/pipelines/feed/batch', { requests: [{ u: 2 }, { u: 'x' }] }, deadline);
  const [a, b] = batch.body['results'] as Record<string, unknown>[];
  expect(a).toMatchObject({ status: 504, pipeline: 'slow_arm', experiment: { name: 'feed', arm: 'slow_arm' } });
  // Refused before an arm was picked (its unit is not an integer): no experiment to name.
  expect(b).toMatchObject({ status: 422, pipeline: 'feed' });
  expect(b!['experiment']).toBeUndefined();
}, 20_000);

/**
 * A batch body of the wrong shape pointed at `/requests` whatever was wrong (`{"requests": [], "debug": 1}`
 * too), and its `errors` entry used `pointer` where every other input error uses `path`: it is an
 * INPUT_INVALID, so it now reads as one, `path` pointing at what is wrong.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

let srv: RunningServer;
const batch = async (body: string): Promise<{ status: number; body: Record<string, unknown> }> => {
  const r = await fetch(`${srv.url}/pipelines/p/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};

beforeAll(async () => {
  const dir = await tempDir('airmail-batch-shape-');
  await writeFile(join(dir, 'items.json'), JSON.stringify([{ sku: 1 }]));
  await writeFile(join(dir, 'p.yaml'), 'datasets: {items: {path: items.json}}\npipeline: {name: p, item_type: sku, initialization: {includes: [{name: Lookup, parameters: {dataset: items}}]}}\n');
  srv = await server({ configs: dir, threads: 0 });
  expect(srv.startErrors).toEqual([]);
});
afterAll(async () => {
  await srv?.close();
});

it.each([
  ['{"requests": [], "debug": 1}', '/debug'],
  ['{"requests": [], "a/b~c": 1}', '/a~1b~0c'],
  ['{"requests": {}}', '/requests'],
  ['{}', '/requests'],
  ['[1]', ''],
])('%s: a 422 INPUT_INVALID whose errors entry is {path: %j, message}, as an input error\'s', async (body, path) => {
  const r = await batch(body);
  expect(r.status).toBe(422);
  expect(r.body['code']).toBe('INPUT_INVALID');
  const errors = r.body['errors'] as Record<string, unknown>[];
  expect(errors).toEqual([{ path, message: r.body['reason'] }]);
});

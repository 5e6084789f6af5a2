/**
 * POST /validate compiles the whole configs directory with the sent file in it: with hundreds of
 * pipeline files a second of the main thread each, so an anonymous client sending dry runs back to
 * back held the server, /health included, nearly all the time. A dry run may take at most a
 * quarter of the main thread: after a long one the next is a 503 OVERLOADED with Retry-After.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

let srv: RunningServer;
beforeAll(async () => {
  const dir = await tempDir('airmail-many-');
  await writeFile(join(dir, 'items.json'), JSON.stringify(Array.from({ length: 50 }, (_, i) => ({ id: i + 1, w: i }))));
  await writeFile(join(dir, 'shared.yaml'), 'datasets:\n  items: {path: items.json, key: id}\n');
  for (let i = 0; i < 800; i++) {
    await writeFile(join(dir, `p${i}.yaml`), `pipeline: {name: p${i}, item_type: id, items: items, initialization: {includes: [{name: Lookup, parameters: {dataset: items}}]}, operations: [{name: Sort, parameters: {by: w, desc: true}}, {name: Limit, parameters: {n: ${1 + (i % 9)}}}]}\n`);
  }
  srv = await server({ configs: dir, threads: 1, watch: false });
}, 120_000);
afterAll(async () => {
  await srv.close();
});

describe('POST /validate over a large configs directory (800 pipeline files)', () => {
  it('a second dry run right after a long one is a 503 with Retry-After; after the wait it runs', async () => {
    const body = 'pipeline: {name: p0, item_type: id, items: items, initialization: {includes: [{name: Lookup, parameters: {dataset: items}}]}}\n';
    const send = (): Promise<Response> => fetch(`${srv.url}/validate`, { method: 'POST', headers: { 'content-type': 'application/yaml' }, body });
    const t0 = performance.now();
    const first = await send();
    const took = performance.now() - t0;
    expect(first.status).toBe(200);
    expect(took, 'the dry run over 800 files must take long enough to be limited').toBeGreaterThan(100);
    const second = await send();
    expect(second.status).toBe(503);
    const json = (await second.json()) as Record<string, unknown>;
    expect(json).toMatchObject({ valid: false, error: true, code: 'OVERLOADED' });
    const wait = Number(second.headers.get('retry-after-ms'));
    expect(wait).toBeGreaterThan(0);
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    await new Promise((r) => setTimeout(r, wait + 20));
    expect((await send()).status).toBe(200);
  });
});

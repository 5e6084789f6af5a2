/**
 * Regression: in `?debug=true` an exclude step's `kept`/`keptTotal` listed the ids its source
 * returned (the ones it excludes, not keeps) and `removed` those of them that were candidates.
 * Every source step now lists what it returned as `returned`/`returnedTotal`; an exclude's `kept`
 * are the candidates it left (as an operation's are the rows still alive after it) and `removed`
 * the candidates it took out.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

let dir: string;
let srv: RunningServer;

beforeAll(async () => {
  dir = await tempDir('airmail-debug-exclude-');
  await mkdir(join(dir, 'configs'));
  await writeFile(join(dir, 'configs', 'items.json'), JSON.stringify([1, 2, 3, 4, 5, 9].map((id) => ({ id, w: id }))));
  await writeFile(join(dir, 'configs', 'p.yaml'), `datasets:
  items: {path: items.json, key: id}
pipeline:
  name: p
  item_type: id
  initialization:
    includes:
    - {name: Static, parameters: {items: [1, 2, 3]}}
    - {name: Static, parameters: {items: [3, 4, 5]}}
    excludes:
    - {name: Static, parameters: {items: [4, 9]}}
`);
  srv = await server({ configs: join(dir, 'configs'), threads: 0 });
  expect(srv.startErrors).toEqual([]);
});
afterAll(async () => {
  await srv?.close();
  await rm(dir, { recursive: true, force: true });
});

type Step = { phase: string; kept: unknown[]; keptTotal: number; removed: unknown[]; removedTotal: number; returned?: unknown[]; returnedTotal?: number };

describe('?debug=true names what an exclude returned, kept and removed', () => {
  it('an exclude returning a candidate and a non-candidate', async () => {
    const r = await fetch(`${srv.url}/pipelines/p?debug=true`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { items: { id: number }[]; debug: { steps: Step[] } };
    expect(body.items.map((i) => i.id).sort()).toEqual([1, 2, 3, 5]);
    const [a, b, ex] = body.debug.steps;
    expect(a).toMatchObject({ phase: 'include', returned: [1, 2, 3], returnedTotal: 3, kept: [1, 2, 3], keptTotal: 3, removed: [], removedTotal: 0 });
    expect(b).toMatchObject({ phase: 'include', returned: [3, 4, 5], returnedTotal: 3 });
    expect(ex).toMatchObject({ phase: 'exclude', returned: [4, 9], returnedTotal: 2, removed: [4], removedTotal: 1, keptTotal: 4 });
    expect([...ex!.kept].sort()).toEqual([1, 2, 3, 5]);
  });

  it('cuts the lists at x-airmail-debug-ids but counts them all', async () => {
    const r = await fetch(`${srv.url}/pipelines/p?debug=true`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-airmail-debug-ids': '1' }, body: '{}' });
    const ex = ((await r.json()) as { debug: { steps: Step[] } }).debug.steps[2]!;
    expect(ex).toMatchObject({ returnedTotal: 2, removedTotal: 1, keptTotal: 4 });
    expect([ex.returned!.length, ex.removed.length, ex.kept.length]).toEqual([1, 1, 1]);
  });
});

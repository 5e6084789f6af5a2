/**
 * Reasons name a `where` window in full, resolved (README "Dates and time windows": debug steps, reasons
 * and /why show a bound resolved and what was written). They were cut at 40 characters, mid-JSON:
 * `where={"client_id":7,"purchased_at":{"min":...`, in an empty answer's reason (single and batch) and in
 * /why's excludedBy, which showed the bound as epoch ms besides.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

describe('a where window in reasons and /why', () => {
  let srv: RunningServer;
  const post = async (path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(`${srv.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    const dir = await tempDir('airmail-dates-reasons-');
    await writeFile(join(dir, 'catalog.csv'), 'sku,price\n1,10\n2,20\n');
    await writeFile(join(dir, 'purchases.csv'), 'client_id,sku,purchased_at\n7,1,2024-09-30T10:00:00Z\n7,2,2024-08-01\n');
    await writeFile(join(dir, 'shop.yaml'), `
datasets:
  catalog: {path: catalog.csv, key: sku}
  purchases: {path: purchases.csv, columns: {purchased_at: timestamp}}
pipelines:
- name: bought_lately
  item_type: sku
  initialization: {includes: [{name: Lookup, parameters: {dataset: purchases, column: sku, where: {client_id: $client_id, purchased_at: {min: now-30d, max: '2024-12-31'}}}}]}
- name: not_bought_lately
  item_type: sku
  initialization:
    includes: [{name: Lookup, parameters: {dataset: catalog}}]
    excludes: [{name: Lookup, parameters: {dataset: purchases, column: sku, where: {client_id: $client_id, purchased_at: {min: now-30d}}}}]
`);
    srv = await server({ configs: dir, threads: 1, clock: () => Date.UTC(2024, 9, 5) });
  });
  afterAll(async () => {
    await srv?.close();
  });

  const expected = 'includes Lookup(dataset=purchases, column=sku, where={client_id=8, purchased_at>=2024-09-05T00:00:00Z (now-30d), purchased_at<=2024-12-31T00:00:00Z}) returned 0 items';

  it('an empty answer names the window in full, single and in a batch', async () => {
    const one = await post('/pipelines/bought_lately', { client_id: 8 });
    expect(one.body['items']).toEqual([]);
    expect(one.body['reason']).toBe(expected);
    expect((await post('/pipelines/bought_lately', { client_id: 7 })).body['items']).toEqual([{ sku: 1 }]);
    const batch = await post('/pipelines/bought_lately/batch', { requests: [{ client_id: 8 }] });
    expect((batch.body['results'] as Record<string, unknown>[])[0]!['reason']).toBe(expected);
  });

  // GET /explain showed `now-30d` only, where debug steps show the instant it stands for.
  it('/explain shows a relative bound resolved at the request\'s now, pinned by x-airmail-now too', async () => {
    const explain = async (headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> => {
      const res = await fetch(`${srv.url}/pipelines/bought_lately/explain`, { headers });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const where = (b: Record<string, unknown>): unknown => ((b['plan'] as { steps?: { parameters: { where: unknown } }[] }[])[1]!.steps![0]!.parameters.where);
    const clock = (await explain()).body;
    expect(clock['now']).toBe('2024-10-05T00:00:00Z');
    expect(where(clock)).toEqual({ client_id: '$client_id', purchased_at: { min: '2024-09-05T00:00:00Z (now-30d)', max: '2024-12-31' } });
    const pinned = (await explain({ 'x-airmail-now': '2024-11-01T12:00:00Z' })).body;
    expect(pinned['now']).toBe('2024-11-01T12:00:00Z');
    expect(where(pinned)).toEqual({ client_id: '$client_id', purchased_at: { min: '2024-10-02T12:00:00Z (now-30d)', max: '2024-12-31' } });
    const bad = await explain({ 'x-airmail-now': 'yesterday' });
    expect([bad.status, bad.body['code']]).toEqual([400, 'HEADER_INVALID']);
  });

  it("/why's excludedBy shows the window resolved", async () => {
    const why = (await post('/pipelines/not_bought_lately/why', { inputs: { client_id: 7 }, item: 1 })).body['why'] as Record<string, unknown>;
    expect(why['verdict']).toBe('excluded');
    expect((why['excludedBy'] as { parameters: string }[])[0]!.parameters).toBe('dataset=purchases, column=sku, where={client_id=7, purchased_at>=2024-09-05T00:00:00Z (now-30d)}');
    expect(why['reason']).toContain('where={client_id=7, purchased_at>=2024-09-05T00:00:00Z (now-30d)}');
  });
});

/**
 * `inputs: {since: {type: timestamp}}` was refused at load ("'type' must be one of integer, number,
 * string, boolean"), an instant input took ISO text only (epoch ms was a 422), and a bound taken from
 * a context row's timestamp column (`min: $client.signup_at`) showed as epoch ms in reasons and /why
 * (`min=1727827200000`). An instant input now takes ISO text or epoch ms, refuses what names no
 * instant with a 422 naming it, and reasons show every such bound as ISO text.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

const CONFIG = `
datasets:
  catalog: {path: catalog.json, key: sku, columns: {launched_on: timestamp}}
  clients: {path: clients.json, key: client_id, columns: {signup_at: timestamp}}
pipelines:
- name: since
  item_type: sku
  inputs: {since: {type: timestamp, description: launched at or after}}
  initialization: {includes: [{name: Lookup, parameters: {dataset: catalog}}]}
  operations: [{name: Range, parameters: {column: launched_on, min: $since}}]
- name: as_date
  item_type: sku
  inputs: {until: {type: date}}
  initialization: {includes: [{name: Lookup, parameters: {dataset: catalog, where: {launched_on: {max: $until}}}}]}
- name: since_signup
  item_type: sku
  context: {client: {dataset: clients, key: $client_id}}
  initialization: {includes: [{name: Lookup, parameters: {dataset: catalog}}]}
  operations: [{name: Range, parameters: {column: launched_on, min: $client.signup_at}}]
`;

describe('instant inputs (type: timestamp)', () => {
  let srv: RunningServer;
  let dir: string;
  const call = async (path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(`${srv.url}${path}`, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const skus = (b: Record<string, unknown>): unknown[] => (b['items'] as { sku: unknown }[]).map((i) => i.sku);

  beforeAll(async () => {
    dir = await tempDir('airmail-instant-inputs-');
    await writeFile(join(dir, 'catalog.json'), JSON.stringify([
      { sku: 1, launched_on: '2024-09-01' },
      { sku: 2, launched_on: '2024-09-20' },
      { sku: 3, launched_on: '2024-10-01T12:00:00Z' },
    ]));
    await writeFile(join(dir, 'clients.json'), JSON.stringify([{ client_id: 7, signup_at: '2024-09-25' }]));
    await writeFile(join(dir, 'shop.yaml'), CONFIG);
    srv = await server({ configs: dir, threads: 1, clock: () => Date.UTC(2024, 9, 5) });
  });
  afterAll(async () => {
    await srv?.close();
  });

  it('loads type: timestamp (and date) and takes ISO text or epoch ms, by query and body', async () => {
    const sept20 = Date.UTC(2024, 8, 20);
    expect(skus((await call('/pipelines/since/run?since=2024-09-20')).body)).toEqual([2, 3]);
    expect(skus((await call(`/pipelines/since/run?since=${sept20}`)).body)).toEqual([2, 3]);
    expect(skus((await call('/pipelines/since', { since: sept20 + 1 })).body)).toEqual([3]);
    expect(skus((await call('/pipelines/since', { since: '2024-09-20T02:00:00+02:00' })).body)).toEqual([2, 3]);
    expect(skus((await call('/pipelines/as_date', { until: '2024-09-20' })).body)).toEqual([1, 2]);
    const schema = (await call('/openapi.json')).body as { paths: Record<string, { post?: { requestBody?: { content: Record<string, { schema: { properties: Record<string, { description?: string }> } }> } } }> };
    expect(JSON.stringify(schema.paths['/pipelines/since'])).toContain('launched at or after');
  });

  it('refuses what names no instant with a 422 naming the input', async () => {
    for (const [body, says] of [
      [{ since: 'yesterday' }, /'since' must be an ISO 8601 date or date-time .* or epoch milliseconds, not "yesterday"/],
      [{ since: '2024-09-20T10:00' }, /'since' must be an ISO 8601 date or date-time/],
      [{ since: '2024-02-30' }, /'since' must be an instant, and "2024-02-30" is not a date of the calendar/],
      [{ since: 1727740800 }, /'since' is epoch milliseconds, but 1727740800 looks like epoch seconds .* multiply by 1000/],
      [{ since: 20240920 }, /'since' is epoch milliseconds, but 20240920 is 1970-01-01T05:37:20.920Z, too early/],
      [{ since: true }, /'since' must be/],
    ] as const) {
      const r = await call('/pipelines/since', body);
      expect([r.status, r.body['code']]).toEqual([422, 'INPUT_INVALID']);
      expect(r.body['reason']).toMatch(says);
    }
    expect((await call('/pipelines/since/run?since=1727740800')).status).toBe(422);
  });

  it('shows an input bound and a context row bound as ISO text in reasons and /why', async () => {
    const empty = await call('/pipelines/since', { since: Date.UTC(2024, 11, 25) });
    expect(empty.body['reason']).toBe('Range(column=launched_on, min=2024-12-25T00:00:00Z) returned 0 items after filtering 3');
    const offset = await call('/pipelines/since', { since: '2024-12-25T02:00:00+02:00' });
    expect(offset.body['reason']).toBe('Range(column=launched_on, min=2024-12-25T00:00:00Z) returned 0 items after filtering 3');
    const why = (await call('/pipelines/since_signup/why', { inputs: { client_id: 7 }, item: 2 })).body['why'] as Record<string, unknown>;
    expect(why['reason']).toContain('removed by Range(column=launched_on, min=2024-09-25T00:00:00Z)');
  });

  it('refuses type: timestamp on an input a step takes as another type, at load', async () => {
    const res = await fetch(`${srv.url}/validate`, { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: `
pipeline:
  name: priced
  item_type: sku
  inputs: {lo: {type: timestamp}}
  initialization: {includes: [{name: Lookup, parameters: {dataset: catalog}}]}
  operations: [{name: Range, parameters: {column: sku, min: $lo}}]
` });
    const text = await res.text();
    expect(text).toContain("input 'lo' is declared timestamp, but a step takes it as a number, not a time");
    expect(text).toContain('/pipeline/inputs/lo/type');
  });
});

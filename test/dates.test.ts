/**
 * Dates and time windows (README "Dataset files", Range, "Recipes"): timestamp columns from CSV, JSON
 * and Arrow, time bounds (`now-30d`, `2024-10-01`) in Range and in a `where` window, `now` read once per
 * request from the engine's clock (injected here: no waiting), the result memo keyed by the resolved
 * bounds, `x-airmail-now`, and the load errors.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Table as ArrowTable, tableToIPC, vectorFromArray, DateMillisecond, Int32, TimestampMicrosecond, makeVector } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatInstant, parseInstant, parseTimeBound, resolveBound } from '../engine/time.js';
import type { RunningServer } from '../engine/server.js';
import { ROOT, server, tempDir } from './helpers.js';

const exec = promisify(execFile);
const BIN = join(ROOT, 'bin/airmail.mjs');
const ms = (iso: string): number => parseInstant(iso) as number;

describe('instants and time bounds', () => {
  it('reads ISO 8601 dates (midnight UTC) and date-times with offsets; refuses the rest', () => {
    expect(ms('2024-10-01')).toBe(Date.UTC(2024, 9, 1));
    expect(ms('2024-10-01T12:30:00Z')).toBe(Date.UTC(2024, 9, 1, 12, 30));
    expect(ms('2024-10-01T12:30:00+02:00')).toBe(Date.UTC(2024, 9, 1, 10, 30));
    expect(ms('2024-10-01T12:30:00.250-0130')).toBe(Date.UTC(2024, 9, 1, 14, 0, 0, 250));
    expect(parseInstant('2024-02-30')).toMatch(/not a date of the calendar/);
    expect(parseInstant('2024-10-01T12:30:00')).toMatch(/no offset/);
    expect(parseInstant('01/10/2024')).toMatch(/not an ISO 8601/);
    expect(formatInstant(Date.UTC(2024, 9, 1))).toBe('2024-10-01T00:00:00Z');
    expect(formatInstant(Date.UTC(2024, 9, 1, 0, 0, 0, 5))).toBe('2024-10-01T00:00:00.005Z');
  });

  it('resolves now-relative bounds against the request now, whole seconds, or rounded down to a unit', () => {
    const now = Date.UTC(2024, 9, 10, 15, 45, 30, 999); // a Thursday
    expect(resolveBound(parseTimeBound('now')!, now)).toBe(Date.UTC(2024, 9, 10, 15, 45, 30));
    expect(resolveBound(parseTimeBound('now-30d')!, now)).toBe(Date.UTC(2024, 8, 10, 15, 45, 30));
    expect(resolveBound(parseTimeBound('now+12h/d')!, now)).toBe(Date.UTC(2024, 9, 11));
    expect(resolveBound(parseTimeBound('now/w')!, now)).toBe(Date.UTC(2024, 9, 7)); // Monday
    expect(resolveBound(parseTimeBound('2024-10-01')!, now)).toBe(Date.UTC(2024, 9, 1));
    expect(parseTimeBound('now-30 days')).toBeUndefined();
    expect(parseTimeBound('yesterday')).toBeUndefined();
  });
});

describe('timestamp columns and windows over HTTP', () => {
  let dir: string;
  let srv: RunningServer;
  let clock = Date.UTC(2024, 9, 5);
  const get = async (path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(`${srv.url}${path}`, { headers });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const post = async (path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(`${srv.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const skus = (b: Record<string, unknown>): unknown[] => (b['items'] as { sku: unknown }[]).map((i) => i.sku);

  beforeAll(async () => {
    dir = await tempDir('airmail-dates-');
    await writeFile(join(dir, 'catalog.csv'), 'sku,launched_on,price\n1,2024-09-01,10\n2,2024-09-25,20\n3,2024-09-28T12:00:00+02:00,30\n4,,40\n');
    await writeFile(join(dir, 'purchases.json'), JSON.stringify([
      { client_id: 7, sku: 1, purchased_at: '2024-09-30T10:00:00Z' },
      { client_id: 7, sku: 2, purchased_at: '2024-08-01' },
      { client_id: 8, sku: 3, purchased_at: Date.UTC(2024, 9, 1) },
    ]));
    const events = new ArrowTable({
      sku: vectorFromArray([1, 2, 3], new Int32()),
      seen: vectorFromArray([new Date('2024-10-04T00:00:00Z'), new Date('2024-09-01T00:00:00Z'), null], new DateMillisecond()),
      ended: makeVector({ type: new TimestampMicrosecond(), data: BigInt64Array.from([BigInt(Date.UTC(2024, 9, 3)) * 1000n, BigInt(Date.UTC(2024, 9, 9)) * 1000n, BigInt(Date.UTC(2024, 9, 20)) * 1000n]) }),
    });
    await writeFile(join(dir, 'events.arrow'), tableToIPC(events, 'file'));
    await writeFile(join(dir, 'shop.yaml'), `
datasets:
  catalog: {path: catalog.csv, key: sku, columns: {launched_on: date}}
  purchases: {path: purchases.json, columns: {purchased_at: timestamp}}
  events: {path: events.arrow}
pipelines:
- name: new_arrivals
  item_type: sku
  initialization: {includes: [{name: Lookup, parameters: {dataset: catalog}}]}
  operations:
  - {name: Range, parameters: {column: launched_on, min: now-14d}}
  - {name: Sort, parameters: {by: launched_on, desc: true}}
  return: [sku, launched_on]
- name: not_bought_recently
  item_type: sku
  initialization:
    includes: [{name: Lookup, parameters: {dataset: catalog}}]
    excludes: [{name: Lookup, parameters: {dataset: purchases, column: sku, where: {client_id: $client_id, purchased_at: {min: now-30d}}}}]
- name: since
  item_type: sku
  initialization: {includes: [{name: Lookup, parameters: {dataset: catalog}}]}
  operations: [{name: Range, parameters: {column: launched_on, min: $since}}]
  return: [sku, launched_on]
- name: live_promotions
  item_type: sku
  initialization: {includes: [{name: Lookup, parameters: {dataset: events, columns: [seen, ended]}}]}
  operations: [{name: Range, parameters: {column: ended, min: now}}]
  return: [sku, seen, ended]
`);
    srv = await server({ configs: dir, threads: 1, clock: () => clock });
  });
  afterAll(async () => {
    await srv?.close();
  });

  it('answers timestamps as ISO text, and the memoised answer moves with the window', async () => {
    clock = Date.UTC(2024, 9, 5);
    const first = await post('/pipelines/new_arrivals', {});
    expect(first.body['items']).toEqual([{ sku: 3, launched_on: '2024-09-28T10:00:00Z' }, { sku: 2, launched_on: '2024-09-25T00:00:00Z' }]);
    expect((await post('/pipelines/new_arrivals', {})).body['items']).toEqual(first.body['items']);
    clock = Date.UTC(2024, 9, 10); // now-14d = 2024-09-26: sku 2 drops out, not served from the memo
    expect(skus((await post('/pipelines/new_arrivals', {})).body)).toEqual([3]);
    clock = Date.UTC(2024, 9, 20);
    const empty = await post('/pipelines/new_arrivals', {});
    expect(empty.body['items']).toEqual([]);
    expect(empty.body['reason']).toBe('Range(column=launched_on, min=2024-10-06T00:00:00Z (now-14d)) returned 0 items after filtering 4');
  });

  it('excludes what the client bought in the last 30 days (a where window on the dataset rows)', async () => {
    clock = Date.UTC(2024, 9, 5);
    expect(skus((await post('/pipelines/not_bought_recently', { client_id: 7 })).body)).toEqual([2, 3, 4]);
    clock = Date.UTC(2024, 10, 15); // 2024-09-30 is past the window now
    expect(skus((await post('/pipelines/not_bought_recently', { client_id: 7 })).body)).toEqual([1, 2, 3, 4]);
    // A JSON number in a timestamp column is epoch ms.
    clock = Date.UTC(2024, 9, 5);
    expect(skus((await post('/pipelines/not_bought_recently', { client_id: 8 })).body)).toEqual([1, 2, 4]);
  });

  it('pins now with x-airmail-now, shows resolved bounds in debug, refuses a bad pin', async () => {
    clock = Date.UTC(2024, 11, 31);
    const pinned = await get('/pipelines/new_arrivals/run?debug=1', { 'x-airmail-now': '2024-10-05T00:00:00Z' });
    expect(skus(pinned.body)).toEqual([3, 2]);
    const steps = (pinned.body['debug'] as { steps: { step: string; parameters: Record<string, unknown> }[] }).steps;
    expect(steps.find((s) => s.step === 'Range')!.parameters['min']).toBe('2024-09-21T00:00:00Z (now-14d)');
    // The fast lane hands a pinned request to the app, which honours it.
    expect(skus((await post('/pipelines/new_arrivals', {}, { 'x-airmail-now': '2024-10-05T00:00:00Z' })).body)).toEqual([3, 2]);
    const bad = await post('/pipelines/new_arrivals', {}, { 'x-airmail-now': 'yesterday' });
    expect(bad.status).toBe(400);
    expect(bad.body['code']).toBe('HEADER_INVALID');
  });

  it('a batch reads now once for all its elements, and honours x-airmail-now as a single request does', async () => {
    clock = Date.UTC(2024, 11, 31);
    const batch = (headers: Record<string, string> = {}) => post('/pipelines/new_arrivals/batch', { requests: [{}, {}] }, headers);
    const pinned = await batch({ 'x-airmail-now': '2024-10-05T00:00:00Z' });
    expect(pinned.status).toBe(200);
    const entries = pinned.body['results'] as Record<string, unknown>[];
    expect(entries.map((e) => skus(e))).toEqual([[3, 2], [3, 2]]);
    clock = Date.UTC(2024, 9, 5);
    expect(((await batch()).body['results'] as Record<string, unknown>[]).map((e) => skus(e))).toEqual([[3, 2], [3, 2]]);
    const bad = await batch({ 'x-airmail-now': 'yesterday' });
    expect([bad.status, bad.body['code']]).toEqual([400, 'HEADER_INVALID']);
  });

  it('takes an instant input as ISO text and refuses other text with a 422', async () => {
    expect(skus((await get('/pipelines/since/run?since=2024-09-20')).body)).toEqual([2, 3]);
    expect(skus((await post('/pipelines/since', { since: '2024-09-28T09:00:00Z' })).body)).toEqual([3]);
    const word = await get('/pipelines/since/run?since=yesterday');
    expect(word.status).toBe(422);
    expect(word.body['reason']).toMatch(/'since' must be an ISO 8601 date or date-time \(2024-10-01, 2024-10-01T12:30:00Z/);
    // A date written as digits is no epoch ms anyone meant (test/dates-instant-inputs.test.ts).
    expect((await post('/pipelines/since', { since: 20240920 })).status).toBe(422);
    const impossible = await post('/pipelines/since', { since: '2024-02-30' });
    expect(impossible.status).toBe(422);
    expect(impossible.body['code']).toBe('INPUT_INVALID');
  });

  it('reads Arrow Date and Timestamp columns as they are', async () => {
    clock = Date.UTC(2024, 9, 5);
    expect((await post('/pipelines/live_promotions', {})).body['items']).toEqual([
      { sku: 2, seen: '2024-09-01T00:00:00Z', ended: '2024-10-09T00:00:00Z' },
      { sku: 3, seen: null, ended: '2024-10-20T00:00:00Z' },
    ]);
  });
});

describe('load errors', () => {
  const validate = async (files: Record<string, string>): Promise<string> => {
    const dir = await tempDir('airmail-dates-bad-');
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    try {
      await exec(process.execPath, [BIN, 'validate', dir], { cwd: ROOT, env: { ...process.env, AIRMAIL_FROM_SOURCE: '1' } });
      return 'ok';
    } catch (err) {
      return (err as { stdout: string; stderr: string }).stdout + (err as { stderr: string }).stderr;
    }
  };

  it('names the file, row and column of a cell that is not an instant, and a bound of the wrong kind', async () => {
    const out = await validate({
      'c.csv': 'sku,launched_on,price\n1,2024-09-01,10\n2,01/10/2024,20\n',
      'p.json': JSON.stringify([{ sku: 1, at: '2024-09-01' }, { sku: 2, at: true }]),
      'a.yaml': `
datasets:
  catalog: {path: c.csv, key: sku, columns: {launched_on: timestamp}}
  purchases: {path: p.json, columns: {at: timestamp}}
`,
    });
    expect(out).toMatch(/c\.csv.*column 'launched_on' is declared timestamp, but row 3 holds "01\/10\/2024", which is not an ISO 8601 date.*DATASET_LOAD_FAILED/);
    expect(out).toMatch(/p\.json.*column 'at' is declared timestamp, but row 2 holds true.*DATASET_LOAD_FAILED/);
    const bounds = await validate({
      'c.csv': 'sku,launched_on,price\n1,2024-09-01,10\n',
      'b.yaml': `
datasets:
  catalog: {path: c.csv, key: sku, columns: {launched_on: date}}
pipeline:
  name: bad
  item_type: sku
  initialization:
    includes: [{name: Lookup, parameters: {dataset: catalog, where: {launched_on: {max: 7}}}}]
  operations:
  - {name: Range, parameters: {column: price, min: now-14d}}
  - {name: Range, parameters: {column: launched_on, min: 5}}
  - {name: Range, parameters: {column: launched_on, max: last week}}
  - {name: Match, parameters: {column: launched_on, value: '2024-09-01'}}
`,
    });
    expect(bounds).toMatch(/"now-14d" is a time bound, but column 'price' of dataset 'catalog' holds integers, not timestamps .*\/operations\/0\/parameters\/min\) \[BAD_PARAMETER\]/);
    expect(bounds).toMatch(/5 is not a time, but column 'launched_on' of dataset 'catalog' holds timestamps.*\/operations\/1\/parameters\/min/);
    expect(bounds).toMatch(/'max' must be a number, or a time \('2024-10-01', .*'now-30d'.*, not "last week" \(at \/pipeline\/operations\/2\/parameters\/max/);
    expect(bounds).toMatch(/holds timestamps, which are compared by a window, never by equality.*\/operations\/3\/parameters\/value/);
    expect(bounds).toMatch(/7 is not a time.*\/where\/launched_on\/max/);
  });
});

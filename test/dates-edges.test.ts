/**
 * Dates as a new user meets them past the README's examples: `/why` of a request pinned with
 * x-airmail-now, Arrow micro/nanosecond timestamps with sub-millisecond parts (held as whole ms, as
 * ISO text is), odd ISO texts (years 0000-0099, an offset that is not one), and a timestamp column
 * used where a number is read (a Column score, a ModelScore feature) or a context column used as a
 * time bound.
 */
import { execFile } from 'node:child_process';
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Int32, makeVector, Table as ArrowTable, tableToIPC, TimestampMicrosecond, TimestampNanosecond, vectorFromArray } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatInstant, parseInstant } from '../engine/time.js';
import type { RunningServer } from '../engine/server.js';
import { ROOT, server, tempDir } from './helpers.js';

const exec = promisify(execFile);
const BIN = join(ROOT, 'bin/airmail.mjs');

describe('ISO text at the edges', () => {
  it('reads years 0000-0099 as themselves, and refuses an offset past 23:59', () => {
    expect(formatInstant(parseInstant('0099-01-01') as number)).toBe('0099-01-01T00:00:00Z');
    expect(formatInstant(parseInstant('0050-06-15T10:00:00+02:00') as number)).toBe('0050-06-15T08:00:00Z');
    expect(parseInstant('2023-02-29')).toMatch(/not a date of the calendar/);
    expect(parseInstant('2024-10-01T12:30:00+25:00')).toMatch(/offset \+25:00, which is not one/);
    expect(parseInstant('2024-10-01T12:30:00+02:60')).toMatch(/not one/);
    expect(parseInstant('2024-10-01T12:30:00+23:59')).toBe(Date.UTC(2024, 9, 1, 12, 30) - (23 * 60 + 59) * 60_000);
  });
});

describe('dates over HTTP', () => {
  let dir: string;
  let srv: RunningServer;
  const post = async (path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(`${srv.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    dir = await tempDir('airmail-dates-edges-');
    await writeFile(join(dir, 'catalog.csv'), 'sku,price\n1,10\n2,20\n3,30\n');
    await writeFile(join(dir, 'purchases.csv'), 'client_id,sku,purchased_at\n7,1,2024-10-01T12:00:00+02:00\n7,2,2024-08-01\n');
    const ms = [1727785800250n, -157766399001n];
    const events = new ArrowTable({
      sku: vectorFromArray([1, 2], new Int32()),
      // 12:30:00.250999 and 1965-01-01T00:00:00.9995: whole ms .250 and .999, floored as ISO text is.
      ns: makeVector({ type: new TimestampNanosecond(), data: BigInt64Array.from([ms[0]! * 1_000_000n + 999_000n, ms[1]! * 1_000_000n + 500_000n]) }),
      us: makeVector({ type: new TimestampMicrosecond('Europe/Paris'), data: BigInt64Array.from([ms[0]! * 1000n + 999n, ms[1]! * 1000n + 500n]) }),
    });
    await writeFile(join(dir, 'events.arrow'), tableToIPC(events, 'file'));
    await writeFile(join(dir, 'shop.yaml'), `
datasets:
  catalog: {path: catalog.csv, key: sku}
  purchases: {path: purchases.csv, columns: {purchased_at: timestamp}}
  events: {path: events.arrow, key: sku}
pipelines:
- name: not_bought_lately
  item_type: sku
  initialization:
    includes: [{name: Lookup, parameters: {dataset: catalog}}]
    excludes: [{name: Lookup, parameters: {dataset: purchases, column: sku, where: {client_id: $client_id, purchased_at: {min: now-30d}}}}]
- name: at_250
  item_type: sku
  initialization: {includes: [{name: Lookup, parameters: {dataset: events, columns: [ns, us]}}]}
  operations: [{name: Range, parameters: {column: ns, max: '2024-10-01T12:30:00.250Z'}}]
  return: [sku, ns, us]
`);
    srv = await server({ configs: dir, threads: 1, clock: () => Date.UTC(2026, 0, 1) });
  });
  afterAll(async () => {
    await srv?.close();
  });

  it('/why explains the answer of a request pinned with x-airmail-now, with that now', async () => {
    const pin = { 'x-airmail-now': '2024-10-15T00:00:00Z' };
    expect((await post('/pipelines/not_bought_lately', { client_id: 7 }, pin)).body['items']).toEqual([{ sku: 2 }, { sku: 3 }]);
    const why = await post('/pipelines/not_bought_lately/why', { inputs: { client_id: 7 }, item: 1 }, pin);
    expect(why.status).toBe(200);
    expect((why.body['why'] as Record<string, unknown>)['verdict']).toBe('excluded');
    expect(why.body['items']).toEqual([{ sku: 2 }, { sku: 3 }]);
    // Unpinned, the server's clock (2026) has no purchase in the window.
    expect(((await post('/pipelines/not_bought_lately/why', { inputs: { client_id: 7 }, item: 1 })).body['why'] as Record<string, unknown>)['verdict']).toBe('kept');
    const bad = await post('/pipelines/not_bought_lately/why', { inputs: { client_id: 7 }, item: 1 }, { 'x-airmail-now': 'yesterday' });
    expect([bad.status, bad.body['code']]).toEqual([400, 'HEADER_INVALID']);
  });

  it('holds Arrow micro- and nanosecond timestamps as whole milliseconds (floored), in answers and bounds alike', async () => {
    const res = await post('/pipelines/at_250', {});
    expect(res.body['items']).toEqual([
      { sku: 1, ns: '2024-10-01T12:30:00.250Z', us: '2024-10-01T12:30:00.250Z' },
      { sku: 2, ns: '1965-01-01T00:00:00.999Z', us: '1965-01-01T00:00:00.999Z' },
    ]);
  });
});

describe('a timestamp where a number is read, a context column as a time bound: load errors', () => {
  const validate = async (files: Record<string, string>): Promise<string> => {
    const dir = await tempDir('airmail-dates-edges-bad-');
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    await copyFile(join(ROOT, 'configs/models/psale_demo.onnx'), join(dir, 'psale.onnx'));
    try {
      await exec(process.execPath, [BIN, 'validate', dir], { cwd: ROOT, env: { ...process.env, AIRMAIL_FROM_SOURCE: '1' } });
      return 'ok';
    } catch (err) {
      return (err as { stdout: string }).stdout + (err as { stderr: string }).stderr;
    }
  };

  it('refuses a Column score and a ModelScore feature on a timestamp column, saying what to do instead', async () => {
    const f = Array.from({ length: 24 }, (_, i) => (i === 3 ? 'launched_on' : 'price')).join(', ');
    const out = await validate({
      'c.csv': 'sku,launched_on,price\n1,2024-09-01,10\n',
      'a.yaml': `
datasets: {catalog: {path: c.csv, key: sku, columns: {launched_on: date}}}
pipelines:
- {name: newest, item_type: sku, initialization: {includes: [{name: Lookup, parameters: {dataset: catalog}}], scores: [{name: Column, parameters: {column: launched_on}}]}}
- {name: model, item_type: sku, initialization: {includes: [{name: Lookup, parameters: {dataset: catalog}}], scores: [{name: ModelScore, parameters: {model: psale.onnx, features: [${f}]}}]}}
`,
    });
    expect(out).toMatch(/Column: reads numbers, but column 'launched_on' of dataset 'catalog' holds timestamps: .*Sort by launched_on with desc: true.*\/scores\/0\/parameters\/column\) \[BAD_PARAMETER\]/);
    expect(out).toMatch(/ModelScore: reads numbers, but column 'launched_on' of dataset 'catalog' holds timestamps.*\/parameters\/features\/3\) \[BAD_PARAMETER\]/);
  });

  it('checks a context column used as a time bound (Range and a where window) against the column it bounds', async () => {
    const out = await validate({
      'c.csv': 'sku,launched_on,price\n1,2024-09-01,10\n',
      'k.csv': 'client_id,signup_at,signup_txt,signup_iso,visits\n1,2024-09-25,yesterday,2024-09-25,3\n2,,,,\n',
      'a.yaml': `
datasets:
  catalog: {path: c.csv, key: sku, columns: {launched_on: date}}
  clients: {path: k.csv, key: client_id, columns: {signup_at: timestamp}}
contexts: {client: {dataset: clients, key: $client_id}}
pipelines:
- name: ok
  item_type: sku
  initialization: {includes: [{name: Lookup, parameters: {dataset: catalog, where: {launched_on: {min: $client.signup_at}}}}]}
  operations: [{name: Range, parameters: {column: launched_on, min: $client.signup_iso}}]
- name: bad
  item_type: sku
  initialization: {includes: [{name: Lookup, parameters: {dataset: catalog, where: {launched_on: {min: $client.visits}}}}]}
  operations:
  - {name: Range, parameters: {column: launched_on, min: $client.signup_txt}}
  - {name: Range, parameters: {column: price, max: $client.signup_at}}
`,
    });
    expect(out).not.toMatch(/pipeline 'ok'/);
    expect(out).toMatch(/\$client\.visits is a bound on column 'launched_on' of dataset 'catalog', which holds timestamps, but column 'visits' of dataset 'clients' holds numbers.*columns: \{visits: timestamp\}.*\/where\/launched_on\/min\) \[BAD_PARAMETER\]/);
    expect(out).toMatch(/\$client\.signup_txt is a bound on .* holds text that is not a time \("yesterday"\).*\/operations\/0\/parameters\/min\) \[BAD_PARAMETER\]/);
    expect(out).toMatch(/\$client\.signup_at is a time \(column 'signup_at' of dataset 'clients' holds timestamps\), but column 'price' of dataset 'catalog' holds integers, not timestamps.*\/operations\/1\/parameters\/max\) \[BAD_PARAMETER\]/);
  });
});

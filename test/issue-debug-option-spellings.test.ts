/**
 * `?debug=maybe`, `x-airmail-debug: please` and `x-airmail-debug-ids: lots` were ignored: the run
 * answered 200 without the debug the client asked for (or with 20 ids), and nothing said why.
 * A value that is not one of the README's spellings is now a 400 listing them: QUERY_INVALID for
 * the query, HEADER_INVALID for a header, on every route that reads them.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinOperators } from '../operators/index.js';
import { Engine } from '../engine/engine.js';
import { createApp } from '../engine/http/app.js';
import { formatDiagnostic } from '../engine/errors.js';
import { OPERATORS_URL, tempDir } from './helpers.js';

let engine: Engine;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  const dir = await tempDir('airmail-debug-');
  await writeFile(join(dir, 'p.yaml'), 'pipeline:\n  name: p\n  item_type: id\n  initialization: {includes: [{name: Static, parameters: {items: [1, 2, 3]}}]}\n');
  engine = new Engine({ configs: dir, operators: builtinOperators, operatorModules: [OPERATORS_URL], threads: 0, watch: false, remote: {} });
  expect((await engine.start()).map(formatDiagnostic)).toEqual([]);
  app = createApp(engine);
});
afterAll(() => engine?.close());

async function call(method: 'GET' | 'POST', path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await app.request(path, method === 'GET' ? { headers } : { method, headers: { 'content-type': 'application/json', ...headers }, body: body ?? '{}' });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('debug spellings', () => {
  it('the README spellings are taken: on, off and bare', async () => {
    for (const v of ['true', 'TRUE', '1', 'yes', 'On', '']) {
      for (const r of [await call('POST', `/pipelines/p?debug=${v}`), await call('GET', `/pipelines/p/run?debug=${v}`), await call('POST', '/pipelines/p', { 'x-airmail-debug': v || 'on' })]) {
        expect([r.status, r.body['debug'] !== undefined], v).toEqual([200, true]);
      }
    }
    expect((await call('POST', '/pipelines/p?debug')).body['debug']).toBeDefined();
    for (const v of ['false', 'No', '0', 'off']) {
      const r = await call('POST', `/pipelines/p?debug=${v}`, { 'x-airmail-debug': v });
      expect([r.status, r.body['debug']], v).toEqual([200, undefined]);
    }
  });

  it('?debug=maybe (or given twice) is a 400 QUERY_INVALID listing the spellings', async () => {
    for (const [method, path] of [['POST', '/pipelines/p?debug=maybe'], ['GET', '/pipelines/p?debug=maybe'], ['GET', '/pipelines/p/run?debug=2'], ['POST', '/pipelines/p?debug=1&debug=0'], ['POST', '/execute?debug=maybe']] as const) {
      const body = path.startsWith('/execute') ? JSON.stringify({ pipeline: { name: 'adhoc', item_type: 'id', initialization: { includes: [{ name: 'Static', parameters: { items: [1] } }] } } }) : undefined;
      const r = await call(method, path, {}, body);
      expect([r.status, r.body['code'], r.body['error']], path).toEqual([400, 'QUERY_INVALID', true]);
      expect(r.body['reason'], path).toMatch(/\?debug must be one of true, 1, yes or on .*; false, 0, no or off/);
    }
    expect((await call('POST', '/pipelines/p?debug=maybe')).body['pipeline']).toBe('p');
  });

  it('a bad x-airmail-debug or x-airmail-debug-ids header is a 400 HEADER_INVALID', async () => {
    const r = await call('POST', '/pipelines/p', { 'x-airmail-debug': 'please' });
    expect([r.status, r.body['code']]).toEqual([400, 'HEADER_INVALID']);
    expect(r.body['reason']).toMatch(/x-airmail-debug must be one of true, 1, yes or on to ask for it; false, 0, no or off not to.*got "please"/);
    for (const v of ['lots', '-1', '2.5', '1e3', '9999999999']) {
      for (const [method, path] of [['POST', '/pipelines/p?debug=1'], ['GET', '/pipelines/p?debug'], ['POST', '/pipelines/p/why']] as const) {
        const w = await call(method, path, { 'x-airmail-debug-ids': v }, path.endsWith('/why') ? '{"item": 1}' : undefined);
        expect([w.status, w.body['code'], w.body['error']], `${path} ${v}`).toEqual([400, 'HEADER_INVALID', true]);
        expect(w.body['reason'], v).toMatch(/x-airmail-debug-ids must be a whole number/);
      }
    }
    const ok = await call('POST', '/pipelines/p?debug=1', { 'x-airmail-debug-ids': '1' });
    expect(ok.status).toBe(200);
    expect((ok.body['debug'] as { steps: { kept?: unknown[] }[] }).steps[0]!.kept).toHaveLength(1);
  });
});

/**
 * An integer input past 2^53 (`{"client_id": 12345678901234567890123}`) was accepted: JSON.parse
 * rounds it to 1.2345678901234568e22, which JSON Schema calls an integer, and the run looked up
 * another id than the one sent (200, empty). An input typed integer, or a list input's integer
 * element, must be a safe integer: a 422 INPUT_INVALID naming it, by GET and POST alike. A number
 * input still takes any finite number.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinOperators } from '../operators/index.js';
import { Engine } from '../engine/engine.js';
import { createApp } from '../engine/http/app.js';
import { formatDiagnostic } from '../engine/errors.js';
import { OPERATORS_URL, tempDir } from './helpers.js';

const CONFIG = `
datasets:
  items: {path: data/items.json, key: item_id}
pipelines:
- name: by_id
  item_type: item_id
  context: {it: {dataset: items, key: $item}}
  initialization:
    includes: [{name: Lookup, parameters: {dataset: items, where: {color: $it.color}}}]
- name: by_ids
  item_type: item_id
  initialization:
    includes: [{name: Lookup, parameters: {dataset: items, where: {item_id: $ids}}}]
- name: by_price
  item_type: item_id
  initialization:
    includes: [{name: Lookup, parameters: {dataset: items, where: {price: $p}}}]
`;

let engine: Engine;
let app: ReturnType<typeof createApp>;
const BIG = '12345678901234567890123';

beforeAll(async () => {
  const dir = await tempDir('airmail-bigint-');
  await mkdir(join(dir, 'data'));
  await writeFile(join(dir, 'data/items.json'), JSON.stringify([1, 2, 3].map((i) => ({ item_id: i, color: 'red', price: i * 1.5 }))));
  await writeFile(join(dir, 'p.yaml'), CONFIG);
  engine = new Engine({ configs: dir, operators: builtinOperators, operatorModules: [OPERATORS_URL], threads: 0, watch: false, remote: {} });
  expect((await engine.start()).map(formatDiagnostic)).toEqual([]);
  app = createApp(engine);
});
afterAll(() => engine?.close());

async function call(path: string, body?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await app.request(path, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('integer inputs past 2^53', () => {
  it('are a 422 naming the input, in a POST body and a GET query alike', async () => {
    for (const [what, r] of [
      ['POST', await call('/pipelines/by_id', `{"item": ${BIG}}`)],
      ['POST 2^53', await call('/pipelines/by_id', '{"item": 9007199254740992}')],
      ['POST -2^53', await call('/pipelines/by_id', '{"item": -9007199254740993}')],
      ['POST 1e300', await call('/pipelines/by_id', '{"item": 1e300}')],
      ['GET', await call(`/pipelines/by_id?item=${BIG}`)],
    ] as const) {
      expect([r.status, r.body['code']], what).toEqual([422, 'INPUT_INVALID']);
      expect(r.body['errors'], what).toEqual([{ path: '/item', message: "'item' must be a whole number from -9007199254740991 to 9007199254740991 (a larger one is rounded to another number)" }]);
    }
  });

  it('in a list of ids, each is checked and pointed at', async () => {
    for (const r of [await call('/pipelines/by_ids', `{"ids": [1, ${BIG}, 3]}`), await call(`/pipelines/by_ids?ids=1&ids=${BIG}&ids=3`)]) {
      expect([r.status, r.body['code']]).toEqual([422, 'INPUT_INVALID']);
      expect((r.body['errors'] as { path: string }[]).map((e) => e.path)).toEqual(['/ids/1']);
    }
  });

  it('the largest safe integers, and large numbers for a number input, are still taken', async () => {
    expect((await call('/pipelines/by_id', '{"item": 9007199254740991}')).status).toBe(200);
    expect((await call('/pipelines/by_ids', '{"ids": [1, -9007199254740991]}')).status).toBe(200);
    expect((await call('/pipelines/by_price', `{"p": ${BIG}}`)).status).toBe(200);
    expect((await call('/pipelines/by_id', '{"item": 2}')).body['items']).toHaveLength(3);
  });
});

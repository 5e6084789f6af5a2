/**
 * POST /validate is a dry run of admin POST /pipelines (adversarial audit):
 * it once dropped every problem filed against another file, so it said
 * `valid: true` to a body that the POST then refused. And a refused admin
 * POST is answered and audited, not kept as a standing rejection of the
 * served files (sixty bad POSTs once left 68 entries in GET /pipelines).
 */
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

const TOKEN = 'admin-validate-token';
let srv: RunningServer;
let dir: string;

interface Answer {
  status: number;
  json: Record<string, unknown>;
}

async function call(method: string, path: string, body?: string): Promise<Answer> {
  const res = await request(`${srv.url}${path}`, {
    method: method as 'GET',
    headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/yaml' } : {}) },
    ...(body !== undefined ? { body } : {}),
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const STATIC = '{use: Static, parameters: {items: [1, 2, 3]}}';
const uses = (name: string, preset: string): string => `pipeline: {name: ${name}, item_type: sku_id, initialization: {includes: [${preset}]}}\n`;

beforeAll(async () => {
  dir = await tempDir('airmail-validate-');
  await writeFile(join(dir, 'shared.yaml'), `operators:\n  Xs: ${STATIC}\n${uses('shared_p', 'Xs')}`);
  await writeFile(join(dir, 'other.yaml'), uses('other_p', 'Xs'));
  srv = await server({ configs: dir, adminToken: TOKEN, threads: 0, watch: false });
  expect(srv.startErrors).toEqual([]);
});
afterAll(async () => srv?.close());

/** /validate, then the same body to POST /pipelines: the same verdict, status, code and errors. */
async function both(body: string): Promise<{ dry: Answer; real: Answer }> {
  const files = await readdir(dir);
  const dry = await call('POST', '/validate', body);
  expect(await readdir(dir)).toEqual(files);
  const real = await call('POST', '/pipelines', body);
  expect(dry.json['valid']).toBe(real.status < 300);
  // A dry run that passes is a 200 (nothing created); one that fails answers the POST's status.
  expect(dry.status).toBe(real.status < 300 ? 200 : real.status);
  if (real.status >= 300) {
    expect(dry.json['code']).toBe(real.json['code']);
    expect(dry.json['errors']).toEqual(real.json['errors'] ?? [{ code: real.json['code'], message: real.json['reason'] }]);
    // In the error response shape, as every error answer.
    expect(dry.json).toMatchObject({ items: [], error: true, reason: real.json['reason'], pipeline: null, version: null, took_ms: expect.any(Number) });
  }
  return { dry, real };
}

describe('issue: POST /validate said valid to what POST /pipelines refuses', () => {
  it('replacing a pipeline whose file also holds a preset another file uses: both 409 CONFIG_CONFLICT', async () => {
    const { dry } = await both(`pipeline: {name: shared_p, item_type: sku_id, initialization: {includes: [${STATIC}]}}\n`);
    expect(dry.status).toBe(409);
    expect(dry.json['code']).toBe('CONFIG_CONFLICT');
  });

  it('a new pipeline defining a preset that sorts before its other definition: both 422 DUPLICATE_NAME, filed against the other file', async () => {
    const { dry } = await both(`operators:\n  Xs: ${STATIC}\n${uses('a_first', 'Xs')}`);
    expect(dry.status).toBe(422);
    expect(dry.json['errors']).toEqual([expect.objectContaining({ code: 'DUPLICATE_NAME', file: 'shared.yaml' })]);
  });

  it('a body an admin put does not take (no pipeline:, a bad name) is refused alike', async () => {
    for (const body of ['operators: {Ys: {use: Static, parameters: {items: [1]}}}\n', uses('bad name!', 'Xs')]) {
      const { dry } = await both(body);
      expect(dry.json['code']).toBe('CONFIG_INVALID');
    }
  });

  it('a good body: 200 valid, then 201 applied', async () => {
    const { dry, real } = await both(uses('fine', 'Xs'));
    expect(dry.json).toEqual({ valid: true, errors: [] });
    expect(real.status).toBe(201);
  });
});

describe('issue: refused admin POSTs piled up in the rejections of GET /pipelines', () => {
  it('refused POSTs are answered, not listed as rejections; no served pipeline gets one as its last_rejection', async () => {
    for (let i = 0; i < 10; i++) {
      expect((await call('POST', '/pipelines', `operators:\n  Xs: ${STATIC}\n${uses(`a_bad${i}`, 'Xs')}`)).status).toBe(422);
      expect((await call('POST', '/pipelines', uses(`bad${i}`, 'NoSuchPreset'))).status).toBe(422);
    }
    const listed = await call('GET', '/pipelines');
    expect(listed.json['rejections']).toEqual([]);
    for (const p of listed.json['pipelines'] as { name: string; last_rejection: unknown }[]) expect(p.last_rejection, p.name).toBeNull();
  });
});

describe('issue: a section of the wrong shape crashed the checks of configs sent over HTTP (500 INTERNAL)', () => {
  // The configs directory reports each as a CONFIG_INVALID at its place; HTTP answered
  // `(init[key] ?? []).forEach is not a function`, a 500, by /validate, POST /pipelines and /execute.
  const BODIES: [string, string][] = [
    ['includes as a mapping', 'pipeline:\n  name: m1\n  item_type: sku_id\n  initialization:\n    includes:\n      name: Xs\n'],
    ['scores as a mapping', 'pipeline:\n  name: m2\n  item_type: sku_id\n  initialization:\n    includes: [Xs]\n    scores:\n      Column: {weight: 2}\n'],
    ['operations as a mapping', 'pipeline:\n  name: m3\n  item_type: sku_id\n  initialization: {includes: [Xs]}\n  operations: {name: Limit}\n'],
    ['a step that is null', 'pipeline:\n  name: m4\n  item_type: sku_id\n  initialization: {includes: [Xs, null]}\n'],
    ['a preset that is null', 'operators: {Ys: null}\npipeline: {name: m5, item_type: sku_id, initialization: {includes: [Xs]}}\n'],
  ];
  it.each(BODIES)('%s: 422 CONFIG_INVALID at its line, by /validate and POST /pipelines alike', async (_what, body) => {
    const { dry } = await both(body);
    expect(dry.status, JSON.stringify(dry.json)).toBe(422);
    expect(dry.json['code']).toBe('CONFIG_INVALID');
    for (const e of dry.json['errors'] as { file: string; line: number }[]) expect(e).toMatchObject({ file: 'request body', line: expect.any(Number) });
  });
  it.each(BODIES)('%s: /execute answers 422, not 500', async (_what, body) => {
    const res = await request(`${srv.url}/execute`, { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: `${body}inputs: {}\n` });
    const json = (await res.body.json()) as Record<string, unknown>;
    expect([res.statusCode, json['code']], JSON.stringify(json)).toEqual([422, 'CONFIG_INVALID']);
  });
});

/**
 * What broke: a custom operator's error lost its code crossing the worker boundary
 * (`{"code":"OPERATOR_FAILED","operator":"Boom"}`, nothing of the operator's own code). Now an
 * execution code from the catalogue arrives as it was thrown, and any other code (the operator's own,
 * or a catalogue code that means something else at the HTTP layer) arrives as `operator_code` beside
 * OPERATOR_FAILED, with the message and the step, through the worker pool.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { ROOT, server, tempDir } from './helpers.js';

let srv: RunningServer;
const CODES = ['OUT_OF_STOCK', 'MODEL_FAILED', 'INPUT_INVALID', 'UNAUTHORIZED', 'OVERLOADED'];

beforeAll(async () => {
  const dir = await tempDir('airmail-coded-');
  await writeFile(join(dir, 'coded.yaml'), [
    `operator_paths: [${JSON.stringify(join(ROOT, 'test/fixtures/operators'))}]`,
    'operators: {Boom: {use: Coded}}',
    'pipelines:',
    ...CODES.map((code) => [
      `- name: ${code.toLowerCase()}`,
      '  item_type: id',
      '  initialization: {includes: [{name: Static, parameters: {items: [1, 2, 3]}}]}',
      `  operations: [{name: Boom, parameters: {code: ${code}}}]`,
    ].join('\n')),
    '',
  ].join('\n'));
  // Every request on a worker (no inline fast path), so each error crosses the boundary.
  srv = await server({ configs: dir, threads: 1, inlineUnderMs: 0, watch: false });
  expect(srv.startErrors).toEqual([]);
}, 60_000);
afterAll(async () => srv?.close());

async function post(name: string): Promise<{ status: number; json: Record<string, unknown>; headers: Record<string, unknown> }> {
  const res = await request(`${srv.url}/pipelines/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown>, headers: res.headers };
}

describe('an operator error crosses the worker boundary intact', () => {
  it("an operator's own code arrives as operator_code beside OPERATOR_FAILED, with its message and step", async () => {
    const r = await post('out_of_stock');
    expect(r.status).toBe(500);
    expect(r.json).toMatchObject({ error: true, code: 'OPERATOR_FAILED', operator_code: 'OUT_OF_STOCK', operator: 'Boom', pipeline: 'out_of_stock' });
    expect(r.json['reason']).toBe('Boom: the shelf is empty (OUT_OF_STOCK)');
  });

  it('an execution code from the catalogue is kept, with its status', async () => {
    const model = await post('model_failed');
    expect(model.status).toBe(500);
    expect(model.json).toMatchObject({ code: 'MODEL_FAILED', operator: 'Boom' });
    expect(model.json).not.toHaveProperty('operator_code');
    const input = await post('input_invalid');
    expect(input.status).toBe(422);
    expect(input.json).toMatchObject({ code: 'INPUT_INVALID', operator: 'Boom' });
  });

  it('a catalogue code that is not an execution failure cannot set the status: 500 OPERATOR_FAILED, no Retry-After', async () => {
    const auth = await post('unauthorized');
    expect(auth.status).toBe(500);
    expect(auth.json).toMatchObject({ code: 'OPERATOR_FAILED', operator_code: 'UNAUTHORIZED', operator: 'Boom' });
    const busy = await post('overloaded');
    expect(busy.status).toBe(500);
    expect(busy.json).toMatchObject({ code: 'OPERATOR_FAILED', operator_code: 'OVERLOADED' });
    expect(busy.headers['retry-after']).toBeUndefined();
  });
});

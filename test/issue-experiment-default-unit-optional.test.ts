/**
 * Issue: an experiment with a `default:` arm (the cold-start answer for a visitor with no customer id)
 * answers a request without its unit with that arm, as the README says, yet `GET /pipelines/NAME` and
 * `/openapi.json` listed the unit as required (`?customer_id` with `required: true`), so a client
 * generated from the document could not make the anonymous call the server takes. With a default arm
 * the unit is optional there; without one it stays required (its absence is a 422).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { server, tempDir } from './helpers.js';

const CONFIG = `
datasets:
  books: {path: books.json, key: isbn}
pipelines:
- name: for_reader
  item_type: isbn
  inputs: {customer_id: {type: integer}}
  initialization: {includes: [{name: Lookup, parameters: {dataset: books, where: {shelf: $customer_id}}}]}
- name: bestsellers
  item_type: isbn
  inputs: {customer_id: {type: integer, default: 0}}
  initialization: {includes: [{name: Lookup, parameters: {dataset: books}}]}
experiments:
- name: home
  unit: $customer_id
  default: bestsellers
  arms: [{pipeline: bestsellers, weight: 1}, {pipeline: for_reader, weight: 1}]
- name: strict_home
  unit: $customer_id
  arms: [{pipeline: bestsellers, weight: 1}, {pipeline: for_reader, weight: 1}]
`;

let srv: RunningServer;
beforeAll(async () => {
  const dir = await tempDir('airmail-exp-default-unit-');
  await writeFile(join(dir, 'books.json'), JSON.stringify([{ isbn: '0306406152', shelf: 1 }, { isbn: '080442957X', shelf: 2 }]));
  await writeFile(join(dir, 'shop.yaml'), CONFIG);
  srv = await server({ configs: dir, threads: 0 });
});
afterAll(async () => srv?.close());

const get = async (path: string): Promise<{ status: number; json: Record<string, any> }> => {
  const r = await request(`${srv.url}${path}`);
  return { status: r.statusCode, json: (await r.body.json()) as Record<string, any> };
};

describe('the unit of an experiment with a default arm', () => {
  it('is optional in its description and in /openapi.json, as the server takes it', async () => {
    expect((await get('/pipelines/home')).json['inputs']['required']).toEqual([]);
    const doc = (await get('/openapi.json')).json;
    expect(doc['components']['schemas']['inputs.home']['required'] ?? []).toEqual([]);
    const param = (doc['paths']['/pipelines/home/run']['get']['parameters'] as Record<string, unknown>[]).find((p) => p['name'] === 'customer_id');
    expect(param?.['required']).toBe(false);
    const anonymous = await get('/pipelines/home/run');
    expect([anonymous.status, anonymous.json['experiment']]).toEqual([200, { name: 'home', arm: 'bestsellers', assignment: 'default' }]);
  });

  it('stays required without a default arm, and its absence is a 422', async () => {
    expect((await get('/pipelines/strict_home')).json['inputs']['required']).toEqual(['customer_id']);
    expect((await get('/openapi.json')).json['components']['schemas']['inputs.strict_home']['required']).toEqual(['customer_id']);
    expect((await get('/pipelines/strict_home/run')).status).toBe(422);
  });
});

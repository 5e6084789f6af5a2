/**
 * The HTTP surface end to end, on the demo configs, with execution on the
 * worker pool: each error code produced by the bad input that causes it,
 * and the server still serving afterwards.
 */
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { RunningServer } from '../engine/server.js';
import { demoConfigs, server } from './helpers.js';

const TOKEN = 'test-admin-token';
let srv: RunningServer;

async function call(method: string, path: string, body?: string | object, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown>; headers: Record<string, unknown> }> {
  const isText = typeof body === 'string';
  const res = await request(`${srv.url}${path}`, {
    method: method as 'GET',
    headers: body === undefined ? headers : { 'content-type': isText ? 'application/yaml' : 'application/json', ...headers },
    ...(body === undefined ? {} : { body: isText ? body : JSON.stringify(body) }),
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? (JSON.parse(text) as Record<string, unknown>) : {}, headers: res.headers };
}

const COMPLIMENTARY = { client_id: 17, product_id: 42 };

beforeAll(async () => {
  srv = await server({ configs: await demoConfigs(), adminToken: TOKEN, bodyLimit: 64 * 1024 });
  expect(srv.startErrors).toEqual([]);
});
afterAll(async () => srv?.close());

describe('pipelines over HTTP', () => {
  it('serves the demo complimentary_items pipeline', async () => {
    const r = await call('POST', '/pipelines/complimentary_items', COMPLIMENTARY);
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ error: false, reason: null, pipeline: 'complimentary_items' });
    const items = r.json['items'] as { sku_id: number; product_id: number; score: number }[];
    expect(items.length).toBe(10);
    expect(Object.keys(items[0]!)).toEqual(['sku_id', 'product_id', 'score']);
    for (let i = 1; i < items.length; i++) expect(items[i - 1]!.score).toBeGreaterThanOrEqual(items[i]!.score);
    expect(typeof r.json['version']).toBe('string');
    expect(typeof r.json['took_ms']).toBe('number');
  });

  it('serves the seed pipeline unchanged', async () => {
    const r = await call('GET', '/pipelines/MyPipeline?client_id=3');
    expect(r.status).toBe(200);
    const items = r.json['items'] as { sku_id: number; score: number }[];
    expect(items.length).toBeGreaterThan(0);
    for (let i = 1; i < items.length; i++) expect(items[i - 1]!.score).toBeGreaterThanOrEqual(items[i]!.score);
  });

  it('runs GET with query parameters like POST with a body', async () => {
    const a = await call('POST', '/pipelines/complimentary_items', COMPLIMENTARY);
    const b = await call('GET', '/pipelines/complimentary_items?client_id=17&product_id=42');
    expect(b.status).toBe(200);
    expect(b.json['items']).toEqual(a.json['items']);
  });

  it('executes the same pipeline posted as YAML and as JSON with the same items', async () => {
    const doc = {
      pipeline: {
        name: 'adhoc',
        item_type: 'sku_id',
        initialization: { includes: [{ name: 'AvailableInventory' }], scores: [{ name: 'PsaleScore' }] },
        operations: [{ name: 'Sort', parameters: { by: 'score', desc: true } }, { name: 'Limit', parameters: { n: 5 } }],
      },
      inputs: { client_id: 5 },
    };
    const asJson = await call('POST', '/execute', doc);
    const asYaml = await call('POST', '/execute', stringify(doc));
    expect(asJson.status).toBe(200);
    expect((asJson.json['items'] as unknown[]).length).toBe(5);
    expect(asYaml.json['items']).toEqual(asJson.json['items']);
    expect(asYaml.json['version']).toEqual(asJson.json['version']);
  });

  it('answers an empty result with a reason, not an error', async () => {
    const r = await call('POST', '/execute', {
      pipeline: {
        name: 'empty', item_type: 'sku_id',
        initialization: { includes: ['AvailableInventory'] },
        operations: [{ name: 'Match', parameters: { column: 'department', value: 'no-such-department' } }],
      },
      inputs: { client_id: 5 },
    });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ items: [], error: false });
    expect(r.json['reason']).toMatch(/^Match\(column=department, value=no-such-department\) returned 0 items after filtering \d+$/);
  });

  it('lists pipelines with versions and load times, and describes one', async () => {
    const r = await call('GET', '/pipelines');
    const names = (r.json['pipelines'] as { name: string; version: string; loaded_at: string }[]).map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(['complimentary_items', 'MyPipeline']));
    const one = await call('GET', '/pipelines/complimentary_items');
    expect(one.json).toMatchObject({ name: 'complimentary_items', inputs: { required: ['client_id', 'product_id'] } });
  });

  it('generates OpenAPI with each pipeline input schema, and docs', async () => {
    const r = await call('GET', '/openapi.json');
    const post = (r.json['paths'] as Record<string, { post: { requestBody: { content: Record<string, { schema: unknown }> } } }>)['/pipelines/complimentary_items']!.post;
    // The body schema is one named schema (a generated client's type for the inputs), referred to.
    expect(post.requestBody.content['application/json']!.schema).toEqual({ $ref: '#/components/schemas/inputs.complimentary_items' });
    const schemas = (r.json['components'] as { schemas: Record<string, unknown> }).schemas;
    expect(schemas['inputs.complimentary_items']).toMatchObject({ properties: { client_id: { type: 'integer' }, product_id: { type: 'integer' } } });
    const docs = await request(`${srv.url}/docs`);
    expect(await docs.body.text()).toContain('complimentary_items');
  });

  it('shows the plan with the department filter before the scorer', async () => {
    const r = await call('GET', '/pipelines/complimentary_items/explain');
    const phases = (r.json['plan'] as { phase: string; steps?: { step: string }[] }[]);
    const pre = phases.find((p) => p.phase === 'operations before scoring');
    expect(pre?.steps?.map((s) => s.step)).toEqual(['Hydrate', 'MatchDepartment']);
  });

  it('shows paths as the config wrote them, not the server\'s folders (the model was absolute, its pinned copy under /tmp)', async () => {
    const r = await call('GET', '/pipelines/complimentary_items/explain');
    const phases = r.json['plan'] as { phase: string; steps?: { operator: string; parameters: Record<string, unknown> }[] }[];
    const model = phases.flatMap((p) => p.steps ?? []).find((s) => s.operator === 'ModelScore')!;
    expect(model.parameters['model']).toBe('models/psale_demo.onnx');
    expect(model.parameters['pinned']).toMatch(/^[0-9a-f]{16}-psale_demo\.onnx$/);
    expect(JSON.stringify(r.json)).not.toContain(tmpdir());
  });
});

describe('error codes (and the server keeps serving)', () => {
  it('400 for an unparsable body', async () => {
    const r = await call('POST', '/pipelines/complimentary_items', '{"client_id": 1,', { 'content-type': 'application/json' });
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ error: true, code: 'BODY_UNPARSABLE' });
  });

  it('400 for __proto__ keys in JSON', async () => {
    const r = await call('POST', '/pipelines/complimentary_items', '{"client_id": 1, "product_id": 2, "__proto__": {"x": 1}}', { 'content-type': 'application/json' });
    expect(r.status).toBe(400);
  });

  it('422 with JSON pointers for inputs that break the schema', async () => {
    const r = await call('POST', '/pipelines/complimentary_items', { client_id: 'seventeen' });
    expect(r.status).toBe(422);
    expect(r.json).toMatchObject({ error: true, code: 'INPUT_INVALID' });
    const errors = r.json['errors'] as { path: string; message: string }[];
    expect(errors).toEqual(expect.arrayContaining([
      expect.objectContaining({ path: '/client_id' }),
      expect.objectContaining({ path: '/product_id', message: "'product_id' is required" }),
    ]));
  });

  it('422 naming the problem for an invalid pipeline sent to /execute', async () => {
    const r = await call('POST', '/execute', { pipeline: { name: 'x', item_type: 'sku_id', initialization: { includes: ['NoSuchThing'] } } });
    expect(r.status).toBe(422);
    expect(r.json).toMatchObject({ code: 'UNKNOWN_OPERATOR' });
    expect(r.json['reason']).toContain('NoSuchThing');
  });

  it('404 for an unknown pipeline', async () => {
    const r = await call('POST', '/pipelines/nope', {});
    expect(r.status).toBe(404);
    expect(r.json).toMatchObject({ code: 'PIPELINE_NOT_FOUND' });
  });

  it('401 for admin calls without the token', async () => {
    const body = { pipeline: { name: 'added', item_type: 'sku_id', initialization: { includes: ['AvailableInventory'] } } };
    expect((await call('POST', '/pipelines', body)).status).toBe(401);
    expect((await call('POST', '/pipelines', body, { authorization: 'Bearer wrong' })).status).toBe(401);
    expect((await call('DELETE', '/pipelines/MyPipeline')).status).toBe(401);
  });

  it('413 for a body over the limit, declared or chunked', async () => {
    const big = JSON.stringify({ client_id: 1, product_id: 2, pad: 'x'.repeat(100 * 1024) });
    expect((await call('POST', '/pipelines/complimentary_items', big, { 'content-type': 'application/json' })).status).toBe(413);
    const chunked = await request(`${srv.url}/pipelines/complimentary_items`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Readable.from((function* () {
        for (let i = 0; i < 100; i++) yield Buffer.from('x'.repeat(1024));
      })()),
    });
    expect(chunked.statusCode).toBe(413);
    await chunked.body.dump();
  });

  it('415 for a body type it cannot read', async () => {
    const r = await call('POST', '/execute', 'pipeline: x', { 'content-type': 'text/csv' });
    expect(r.status).toBe(415);
  });

  it('still serves after all of that', async () => {
    const r = await call('POST', '/pipelines/complimentary_items', COMPLIMENTARY);
    expect(r.status).toBe(200);
    expect((r.json['items'] as unknown[]).length).toBe(10);
    expect((await call('GET', '/health')).status).toBe(200);
    expect((await call('GET', '/ready')).status).toBe(200);
  });
});

describe('admin', () => {
  it('adds, replaces and deletes a pipeline with the token, persisting it', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const body = { pipeline: { name: 'added', item_type: 'sku_id', initialization: { includes: ['AvailableInventory'] }, operations: [{ name: 'Limit', parameters: { n: 3 } }] } };
    const created = await call('POST', '/pipelines', body, auth);
    expect(created.status).toBe(201);
    const run = await call('POST', '/pipelines/added', { client_id: 9 });
    expect((run.json['items'] as unknown[]).length).toBe(3);
    const bad = await call('POST', '/pipelines', { pipeline: { ...body.pipeline, operations: [{ name: 'Limit', parameters: { n: 'three' } }] } }, auth);
    expect(bad.status).toBe(422);
    expect(bad.json['code']).toBe('BAD_PARAMETER');
    // The bad replacement changed nothing.
    expect(((await call('POST', '/pipelines/added', { client_id: 9 })).json['items'] as unknown[]).length).toBe(3);
    const replaced = await call('POST', '/pipelines', { pipeline: { ...body.pipeline, operations: [{ name: 'Limit', parameters: { n: 2 } }] } }, { ...auth, 'content-type': 'application/json' });
    expect(replaced.status).toBe(200);
    expect(((await call('POST', '/pipelines/added', { client_id: 9 })).json['items'] as unknown[]).length).toBe(2);
    expect((await call('DELETE', '/pipelines/added', undefined, auth)).status).toBe(204);
    expect((await call('POST', '/pipelines/added', { client_id: 9 })).status).toBe(404);
  });
});

/**
 * What a new-user audit found at the HTTP surface: /openapi.json left out routes the app serves
 * (DELETE /pipelines/{name}, GET /pipelines/{name}/run); a wrong method on a route that exists was
 * 404 NOT_FOUND, not 405 with Allow; error bodies had no took_ms, and /execute errors no pipeline or
 * version, though the README gives every error the response shape.
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../engine/http/app.js';
import type { RunningServer } from '../engine/server.js';
import { demoConfigs, server } from './helpers.js';

let srv: RunningServer;

beforeAll(async () => {
  srv = await server({ configs: await demoConfigs(), threads: 1, adminToken: 'a-token', watch: false });
  expect(srv.startErrors).toEqual([]);
});
afterAll(async () => srv?.close());

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown>; headers: Record<string, unknown> }> {
  const res = await request(`${srv.url}${path}`, {
    method: method as 'GET',
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await res.body.text();
  return { status: res.statusCode, json: text ? (JSON.parse(text) as Record<string, unknown>) : {}, headers: res.headers };
}

describe('/openapi.json', () => {
  it('documents every route the app serves', async () => {
    const paths = (await call('GET', '/openapi.json')).json['paths'] as Record<string, Record<string, unknown>>;
    const pipelines = [...srv.engine.snapshot.pipelines.keys()];
    const deployments = [...(srv.engine.snapshot.deployments?.keys() ?? [])];
    const missing: string[] = [];
    for (const r of createApp(srv.engine).routes) {
      if (r.method === 'ALL' || r.path === '/') continue; // middleware; the redirect to /ui
      const names = r.path.startsWith('/models/') ? deployments : pipelines;
      // A route is documented under its template ({name}) or under each loaded name.
      const templated = r.path.replace(/:(\w+)/g, '{$1}');
      const concrete = names.map((n) => r.path.replace(':name', n).replace(/:(\w+)/g, '{$1}'));
      const documented = paths[templated]?.[r.method.toLowerCase()] !== undefined ||
        (concrete.length > 0 && concrete.every((p) => paths[p]?.[r.method.toLowerCase()] !== undefined)) ||
        (names.length === 0 && r.path.includes(':name/')); // per-name routes with nothing loaded under them
      if (!documented) missing.push(`${r.method} ${r.path}`);
    }
    expect(missing).toEqual([]);
    expect(paths['/pipelines/complimentary_items']).toHaveProperty('delete');
    expect(paths['/pipelines/complimentary_items/run']).toHaveProperty('get');
  });
});

describe('a method a route does not take', () => {
  it('is 405 with Allow on a route that exists, and still 404 where there is no route', async () => {
    const put = await call('PUT', '/pipelines/MyPipeline', {});
    expect(put.status).toBe(405);
    expect(put.headers['allow']).toBe('GET, HEAD, POST, DELETE');
    expect(put.json).toMatchObject({ error: true, code: 'METHOD_NOT_ALLOWED', items: [] });
    const del = await call('DELETE', '/execute');
    expect([del.status, del.headers['allow']]).toEqual([405, 'POST']);
    const none = await call('PUT', '/no/such/route', {});
    expect([none.status, none.json['code'], none.headers['allow']]).toEqual([404, 'NOT_FOUND', undefined]);
  });
});

describe('error bodies have the response shape', () => {
  it('items, error, reason, pipeline, version and took_ms, with the stable code', async () => {
    const unknown = await call('POST', '/pipelines/nope', {});
    expect(unknown.json).toMatchObject({ items: [], error: true, pipeline: null, version: null, code: 'PIPELINE_NOT_FOUND' });
    expect(typeof unknown.json['took_ms']).toBe('number');
    const version = srv.engine.pipeline('MyPipeline').version;
    const notObject = await call('POST', '/pipelines/MyPipeline?debug=false', [1]);
    expect(notObject.json).toMatchObject({ pipeline: 'MyPipeline', version, code: 'INPUT_INVALID', errors: [{ path: '' }] });
    expect(typeof notObject.json['took_ms']).toBe('number');
  });

  it('/execute errors name the pipeline, and its version once it compiled', async () => {
    const pipeline = { name: 'adhoc', item_type: 'sku_id', initialization: { includes: [{ name: 'Static', parameters: { items: [1, 2] } }] } };
    const bad = await call('POST', '/execute', { pipeline, inputs: { colour: 'red' } });
    expect(bad.status).toBe(422);
    expect(bad.json).toMatchObject({ error: true, code: 'INPUT_INVALID', pipeline: 'adhoc', version: expect.any(String) });
    expect(typeof bad.json['took_ms']).toBe('number');
    const broken = await call('POST', '/execute', { pipeline: { ...pipeline, operations: ['NoSuchOperator'] } });
    expect(broken.status).toBe(422);
    expect(broken.json).toMatchObject({ error: true, code: 'UNKNOWN_OPERATOR', pipeline: 'adhoc', version: null });
  });
});

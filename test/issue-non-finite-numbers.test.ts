/**
 * Numbers JSON has no value for. YAML's `.inf`, `-.inf` and `.nan`, and a JSON number past
 * 1.8e308 (`1e309`, which JSON.parse reads as Infinity), passed every check of a config (ajv takes
 * Infinity for an integer) and were sent to the workers as JSON, where they arrive as null: a
 * pipeline with `Limit: {n: .inf}`, from /execute or the configs directory, loaded, and every
 * request to it was a 500 OPERATOR_FAILED "'n' must be a non-negative number, got null", and `.inf`,
 * `-.inf` and `.nan` hashed to one version. A config or body holds JSON values only: such a number
 * is refused where it is written (400 BODY_UNPARSABLE, or CONFIG_SYNTAX with file and line).
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../engine/config/parse.js';
import type { RunningServer } from '../engine/server.js';
import { demoConfigs, server } from './helpers.js';

let srv: RunningServer;

beforeAll(async () => {
  srv = await server({ configs: await demoConfigs(), threads: 1, watch: false, adminToken: 'tok' });
  expect(srv.startErrors).toEqual([]);
});
afterAll(async () => srv?.close());

async function call(path: string, body: string, type: string, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await request(`${srv.url}${path}`, { method: 'POST', body, headers: { 'content-type': type, ...headers } });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}

const yamlPipeline = (n: string): string => `pipeline:\n  name: x\n  item_type: sku_id\n  initialization:\n    includes: [{name: Static, parameters: {items: [1, 2, 3]}}]\n  operations: [{name: Limit, parameters: {n: ${n}}}]\ninputs: {}\n`;
const jsonPipeline = (n: string): string => `{"pipeline":{"name":"x","item_type":"sku_id","initialization":{"includes":[{"name":"Static","parameters":{"items":[1,2,3]}}]},"operations":[{"name":"Limit","parameters":{"n":${n}}}]},"inputs":{}}`;

describe('numbers JSON has no value for', () => {
  it.each([
    ['.inf', yamlPipeline('.inf')],
    ['-.inf', yamlPipeline('-.inf')],
    ['.nan', yamlPipeline('.NaN')],
    ['1e400', yamlPipeline('1e400')],
  ])('YAML %s is a 400 naming it, in /execute, /validate and admin POST, never a 500', async (_name, body) => {
    for (const [path, headers] of [['/execute', {}], ['/validate', {}], ['/pipelines', { authorization: 'Bearer tok' }]] as const) {
      const r = await call(path, body, 'application/yaml', headers);
      expect(r.status, `${path} ${_name}`).toBe(400);
      expect(r.json['code']).toBe('BODY_UNPARSABLE');
      expect(String(r.json['reason'])).toMatch(/not a JSON number|past the largest JSON number/);
    }
  });

  it.each([
    ['1e309', jsonPipeline('1e309')],
    ['-1E+999', jsonPipeline('-1E+999')],
    ['400 digits', jsonPipeline('9'.repeat(400))],
  ])('JSON %s (read as Infinity) is a 4xx naming where, in /execute, /validate and admin POST, never a 500', async (_name, body) => {
    for (const [path, headers] of [['/execute', {}], ['/validate', {}], ['/pipelines', { authorization: 'Bearer tok' }]] as const) {
      const r = await call(path, body, 'application/json', headers);
      expect([400, 422], `${path} ${_name}: ${JSON.stringify(r.json).slice(0, 300)}`).toContain(r.status);
      expect(JSON.stringify(r.json)).toMatch(/operations\/0\/parameters\/n.*(not a JSON number|past the largest JSON number)|past the largest JSON number/);
    }
  });

  it('finite numbers still run', async () => {
    const r = await call('/execute', jsonPipeline('2'), 'application/json');
    expect(r.status).toBe(200);
    expect((r.json['items'] as unknown[]).length).toBe(2);
  });

  it('a config file with `.inf` is a CONFIG_SYNTAX problem with its line, not a pipeline that fails every request', () => {
    const r = parseConfigText('pipeline:\n  name: x\n  operations:\n  - {name: Limit, parameters: {n: .inf}}\n', 'x.yaml');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]).toMatchObject({ code: 'CONFIG_SYNTAX', file: 'x.yaml', line: 4, pointer: '/pipeline/operations/0/parameters/n' });
    expect(r.diagnostics[0]!.message).toContain("'.inf' is not a JSON number");
  });
});

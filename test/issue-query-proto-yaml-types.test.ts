/**
 * Regressions from a second adversarial pass over untrusted input:
 *  - `?__proto__=1` was silently dropped (the query was copied into a plain object, where that name
 *    sets the prototype), so the request ran as if it had not been sent, while `?constructor=1` was a 422.
 *  - YAML bodies could carry `!!binary`, `!!set`, `!!omap`, `!!pairs`, `!!timestamp` and `!!merge`: the
 *    parser resolves them even in the core schema, into a Buffer, Set, Map, Date or Symbol (or merged
 *    keys); `!!merge <<` as a parameter of /execute answered "Symbol(<<) could not be cloned."
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../engine/server.js';
import { demoConfigs, server } from './helpers.js';

let srv: RunningServer;
const protoKeys = Object.getOwnPropertyNames(Object.prototype).sort();

beforeAll(async () => {
  srv = await server({ configs: await demoConfigs(), threads: 1, watch: false, adminToken: 'tok' });
  expect(srv.startErrors).toEqual([]);
});
afterAll(async () => srv?.close());

async function call(method: string, path: string, body?: string, type = 'application/yaml', headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await request(`${srv.url}${path}`, { method: method as 'GET', ...(body === undefined ? {} : { body }), headers: { ...(body === undefined ? {} : { 'content-type': type }), ...headers } });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}

describe('query names that are Object.prototype properties', () => {
  it.each([
    '/pipelines/complimentary_items?client_id=17&product_id=42&__proto__=1',
    '/pipelines/complimentary_items/run?client_id=17&product_id=42&__proto__=a&__proto__=b',
    '/pipelines/complimentary_items?client_id=17&product_id=42&constructor=1',
  ])('%s is a 422 naming the key, like any unknown input', async (path) => {
    const r = await call('GET', path);
    expect(r.status).toBe(422);
    expect(r.json['code']).toBe('INPUT_INVALID');
    expect(JSON.stringify(r.json['errors'])).toMatch(/"path":"\/(__proto__|constructor)"/);
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoKeys);
  });

  it('the same request without it still runs', async () => {
    expect((await call('GET', '/pipelines/complimentary_items?client_id=17&product_id=42')).status).toBe(200);
  });
});

describe('YAML types that are not JSON', () => {
  const pipeline = (items: string) => `pipeline:\n  name: x\n  item_type: sku_id\n  initialization:\n    includes: [{name: Static, parameters: {items: ${items}}}]\ninputs: {}\n`;
  it.each(['!!binary AQID', '!!set {1, 2}', '!!omap [a: 1]', '!!pairs [a: 1]', '!!timestamp 2001-12-14', '!!merge <<'])('%s is a 400 naming the tag, in inputs, /execute, /validate and admin POST', async (tagged) => {
    const tag = tagged.split(' ')[0]!;
    const cases: [string, string, Record<string, string>][] = [
      ['/pipelines/complimentary_items', `client_id: 17\nproduct_id: ${tagged}\n`, {}],
      ['/execute', pipeline(tagged), {}],
      ['/validate', pipeline(tagged), {}],
      ['/pipelines', pipeline(tagged), { authorization: 'Bearer tok' }],
    ];
    for (const [path, body, headers] of cases) {
      const r = await call('POST', path, body, 'application/yaml', headers);
      expect(r.status, `${path} ${tagged}`).toBe(400);
      expect(r.json['code']).toBe('BODY_UNPARSABLE');
      expect(r.json['reason']).toContain(`YAML tag ${tag} is not allowed`);
    }
  });

  it('a merge key spelled !!merge does not merge another mapping in', async () => {
    const r = await call('POST', '/pipelines/complimentary_items', 'base: &b {client_id: 17, product_id: 42}\n!!merge <<: *b\n');
    expect(r.status).toBe(400);
    expect(r.json['reason']).toContain('YAML tag !!merge is not allowed');
  });
});

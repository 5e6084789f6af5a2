/**
 * A body made to fail many times is answered with a bounded error: at most MAX_LISTED errors
 * (the rest counted in errors_truncated), a reason naming the first few and how many more, and
 * each echoed key cut short. Before, 50,000 unknown keys gave a 422 eight times the request.
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_LISTED } from '../engine/errors.js';
import type { RunningServer } from '../engine/server.js';
import { demoConfigs, server } from './helpers.js';

const TOKEN = 'amplification-token';
let srv: RunningServer;

beforeAll(async () => {
  srv = await server({ configs: await demoConfigs(), threads: 1, adminToken: TOKEN, watch: false });
  expect(srv.startErrors).toEqual([]);
});
afterAll(async () => srv?.close());

async function post(path: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; size: number; json: Record<string, unknown> }> {
  const res = await request(`${srv.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const text = await res.body.text();
  return { status: res.statusCode, size: Buffer.byteLength(text), json: JSON.parse(text) as Record<string, unknown> };
}

const manyKeys = (n: number, prefix = 'unknown_key_'): Record<string, number> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, i]));

describe('error answers are bounded', () => {
  it('50,000 unknown input keys give a 422 under 10 KB naming the first keys and the count', async () => {
    const body = JSON.stringify({ client_id: 1, product_id: 2, ...manyKeys(50_000, 'k') });
    const r = await post('/pipelines/complimentary_items', body);
    expect(r.status).toBe(422);
    expect(r.json['code']).toBe('INPUT_INVALID');
    expect(r.size).toBeLessThan(10_000);
    expect(r.json['errors']).toHaveLength(MAX_LISTED);
    expect(r.json['errors_truncated']).toBe(50_000 - MAX_LISTED);
    const reason = String(r.json['reason']);
    expect(reason).toContain("'k0'");
    expect(reason).toContain(`(and ${50_000 - 3} more)`);
  });

  it('a huge key is echoed cut short', async () => {
    const key = 'k'.repeat(100_000);
    const r = await post('/pipelines/complimentary_items', JSON.stringify({ client_id: 1, product_id: 2, [key]: 1 }));
    expect(r.status).toBe(422);
    expect(r.size).toBeLessThan(2_000);
    expect(String(r.json['reason'])).toContain('...');
  });

  it('/execute, /validate and admin POST /pipelines bound their config diagnostics the same way', async () => {
    const pipeline = { name: 'posted', item_type: 'sku_id', initialization: { includes: ['AvailableInventory'] }, operations: [{ name: 'Limit', parameters: { n: 2 } }], ...manyKeys(1_000, 'junk_') };
    for (const [path, headers] of [['/execute', {}], ['/validate', {}], ['/pipelines', { authorization: `Bearer ${TOKEN}` }]] as const) {
      const r = await post(path, JSON.stringify({ pipeline }), headers);
      expect(r.status, path).toBe(422);
      expect(r.size, path).toBeLessThan(10_000);
      expect((r.json['errors'] as unknown[]).length, path).toBe(MAX_LISTED);
      expect(r.json['errors_truncated'], path).toBe(1_000 - MAX_LISTED);
      expect(String(r.json['reason']), path).toMatch(/junk_0.*\(and 997 more\)/);
    }
  });
});

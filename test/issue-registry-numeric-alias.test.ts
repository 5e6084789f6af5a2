/**
 * `airmail registry alias psale 3 1` was accepted, but `GET /envelopes/psale/3` reads an all-digit
 * path segment as a version number, so the alias could never be fetched there (it answered version
 * 3, another model): a numeric alias is now refused with NAME_INVALID, saying why.
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type RunningRegistry } from '../engine/registry/fixtures.js';

const MODEL = Buffer.from('export function predict(c) { return { y: Float64Array.from(c.x, (v) => v * 2) }; }\n').toString('base64');

let reg: RunningRegistry;
beforeAll(async () => { reg = await startRegistry({}); });
afterAll(async () => reg?.close());

async function http(method: 'POST' | 'PUT', path: string, body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await request(`${reg.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}

describe('alias names', () => {
  it('an all-digit alias is a 422 NAME_INVALID; a name with digits and letters still works', async () => {
    for (let i = 0; i < 3; i++) expect((await http('POST', '/envelopes', `{"flavor": "js", "name": "m", "description": "d", "artifact": "${MODEL}", "sample": [{"x": 1}]}`)).status).toBe(201);
    const r = await http('PUT', '/aliases/m/3', JSON.stringify({ version: 1 }));
    expect([r.status, r.json['code']]).toEqual([422, 'NAME_INVALID']);
    expect(r.json['reason']).toContain('a version number');
    expect((await http('PUT', '/aliases/m/v3', JSON.stringify({ version: 1 }))).status).toBe(200);
    const got = await request(`${reg.url}/envelopes/m/v3`);
    expect(((await got.body.json()) as { version: number }).version).toBe(1);
  });
});

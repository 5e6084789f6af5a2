/**
 * The registry bounded the publish body (413 BODY_TOO_LARGE) but read the bodies of
 * POST /envelopes/{name}/{version}/metrics and PUT /aliases/{name}/{alias} whole, without a limit:
 * an admin client could make it buffer any size. Both small JSON routes are now bounded (1 MiB by
 * default), by Content-Length or while streaming, with the registry's JSON error.
 */
import { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type RunningRegistry } from '../engine/registry/fixtures.js';

const MODEL = Buffer.from('export function predict(c) { return { y: Float64Array.from(c.x, (v) => v * 2) }; }\n').toString('base64');
const BIG = `{"pad": "${'x'.repeat(2 * 1024 * 1024)}"}`;

let reg: RunningRegistry;
beforeAll(async () => {
  reg = await startRegistry({});
  const r = await request(`${reg.url}/envelopes`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: `{"flavor": "js", "name": "m", "description": "d", "artifact": "${MODEL}", "sample": [{"x": 1}]}` });
  expect(r.statusCode).toBe(201);
  await r.body.dump();
});
afterAll(async () => reg?.close());

async function send(method: 'POST' | 'PUT', path: string, body: string | Readable): Promise<{ status: number; json: Record<string, unknown> }> {
  // A connection of its own: the registry closes one whose body it refused before reading it all.
  const dispatcher = new Agent();
  try {
    const res = await request(`${reg.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body, dispatcher });
    return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
  } finally {
    await dispatcher.destroy();
  }
}

function chunks(s: string): Readable {
  return Readable.from((function* () { for (let i = 0; i < s.length; i += 64 * 1024) yield Buffer.from(s.slice(i, i + 64 * 1024)); })());
}

describe('registry JSON admin bodies are bounded', () => {
  for (const [method, path] of [['POST', '/envelopes/m/1/metrics'], ['PUT', '/aliases/m/champion']] as const) {
    it(`${method} ${path}: a 2 MiB body is a 413 BODY_TOO_LARGE, declared or streamed`, async () => {
      for (const body of [BIG, chunks(BIG)]) {
        const r = await send(method, path, body);
        expect([r.status, r.json['error'], r.json['code']]).toEqual([413, true, 'BODY_TOO_LARGE']);
        expect(r.json['reason']).toContain('1048576 bytes');
      }
    });
  }

  it('small bodies still work', async () => {
    expect((await send('POST', '/envelopes/m/1/metrics', '{"auc": 0.8}')).status).toBe(200);
    expect((await send('PUT', '/aliases/m/champion', '{"version": 1}')).status).toBe(200);
  });
});

/**
 * Regression: a JSON publish whose `artifact` (or `sample`) was not base64 was decoded leniently
 * (Buffer.from skips what it cannot read), so `"artifact": "!!!"` was refused as "the artifact is
 * empty" and a stray character turned into a corrupt-model error. It is now refused as not base64,
 * naming the field and the first bad character.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshot, startRegistry, type RunningRegistry } from '../engine/registry/fixtures.js';

let reg: RunningRegistry;
beforeAll(async () => { reg = await startRegistry(); });
afterAll(async () => { await reg.close(); });

const JS = Buffer.from('export function predict(c) { return { y: c.x }; }\n').toString('base64');

async function publish(body: Record<string, unknown>): Promise<{ status: number; body: { code?: string; reason?: string; version?: number } }> {
  const res = await fetch(`${reg.url}/envelopes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ flavor: 'js', name: 'm', description: 'd', sample: [{ x: 1 }], ...body }) });
  return { status: res.status, body: (await res.json()) as { code?: string; reason?: string } };
}

describe('JSON publish with base64 fields', () => {
  it.each([
    ['an artifact of no base64 at all', { artifact: '!!!' }, /artifact is not base64: "!" at position 0/],
    ['an artifact with a stray character', { artifact: `${JS.slice(0, 8)}*${JS.slice(8)}` }, /artifact is not base64: "\*" at position 8/],
    ['a sample that is not base64', { artifact: JS, sample: 'a,b\n1,2' }, /sample is not base64: "," at position 1/],
  ])('refuses %s, saying so', async (_what, body, message) => {
    const before = await snapshot(reg.root);
    const r = await publish(body);
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('ENVELOPE_INVALID');
    expect(r.body.reason).toMatch(message);
    expect(await snapshot(reg.root)).toEqual(before);
  });

  it('takes base64 with line breaks, and URL-safe base64', async () => {
    expect((await publish({ artifact: JS.replace(/(.{20})/g, '$1\n') })).status).toBe(201);
    expect((await publish({ artifact: Buffer.from('export function predict(c) { return { y: c.x }; } // ??>\n').toString('base64url') })).status).toBe(201);
  });
});

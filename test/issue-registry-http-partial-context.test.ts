/**
 * Regression: a publish over HTTP (a Python training job, curl) that gave part of the context, say
 * `{"language": "python", "languageVersion": "3.11"}`, was refused for lacking runtime,
 * runtimeVersion and packages, so the only way to record the language was to invent the rest. What
 * is given is now recorded and the rest reads `unknown` (packages `{}`), as with no context at all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshot, startRegistry, type RunningRegistry } from '../engine/registry/fixtures.js';

let reg: RunningRegistry;
beforeAll(async () => { reg = await startRegistry(); });
afterAll(async () => { await reg.close(); });

const JS = Buffer.from('export function predict(c) { return { y: c.x }; }\n').toString('base64');

async function publish(body: Record<string, unknown>): Promise<{ status: number; body: { code?: string; reason?: string; context?: Record<string, unknown> } }> {
  const res = await fetch(`${reg.url}/envelopes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ artifact: JS, flavor: 'js', name: 'm', description: 'd', sample: [{ x: 1 }], ...body }) });
  return { status: res.status, body: (await res.json()) as never };
}

describe('a context given in part over HTTP', () => {
  it('records what is given, and unknown for the rest', async () => {
    const r = await publish({ context: { language: 'python', languageVersion: '3.11' } });
    expect(r.status).toBe(201);
    expect(r.body.context).toMatchObject({ runtime: 'unknown', runtimeVersion: 'unknown', language: 'python', languageVersion: '3.11', packages: {} });
  });

  it('records no context as unknown', async () => {
    const r = await publish({});
    expect(r.body.context).toMatchObject({ runtime: 'unknown', runtimeVersion: 'unknown', language: 'unknown', packages: {} });
  });

  it.each([
    ['a context that is not an object', { context: 'python' }, /context must be an object/],
    ['a mistyped field', { context: { runtime: 5 } }, /context\/runtime must be string/],
  ])('refuses %s, with nothing written', async (_what, body, message) => {
    const before = await snapshot(reg.root);
    const r = await publish(body);
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('ENVELOPE_INVALID');
    expect(r.body.reason).toMatch(message);
    expect(await snapshot(reg.root)).toEqual(before);
  });
});

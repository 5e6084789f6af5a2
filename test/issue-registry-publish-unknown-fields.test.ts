/**
 * Regression: an HTTP publish dropped the fields it does not read. `-F featureSource=items:item_id`
 * (a flat form field, where the README puts it in the manifest), `"feature_source"` in a JSON body
 * or a misspelt manifest key published a version without a feature source, answering 201; since a
 * version is never rewritten, the only way out was another publish. Such a field is now refused,
 * naming it and the field meant, and nothing is written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshot, startRegistry, type RunningRegistry } from '../engine/registry/fixtures.js';

let reg: RunningRegistry;
beforeAll(async () => { reg = await startRegistry(); });
afterAll(async () => { await reg.close(); });

const JS = 'export function predict(c) { return { y: c.x }; }\n';

async function post(body: FormData | string, json = false): Promise<{ status: number; body: { code?: string; reason?: string; version?: number; data?: { source?: unknown } } }> {
  const res = await fetch(`${reg.url}/envelopes`, { method: 'POST', ...(json ? { headers: { 'content-type': 'application/json' } } : {}), body });
  return { status: res.status, body: (await res.json()) as { code?: string; reason?: string } };
}

function form(extra: Record<string, string>): FormData {
  const f = new FormData();
  f.set('artifact', new Blob([JS]), 'm.mjs');
  f.set('flavor', 'js');
  f.set('name', 'm');
  f.set('description', 'd');
  f.set('sample', new Blob(['[{"x": 1}]']), 'sample.json');
  for (const [k, v] of Object.entries(extra)) f.set(k, v);
  return f;
}

describe('an HTTP publish with a field it does not read', () => {
  it.each([
    ['a manifest field sent flat in multipart', () => post(form({ featureSource: 'items:item_id' })), /form field "featureSource" is read only from the manifest: send -F 'manifest=\{"featureSource": \.\.\.\}'/],
    ['the CLI spelling sent flat in multipart', () => post(form({ 'feature-source': 'items:item_id' })), /form field "feature-source" is read only from the manifest: send -F 'manifest=\{"featureSource"/],
    ['flat inputs in multipart', () => post(form({ inputs: 'x:float32' })), /form field "inputs" is read only from the manifest/],
    ['an unknown form field', () => post(form({ bogus: '1' })), /form field "bogus" is not a publish field; the fields are artifact, sample/],
    ['a misspelt manifest key', () => post(form({ manifest: '{"featureSorce": {"dataset": "items", "key": "item_id"}}' })), /manifest key "featureSorce" is not a publish field \(did you mean featureSource\?\)/],
    ['a snake_case key in a JSON body', () => post(JSON.stringify({ artifact: Buffer.from(JS).toString('base64'), flavor: 'js', name: 'm', description: 'd', sample: [{ x: 1 }], feature_source: { dataset: 'items', key: 'item_id' } }), true), /key "feature_source" is not a publish field \(did you mean featureSource\?\)/],
  ])('refuses %s, naming it, and writes nothing', async (_what, send, message) => {
    const before = await snapshot(reg.root);
    const r = await send();
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('ENVELOPE_INVALID');
    expect(r.body.reason).toMatch(message);
    expect(await snapshot(reg.root)).toEqual(before);
  });

  it('takes the feature source from the manifest', async () => {
    const r = await post(form({ manifest: '{"featureSource": {"dataset": "items", "key": "item_id"}}' }));
    expect(r.status).toBe(201);
    expect(r.body.data?.source).toEqual({ dataset: 'items', key: 'item_id' });
  });
});

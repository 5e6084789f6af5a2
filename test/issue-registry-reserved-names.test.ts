/**
 * The registry took `__proto__`, `constructor` and `prototype` as model names, aliases, tag keys
 * and metric names, which the engine refuses as names everywhere else: they become keys of plain
 * objects (aliases.json, the index, metrics), where `constructor` is already there and `__proto__`
 * sets the prototype (`--tag __proto__=x` was dropped without a word). Each is now refused with the
 * error that field gets for any bad name, naming the field: NAME_INVALID (model name, alias),
 * ENVELOPE_INVALID (tag key), METRIC_INVALID (metric name).
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertValidEnvelope, type Envelope } from '../engine/registry/envelope.js';
import { registryCli } from '../engine/registry/cli.js';
import { startRegistry, tempDir, type RunningRegistry } from '../engine/registry/fixtures.js';
import { RegistryStore } from '../engine/registry/store.js';

const TOKEN = 'reserved-names-token';
const MODEL = Buffer.from('export function predict(c) { return { y: Float64Array.from(c.x, (v) => v * 2) }; }\n').toString('base64');
const RESERVED = ['__proto__', 'constructor', 'prototype'];

let reg: RunningRegistry;
beforeAll(async () => {
  reg = await startRegistry({ adminToken: TOKEN });
});
afterAll(async () => reg?.close());

async function http(method: 'POST' | 'PUT', path: string, body: string, type = 'application/json'): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await request(`${reg.url}${path}`, { method, headers: { 'content-type': type, authorization: `Bearer ${TOKEN}` }, body });
  return { status: res.statusCode, json: (await res.body.json()) as Record<string, unknown> };
}

/** A JSON publish body; `extra` is spliced in as text, so a `__proto__` key stays a key. */
const publishBody = (name: string, extra = ''): string => `{"flavor": "js", "name": ${JSON.stringify(name)}, "description": "d", "artifact": "${MODEL}", "sample": [{"x": 1}]${extra}}`;

describe('reserved names in the registry', () => {
  it('a model named __proto__, constructor or prototype is a 422 NAME_INVALID naming the model name', async () => {
    for (const name of RESERVED) {
      const r = await http('POST', '/envelopes', publishBody(name));
      expect([r.status, r.json['code']], name).toEqual([422, 'NAME_INVALID']);
      expect(r.json['reason'], name).toContain(`model name ${JSON.stringify(name)} is reserved`);
    }
  });

  it('a reserved tag key is a 422 ENVELOPE_INVALID naming the tag key, as JSON and as a multipart tag field', async () => {
    for (const key of RESERVED) {
      const r = await http('POST', '/envelopes', publishBody('m', `, "tags": {${JSON.stringify(key)}: "x"}`));
      expect([r.status, r.json['code']], key).toEqual([422, 'ENVELOPE_INVALID']);
      expect(r.json['reason'], key).toContain(`tag key ${JSON.stringify(key)} is reserved`);
    }
    const form = new FormData();
    form.set('flavor', 'js');
    form.set('name', 'm');
    form.set('description', 'd');
    form.append('tag', 'prototype=x');
    form.set('artifact', new Blob([Buffer.from(MODEL, 'base64')]), 'm.mjs');
    form.set('sample', new Blob([JSON.stringify([{ x: 1 }])]), 'sample.json');
    const res = await fetch(`${reg.url}/envelopes`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: form });
    const json = (await res.json()) as Record<string, unknown>;
    expect([res.status, json['code']]).toEqual([422, 'ENVELOPE_INVALID']);
    expect(json['reason']).toContain('tag key "prototype" is reserved');
  });

  it('a reserved alias is a 422 NAME_INVALID, a reserved metric name a 422 METRIC_INVALID; a good one still works', async () => {
    const ok = await http('POST', '/envelopes', publishBody('m'));
    expect(ok.status).toBe(201);
    const v = (ok.json as unknown as Envelope).version;
    for (const alias of RESERVED) {
      const r = await http('PUT', `/aliases/m/${alias}`, JSON.stringify({ version: v }));
      expect([r.status, r.json['code']], alias).toEqual([422, 'NAME_INVALID']);
      expect(r.json['reason'], alias).toContain(`alias ${JSON.stringify(alias)} is reserved`);
      const metric = await http('POST', `/envelopes/m/${v}/metrics`, `{${JSON.stringify(alias)}: 0.5}`);
      expect([metric.status, metric.json['code']], alias).toEqual([422, 'METRIC_INVALID']);
      expect(metric.json['reason'], alias).toContain(`metric name ${JSON.stringify(alias)} is reserved`);
    }
    expect((await http('PUT', '/aliases/m/prod', JSON.stringify({ version: v }))).status).toBe(200);
    expect((await http('POST', `/envelopes/m/${v}/metrics`, '{"auc": 0.5}')).status).toBe(200);
    // A stored envelope is checked on read too: a reserved index key fails the schema.
    expect(() => assertValidEnvelope({ ...(ok.json as unknown as Envelope), index: JSON.parse('{"name": "m", "description": "d", "constructor": "x"}') })).toThrow(/propertyName|must NOT be valid/);
  });

  it('airmail publish --tag __proto__=x is refused, not dropped', async () => {
    const dir = await tempDir('airmail-reserved-cli-');
    try {
      await RegistryStore.open(join(dir, 'registry'), { create: true });
      await writeFile(join(dir, 'm.mjs'), Buffer.from(MODEL, 'base64'));
      await writeFile(join(dir, 'xs.json'), JSON.stringify([{ x: 1 }]));
      const err: string[] = [];
      const code = await registryCli(['publish', '--artifact', join(dir, 'm.mjs'), '--flavor', 'js', '--name', 'm', '--description', 'x', '--sample', join(dir, 'xs.json'), '--tag', '__proto__=x', '--registry', join(dir, 'registry')], { out: () => undefined, err: (l) => err.push(l) });
      expect(code).toBe(2); // a usage error since the command line is checked first (issue-registry-cli-exit-codes)
      expect(err.join('\n')).toMatch(/tag key "__proto__" is reserved/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

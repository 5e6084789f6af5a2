/**
 * Untrusted input over HTTP: alias bombs, deep nesting, custom tags and
 * prototype-polluting keys are 400s (fast, and nothing is polluted); configs
 * sent over HTTP can name installed operators, loaded datasets and registry
 * models only, never a file, folder, URL or data: specifier of code.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { RunningServer } from '../engine/server.js';
import { demoConfigs, server, tempDir } from './helpers.js';

const TOKEN = 'input-test-token';
const AUTH = { authorization: `Bearer ${TOKEN}` };
let srv: RunningServer;
const protoKeys = Object.getOwnPropertyNames(Object.prototype).sort();

async function send(method: string, path: string, body: string, contentType: string, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown>; ms: number }> {
  const t0 = performance.now();
  const res = await request(`${srv.url}${path}`, { method: method as 'POST', headers: { 'content-type': contentType, ...headers }, body });
  const text = await res.body.text();
  return { status: res.statusCode, json: JSON.parse(text) as Record<string, unknown>, ms: performance.now() - t0 };
}
const yaml = (path: string, body: string, headers: Record<string, string> = {}) => send('POST', path, body, 'application/yaml', headers);
const json = (path: string, body: string, headers: Record<string, string> = {}) => send('POST', path, body, 'application/json', headers);

/** 9^8 ≈ 43 million "x" once expanded; under 300 bytes as text. */
const BOMB = ['a: &a [x,x,x,x,x,x,x,x,x]', ...'bcdefgh'.split('').map((k, i) => {
  const prev = 'abcdefgh'[i]!;
  return `${k}: &${k} [${Array(9).fill(`*${prev}`).join(',')}]`;
})].join('\n');

const pipeline = (extra: Record<string, unknown> = {}) => ({ name: 'posted', item_type: 'sku_id', initialization: { includes: ['AvailableInventory'] }, operations: [{ name: 'Limit', parameters: { n: 2 } }], ...extra });

beforeAll(async () => {
  srv = await server({ configs: await demoConfigs(), threads: 1, adminToken: TOKEN, watch: false });
  expect(srv.startErrors).toEqual([]);
});
afterAll(async () => srv?.close());

describe('hostile documents', () => {
  it('a 300-byte billion-laughs YAML is a 400 in under 50 ms on /execute, admin POST /pipelines and /validate', async () => {
    expect(BOMB.length).toBeLessThanOrEqual(300);
    for (const [path, headers] of [['/execute', {}], ['/pipelines', AUTH], ['/validate', {}]] as const) {
      // Best of three after a warm-up: the bound is about the work done (an expansion would take
      // seconds), not about the scheduling noise of a shared 2-core machine.
      await yaml(path, BOMB, headers);
      const runs = [await yaml(path, BOMB, headers), await yaml(path, BOMB, headers), await yaml(path, BOMB, headers)];
      for (const r of runs) {
        expect(r.status, path).toBe(400);
        expect(r.json).toMatchObject({ error: true, code: 'BODY_UNPARSABLE' });
      }
      expect(Math.min(...runs.map((r) => r.ms)), path).toBeLessThan(50);
    }
  });

  it('deep nesting is a 400, in JSON and in YAML, not a crash', async () => {
    const deepJson = `{"pipeline": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    for (const path of ['/execute', '/validate', '/pipelines/complimentary_items']) {
      const r = await json(path, deepJson);
      expect(r.status, path).toBe(400);
      expect(r.json['reason']).toMatch(/deeper than/);
    }
    const deepYaml = `pipeline: ${'['.repeat(5000)}${']'.repeat(5000)}`;
    for (const [path, headers] of [['/execute', {}], ['/pipelines', AUTH], ['/validate', {}]] as const) {
      const r = await yaml(path, deepYaml, headers);
      expect(r.status, path).toBe(400);
      expect(r.json['reason'], path).toMatch(/deeper than 64 levels/);
    }
  });

  it('custom YAML tags are refused', async () => {
    for (const doc of ['pipeline: !!js/function "return process.exit(1)"', 'pipeline: !include /etc/passwd', 'inputs: !custom {a: 1}']) {
      const r = await yaml('/execute', doc);
      expect(r.status, doc).toBe(400);
    }
  });

  it.each(['__proto__', 'constructor', 'prototype'])('the key %s is refused in JSON and YAML, at any depth, and nothing is polluted', async (key) => {
    const bodies: [string, string, Record<string, string>][] = [
      ['/execute', `{"pipeline": {"name": "x", "${key}": {"polluted": true}}}`, {}],
      ['/execute', `{"pipeline": ${JSON.stringify(pipeline())}, "inputs": {"client_id": 1, "${key}": {"polluted": true}}}`, {}],
      ['/pipelines/complimentary_items', `{"client_id": 1, "product_id": 2, "${key}": {"polluted": true}}`, {}],
      ['/pipelines', `{"pipeline": {"name": "p", "parameters": {"${key}": {"polluted": true}}}}`, AUTH],
      ['/validate', `{"${key}": {"polluted": true}}`, {}],
    ];
    for (const [path, body, headers] of bodies) {
      const r = await json(path, body, headers);
      expect(r.status, `${path} ${body}`).toBe(400);
      expect(r.json['code']).toBe('BODY_UNPARSABLE');
    }
    for (const [path, headers] of [['/execute', {}], ['/pipelines', AUTH], ['/validate', {}]] as const) {
      const r = await yaml(path, `pipeline:\n  name: x\n  ${key}:\n    polluted: true\n`, headers);
      expect(r.status, path).toBe(400);
    }
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(protoKeys);
  });

  it('the keys are refused when spelled with \\u escapes too (JSON.parse decodes them into the real key)', async () => {
    for (const key of ['\\u005f\\u005fproto__', 'constructo\\u0072', 'prot\\u006ftype']) {
      const r = await json('/pipelines/complimentary_items', `{"client_id": 1, "product_id": 2, "${key}": {"polluted": true}}`);
      expect(r.status, key).toBe(400);
      expect(r.json['code']).toBe('BODY_UNPARSABLE');
    }
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

describe('regular expressions', () => {
  it('a config cannot carry a regex (no pattern keyword in input declarations), so no ReDoS reaches a request', async () => {
    const doc = { pipeline: { ...pipeline(), inputs: { client_id: { type: 'string', pattern: '^(a+)+$' } } } };
    const r = await json('/validate', JSON.stringify(doc));
    expect(r.status).toBe(422);
    expect(JSON.stringify(r.json)).toContain('pattern');
    // The schema's own name pattern is linear: a long hostile name is rejected at once.
    const t0 = performance.now();
    const n = await json('/validate', JSON.stringify({ pipeline: { ...pipeline(), name: `${'a'.repeat(50_000)}!` } }));
    expect(n.status).toBe(422);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});

describe('body limits', () => {
  it('a 413 reads the rest of a body up to 16 MiB first, so its connection carries the next request (larger: closed; test/body-limit-linger.test.ts)', async () => {
    const r = await request(`${srv.url}/pipelines/complimentary_items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"pad": "${'x'.repeat(2 * 1024 * 1024)}"}` });
    expect(r.statusCode).toBe(413);
    expect(r.headers['connection']).not.toBe('close');
    await r.body.dump();
    const next = await request(`${srv.url}/pipelines/complimentary_items`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"client_id": 1, "product_id": 2}' });
    expect(next.statusCode).toBe(200);
    await next.body.dump();
  });
});

describe('configs sent over HTTP cannot load code or files', () => {
  it('a preset can only use an installed operator: paths, URLs and data: specifiers are unknown operators', async () => {
    for (const use of ['./evil.js', '/tmp/evil.mjs', 'file:///tmp/evil.mjs', 'https://example.com/evil.js', 'data:text/javascript,process.exit(7)']) {
      const doc = { operators: { Evil: { use } }, pipeline: pipeline({ operations: [{ name: 'Evil' }] }), inputs: { client_id: 1 } };
      const r = await json('/execute', JSON.stringify(doc));
      expect(r.status, use).toBe(422);
      expect(['UNKNOWN_OPERATOR', 'CONFIG_INVALID']).toContain(r.json['code']);
      const a = await json('/pipelines', JSON.stringify({ operators: { Evil: { use } }, pipeline: pipeline({ operations: [{ name: 'Evil' }] }) }), AUTH);
      expect(a.status, use).toBe(422);
    }
  });

  it('operator_paths and datasets are refused on /execute, admin POST /pipelines and /validate, and nothing is imported', async () => {
    const dir = await tempDir('airmail-evil-');
    const marker = join(dir, 'imported');
    await writeFile(join(dir, 'evil.mjs'), `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'x');\nexport const nothing = 1;\n`);
    const evil = { operator_paths: [dir], pipeline: pipeline() };
    expect((await json('/execute', JSON.stringify({ ...evil, inputs: { client_id: 1 } }))).status).toBe(422);
    expect((await json('/pipelines', JSON.stringify(evil), AUTH)).status).toBe(422);
    const v = await json('/validate', JSON.stringify(evil));
    expect(v.status).toBe(422);
    expect(JSON.stringify(v.json)).toContain('operator_paths');
    const ds = { datasets: { secrets: { path: '/etc/passwd', format: 'json' } }, pipeline: pipeline() };
    expect((await json('/validate', JSON.stringify(ds))).status).toBe(422);
    expect((await json('/pipelines', JSON.stringify(ds), AUTH)).status).toBe(422);
    expect(existsSync(marker)).toBe(false);
  });

  it('a model named by file path is refused; only registry models can be named', async () => {
    const step = { name: 'ModelScore', parameters: { model: '/etc/passwd', features: ['f0'] } };
    const adhoc = await json('/execute', JSON.stringify({ pipeline: pipeline({ initialization: { includes: ['AvailableInventory'], scores: [step] } }), inputs: { client_id: 1 } }));
    expect(adhoc.status).toBe(422);
    for (const model of ['/etc/passwd', '../../../etc/passwd', 'demo/psale.onnx']) {
      const body = { pipeline: pipeline({ initialization: { includes: ['AvailableInventory'], scores: [{ ...step, parameters: { ...step.parameters, model } }] } }) };
      const r = await json('/pipelines', JSON.stringify(body), AUTH);
      expect(r.status, model).toBe(422);
      expect(JSON.stringify(r.json), model).toMatch(/names a file/);
      expect(srv.engine.snapshot.pipelines.has('posted')).toBe(false);
    }
    // The same step through an installed preset (defined in the configs directory) is fine.
    const ok = await json('/pipelines', JSON.stringify({ pipeline: pipeline({ initialization: { includes: ['AvailableInventory'], scores: ['PsaleScore'] } }) }), AUTH);
    expect(ok.status).toBe(201);
  });

  it('still serves afterwards', async () => {
    const r = await json('/pipelines/complimentary_items', JSON.stringify({ client_id: 17, product_id: 42 }));
    expect(r.status).toBe(200);
    expect((r.json['items'] as unknown[]).length).toBe(10);
    expect(stringify({ a: 1 })).toBe('a: 1\n');
  });
});

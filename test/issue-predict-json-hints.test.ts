/**
 * Regression: POST /models/NAME/predict takes JSON, but its 422s gave YAML advice: `"vip": "yes"`
 * for a boolean input said "YAML reads it as text", and `"rows": {}` said "start each entry of a list
 * with '- '". The hints are now JSON's; a non-finite number names its feature.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryCli } from '../engine/registry/cli.js';
import { startRegistry, tempDir, type RunningRegistry } from '../engine/registry/fixtures.js';
import type { RunningServer } from '../engine/server.js';
import { registryServer, closeRegistryWorld } from './helpers.js';

const MODULE = 'export function predict({ age, vip }, rows) { return { churn: Float64Array.from({ length: rows }, (_, i) => (vip[i] ? 0.1 : 0.5) + age[i] / 1000) }; }\n';

describe('/predict errors speak JSON', () => {
  let reg: RunningRegistry;
  let dir: string;
  let srv: RunningServer;
  const predict = async (body: string): Promise<{ status: number; body: { code?: string; errors?: { path: string; message: string }[] } }> => {
    const res = await fetch(`${srv.url}/models/churn/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    return { status: res.status, body: (await res.json()) as { code?: string } };
  };

  beforeAll(async () => {
    reg = await startRegistry();
    dir = await tempDir('airmail-predict-hints-');
    await writeFile(join(dir, 'm.mjs'), MODULE);
    await writeFile(join(dir, 'm.json'), JSON.stringify([{ age: 30.5, vip: true }, { age: 55, vip: false }]));
    expect(await registryCli(['publish', '--registry', reg.url, '--artifact', join(dir, 'm.mjs'), '--flavor', 'js', '--name', 'churn', '--description', 'd', '--sample', join(dir, 'm.json')], { out: () => undefined, err: () => undefined })).toBe(0);
    await mkdir(join(dir, 'configs'));
    await writeFile(join(dir, 'configs', 'd.yaml'), 'deployments:\n- {name: churn, model: {tags: {name: churn}}}\n');
    srv = await registryServer(dir, reg.url);
  });

  afterAll(() => closeRegistryWorld(srv, reg, dir));

  it.each([
    ['"yes" for a boolean', '{"rows": [{"age": 1, "vip": "yes"}]}', '/rows/0/vip', /^'vip' must be true or false or null, not "yes"$/],
    ['"true" for a boolean', '{"rows": [{"age": 1, "vip": "true"}]}', '/rows/0/vip', /not "true": write it without the quotes$/],
    ['an object for rows', '{"rows": {"age": 1, "vip": true}}', '/rows', /^'rows' must be a list, not \{.*\}$/],
    ['a number beyond float64', '{"rows": [{"age": 1e400, "vip": true}]}', '/rows/0/age', /^'age' must be a finite number/],
  ])('%s', async (_what, body, path, message) => {
    const r = await predict(body);
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('INPUT_INVALID');
    const e = r.body.errors?.find((x) => x.path === path);
    expect(e?.message).toMatch(message);
    expect(JSON.stringify(r.body)).not.toMatch(/YAML|'- '/);
  });
});

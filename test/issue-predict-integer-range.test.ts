/**
 * Regression: POST /models/NAME/predict took 99999999999 (and 1e308) for an input published as int32:
 * JSON Schema's `integer` holds any whole float64, so the value went on to the model as a float64
 * (or came back null). Values outside int32's range are refused with a 422 naming the row and the
 * feature, and an int64 input refuses whole numbers past 2^53 (JSON numbers lose digits there).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryCli } from '../engine/registry/cli.js';
import { startRegistry, tempDir, type RunningRegistry } from '../engine/registry/fixtures.js';
import type { RunningServer } from '../engine/server.js';
import { registryServer, closeRegistryWorld } from './helpers.js';

const MODULE = 'export function predict({ n, big }, rows) { return { y: Float64Array.from({ length: rows }, (_, i) => n[i] + big[i]) }; }\n';

describe('/predict refuses integers outside their input type', () => {
  let reg: RunningRegistry;
  let dir: string;
  let srv: RunningServer;
  const predict = async (rows: string): Promise<{ status: number; body: { code?: string; reason?: string; errors?: { path: string; message: string }[]; predictions?: { y: number }[] } }> => {
    const res = await fetch(`${srv.url}/models/m/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"rows": ${rows}}` });
    return { status: res.status, body: (await res.json()) as { code?: string } };
  };

  beforeAll(async () => {
    reg = await startRegistry();
    dir = await tempDir('airmail-predict-int-range-');
    await writeFile(join(dir, 'm.mjs'), MODULE);
    await writeFile(join(dir, 'm.json'), JSON.stringify([{ n: 1, big: 2 }, { n: 3, big: 4 }]));
    expect(await registryCli(['publish', '--registry', reg.url, '--artifact', join(dir, 'm.mjs'), '--flavor', 'js', '--name', 'm', '--description', 'd', '--sample', join(dir, 'm.json'), '--inputs', 'n:int32,big:int64'], { out: () => undefined, err: () => undefined })).toBe(0);
    await mkdir(join(dir, 'configs'));
    await writeFile(join(dir, 'configs', 'd.yaml'), 'deployments:\n- {name: m, model: {tags: {name: m}}}\n');
    srv = await registryServer(dir, reg.url);
  });

  afterAll(() => closeRegistryWorld(srv, reg, dir));

  it.each([
    ['int32 past its maximum', '[{"n": 1, "big": 1}, {"n": 99999999999, "big": 1}]', '/rows/1/n', /'n'.*2147483647.*int32/],
    ['int32 at 1e308', '[{"n": 1e308, "big": 1}]', '/rows/0/n', /'n'.*int32/],
    ['int32 below its minimum', '[{"n": -2147483649, "big": 1}]', '/rows/0/n', /'n'.*-2147483648.*int32/],
    ['int32 given a decimal', '[{"n": 1.5, "big": 1}]', '/rows/0/n', /'n' must be an integer/],
    ['int64 past 2^53', '[{"n": 1, "big": 9007199254740993}]', '/rows/0/big', /'big'.*9007199254740991.*int64/],
  ])('%s', async (_what, rows, path, message) => {
    const r = await predict(rows);
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('INPUT_INVALID');
    const e = r.body.errors?.find((x) => x.path === path);
    expect(e?.message).toMatch(message);
    expect(r.body.reason).toContain(path);
  });

  it('takes the edges of each range', async () => {
    const r = await predict('[{"n": 2147483647, "big": 9007199254740991}, {"n": -2147483648, "big": -9007199254740991}]');
    expect(r.status).toBe(200);
    expect(r.body.predictions?.map((p) => p.y)).toEqual([2147483647 + 9007199254740991, -2147483648 - 9007199254740991]);
  });

  it('states the range in /openapi.json', async () => {
    const spec = (await (await fetch(`${srv.url}/openapi.json`)).json()) as Record<string, Record<string, unknown>>;
    const text = JSON.stringify(spec.paths?.['/models/m/predict']);
    expect(text).toContain('2147483647');
    expect(text).toContain('9007199254740991');
  });
});

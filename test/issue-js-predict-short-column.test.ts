/**
 * POST /models/NAME/predict with a js function that answered a column shorter than the rows sent (or
 * none at all) gave 200 with nulls for the rows it left out: read as missing values, not as a broken
 * model. Pipelines already refused it (MODEL_FAILED); the endpoint now does too. Rows come back in
 * the order sent, for 1 and 1000 rows.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryCli } from '../engine/registry/cli.js';
import { startRegistry, tempDir, type RunningRegistry } from '../engine/registry/fixtures.js';
import type { RunningServer } from '../engine/server.js';
import { registryServer, closeRegistryWorld } from './helpers.js';

const MODULE = `export function predict({ x, y }, rows) {
  if (rows === 3) return { s: new Float64Array(1) };
  if (x[0] === 5) return { t: new Float64Array(rows) };
  const s = new Float64Array(rows);
  for (let i = 0; i < rows; i++) s[i] = x[i] * 10 + y[i];
  return { s };
}
`;

describe('a js function answering the wrong number of values per request', () => {
  let reg: RunningRegistry;
  let dir: string;
  let srv: RunningServer;
  const predict = async (rows: unknown[]): Promise<{ status: number; body: { code?: string; reason?: string; predictions?: { s: number | null }[] } }> => {
    const res = await fetch(`${srv.url}/models/jm/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rows }) });
    return { status: res.status, body: (await res.json()) as { predictions?: { s: number | null }[] } };
  };

  beforeAll(async () => {
    reg = await startRegistry();
    dir = await tempDir('airmail-js-short-');
    await writeFile(join(dir, 'm.mjs'), MODULE);
    await writeFile(join(dir, 'm.json'), JSON.stringify([{ x: 1.5, y: 2 }, { x: 3, y: 4 }]));
    expect(await registryCli(['publish', '--registry', reg.url, '--artifact', join(dir, 'm.mjs'), '--flavor', 'js', '--name', 'jm', '--description', 'd', '--sample', join(dir, 'm.json')], { out: () => undefined, err: () => undefined })).toBe(0);
    await mkdir(join(dir, 'configs'));
    await writeFile(join(dir, 'configs', 'd.yaml'), 'deployments:\n- {name: jm, model: {tags: {name: jm}}}\n');
    srv = await registryServer(dir, reg.url);
  });

  afterAll(() => closeRegistryWorld(srv, reg, dir));

  it('a short column is MODEL_FAILED (500), not nulls', async () => {
    const r = await predict([{ x: 1, y: 2 }, { x: 2, y: 1 }, { x: 0, y: 9 }]);
    expect(r.status).toBe(500);
    expect(r.body).toMatchObject({ code: 'MODEL_FAILED', reason: expect.stringMatching(/jm@1 returned 1 value of 's' for 3 rows/) });
  });

  it('a missing column is MODEL_FAILED (500), not nulls', async () => {
    const r = await predict([{ x: 5, y: 2 }]);
    expect(r.status).toBe(500);
    expect(r.body).toMatchObject({ code: 'MODEL_FAILED', reason: expect.stringMatching(/returned no column 's' for 1 row/) });
  });

  it('1 and 1000 rows answer in the order sent; a null feature is NaN and comes back null', async () => {
    expect((await predict([{ x: 1, y: 2 }])).body.predictions).toEqual([{ s: 12 }]);
    const rows = Array.from({ length: 1000 }, (_, i) => ({ x: i, y: -i }));
    expect((await predict(rows)).body.predictions).toEqual(rows.map((_, i) => ({ s: 9 * i })));
    expect((await predict([{ x: null, y: 2 }, { x: 1, y: 1 }])).body.predictions).toEqual([{ s: null }, { s: 11 }]);
  });
});

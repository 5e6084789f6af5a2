/**
 * A model with a batch-level output beside its score (a scalar such as a mean, shape []) was refused
 * at publish with advice that could not work: "model output 'm' has 0.3333333333333333 values per
 * row; ... choose a column of it (e.g. m[0]); publish with --outputs psale=m[k]" (no column of a
 * scalar is a score). It is now refused saying the output is not one value per row, and naming the
 * way out, serving only the per-row outputs (--outputs psale=y), which then publishes and serves.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnnxModel } from '../scripts/onnx-builder.js';
import { registryCli } from '../engine/registry/cli.js';
import { startRegistry, tempDir, type RunningRegistry } from '../engine/registry/fixtures.js';
import type { RunningServer } from '../engine/server.js';
import { registryServer, closeRegistryWorld } from './helpers.js';

/** x [N, 2] -> y = a - b [N, 1], and m = mean(y) as a scalar. */
const model = buildOnnxModel({
  inputs: [{ name: 'x', shape: ['N', 2] }],
  outputs: [{ name: 'y', shape: ['N', 1] }, { name: 'm', shape: [] }],
  initializers: [{ name: 'W', dims: [2, 1], values: [1, -1] }],
  nodes: [
    { opType: 'MatMul', inputs: ['x', 'W'], outputs: ['y'] },
    { opType: 'ReduceMean', inputs: ['y'], outputs: ['m'], attributes: { keepdims: { i: 0 } } },
  ],
  opsets: [{ domain: '', version: 17 }],
});

describe('an ONNX model with a scalar output beside its score', () => {
  let reg: RunningRegistry;
  let dir: string;
  let srv: RunningServer | undefined;

  const publish = async (...extra: string[]): Promise<{ code: number; err: string }> => {
    const err: string[] = [];
    const code = await registryCli(['publish', '--registry', reg.url, '--artifact', join(dir, 'm.onnx'), '--flavor', 'onnx', '--name', 'withmean', '--description', 'score and batch mean', '--sample', join(dir, 'sample.csv'), ...extra], { out: () => undefined, err: (l) => err.push(l) });
    return { code, err: err.join('\n') };
  };

  beforeAll(async () => {
    reg = await startRegistry();
    dir = await tempDir('airmail-scalar-out-');
    await writeFile(join(dir, 'm.onnx'), model);
    await writeFile(join(dir, 'sample.csv'), 'a,b\n1,2\n0.5,-1\n3,4\n');
  });

  afterAll(() => closeRegistryWorld(srv, reg, dir));

  it('is refused at publish saying the output is not per row, with advice that works', async () => {
    const r = await publish();
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/MODEL_LOAD_FAILED: the model fails on its sample: model output 'm' has 1 value for 3 rows: it is not one value per row/);
    expect(r.err).toContain("to serve only some of the model's outputs (y, m), name them: --outputs psale=OUTPUT");
    expect(r.err).not.toMatch(/m\[\d|m\[k\]|0\.333/);
    expect((await fetch(`${reg.url}/envelopes/withmean`)).status).toBe(404);
  });

  it('publishes and serves with the per-row output named', async () => {
    expect(await publish('--outputs', 'psale=y')).toEqual({ code: 0, err: '' });
    await mkdir(join(dir, 'configs'));
    await writeFile(join(dir, 'configs', 'd.yaml'), 'deployments:\n- {name: withmean, model: {tags: {name: withmean}}}\n');
    srv = await registryServer(dir, reg.url);
    const res = await fetch(`${srv.url}/models/withmean/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rows: [{ a: 3, b: 1 }, { a: 0.5, b: 1 }] }) });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { predictions: unknown }).predictions).toEqual([{ psale: 2 }, { psale: -0.5 }]);
  });
});

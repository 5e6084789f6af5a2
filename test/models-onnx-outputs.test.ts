/**
 * What an ONNX envelope answers, checked against onnxruntime's own arithmetic:
 *  - an output of several values per row ([N, 2] class probabilities) was read as its column 0
 *    (sklearn's negative class) without a word; it is refused at publish, and by the engine;
 *  - a model with two outputs was published with both as output columns but could never serve
 *    (the warm-up found no values of the second); every declared output now answers;
 *  - declared string inputs of an onnx function were accepted (they cannot be packed into a float tensor);
 *  - GET /models/NAME/query/ID gave a missing feature value as 0, where pipelines give NaN.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnnxModel, logisticModel } from '../scripts/onnx-builder.js';
import { createOnnxModel } from '../engine/onnx.js';
import { registryCli } from '../engine/registry/cli.js';
import { startRegistry, tempDir, type RunningRegistry } from '../engine/registry/fixtures.js';
import type { RunningServer } from '../engine/server.js';
import { registryServer, closeRegistryWorld } from './helpers.js';

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** x [N, 2] -> logit = x·[1, -1] [N, 1], then p = sigmoid(logit) [N, 1]. */
const twoOutputs = buildOnnxModel({
  inputs: [{ name: 'x', shape: ['N', 2] }],
  outputs: [{ name: 'logit', shape: ['N', 1] }, { name: 'p', shape: ['N', 1] }],
  initializers: [{ name: 'W', dims: [2, 1], values: [1, -1] }],
  nodes: [
    { opType: 'MatMul', inputs: ['x', 'W'], outputs: ['logit'] },
    { opType: 'Sigmoid', inputs: ['logit'], outputs: ['p'] },
  ],
  opsets: [{ domain: '', version: 17 }],
});

/** x [N, 2] -> softmax(x·W) as probabilities [N, 2] (or [N, ?] when `dynamic`). */
function probabilities(dynamic: boolean): Uint8Array {
  return buildOnnxModel({
    inputs: [{ name: 'x', shape: ['N', 2] }],
    outputs: [{ name: 'probabilities', shape: ['N', dynamic ? 'K' : 2] }],
    initializers: [{ name: 'W', dims: [2, 2], values: [1, -1, -1, 1] }],
    nodes: [
      { opType: 'MatMul', inputs: ['x', 'W'], outputs: ['z'] },
      { opType: 'Softmax', inputs: ['z'], outputs: ['probabilities'], attributes: { axis: { i: 1 } } },
    ],
    opsets: [{ domain: '', version: 17 }],
  });
}

describe('onnx outputs and inputs of published envelopes', () => {
  let reg: RunningRegistry;
  let dir: string;
  let srv: RunningServer;

  const publish = async (...args: string[]): Promise<{ code: number; err: string }> => {
    const err: string[] = [];
    const code = await registryCli(['publish', '--registry', reg.url, ...args], { out: () => undefined, err: (l) => err.push(l) });
    return { code, err: err.join('\n') };
  };
  const versions = async (name: string): Promise<number> => {
    const res = await fetch(`${reg.url}/envelopes/${name}`);
    return res.status === 404 ? 0 : ((await res.json()) as { versions: unknown[] }).versions.length;
  };

  beforeAll(async () => {
    reg = await startRegistry();
    dir = await tempDir('airmail-onnx-out-');
    await writeFile(join(dir, 'two.onnx'), twoOutputs);
    await writeFile(join(dir, 'proba.onnx'), probabilities(false));
    await writeFile(join(dir, 'proba-dyn.onnx'), probabilities(true));
    await writeFile(join(dir, 'lr.onnx'), logisticModel([0.5, -1, 2], 0.1, { outputName: 'p' }));
    await writeFile(join(dir, 'ab.csv'), 'a,b\n1,2\n3,1\n');
    await writeFile(join(dir, 'lr.csv'), 'price,qty,rating\n1.5,3,0.2\n2.5,,0.4\n');
    expect(await publish('--artifact', join(dir, 'two.onnx'), '--flavor', 'onnx', '--name', 'two', '--description', 'logit and p', '--sample', join(dir, 'ab.csv'))).toEqual({ code: 0, err: '' });
    expect(await publish('--artifact', join(dir, 'lr.onnx'), '--flavor', 'onnx', '--name', 'lr', '--description', 'lr', '--sample', join(dir, 'lr.csv'), '--feature-source', 'items:item_id')).toEqual({ code: 0, err: '' });
    await mkdir(join(dir, 'configs'));
    await writeFile(join(dir, 'configs', 'items.json'), JSON.stringify([
      { item_id: 1, price: 1.5, qty: 3, rating: 0.2 },
      { item_id: 2, price: 2.5, qty: null, rating: 0.4 },
    ]));
    await writeFile(join(dir, 'configs', 'main.yaml'), `
datasets:
  items: {path: items.json, key: item_id}
pipeline:
  name: rank
  item_type: item_id
  initialization:
    includes: [{name: Static, parameters: {items: [1, 2]}}]
    scores: [{name: ModelScore, as: lr, parameters: {model: {tags: {name: lr}}}}]
  return: [item_id, lr]
deployments:
- {name: two, model: {tags: {name: two}}}
- {name: lr, model: {tags: {name: lr}}}
`);
    srv = await registryServer(dir, reg.url);
  });

  afterAll(() => closeRegistryWorld(srv, reg, dir));

  it('a model with two outputs answers both, as onnxruntime computes them', async () => {
    const res = await fetch(`${srv.url}/models/two/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rows: [{ a: 1, b: 2 }, { a: 3, b: 1 }] }) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { predictions: { logit: number; p: number }[] };
    expect(body.predictions.map((r) => r.logit)).toEqual([-1, 2]);
    body.predictions.forEach((r, i) => expect(r.p).toBeCloseTo(sigmoid([-1, 2][i]!), 6));
  });

  it.each([['a fixed [N, 2]', 'proba.onnx'], ['a dynamic [N, K]', 'proba-dyn.onnx']])('refuses %s probabilities output at publish, writing nothing', async (_what, file) => {
    const r = await publish('--artifact', join(dir, file), '--flavor', 'onnx', '--name', 'proba', '--description', 'p', '--sample', join(dir, 'ab.csv'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/MODEL_LOAD_FAILED/);
    expect(r.err).toMatch(/'probabilities'.*(several values|2 values) per row/);
    expect(await versions('proba')).toBe(0);
  });

  it('the engine refuses an [N, 2] output rather than reading its column 0', async () => {
    const model = await createOnnxModel(probabilities(true));
    try {
      await expect(model.predict(Float32Array.of(1, 2, 3, 1), 2)).rejects.toMatchObject({ code: 'MODEL_FAILED', message: expect.stringMatching(/2 values per row/) });
    } finally {
      await model.release();
    }
  });

  it('refuses declared string inputs of an onnx function', async () => {
    const r = await publish('--artifact', join(dir, 'lr.onnx'), '--flavor', 'onnx', '--name', 'strin', '--description', 'd', '--inputs', 'price:float32,qty:float32,dept:string');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/SAMPLE_INVALID.*must be numeric: dept \(string\)/);
    expect(await versions('strin')).toBe(0);
  });

  it('refuses more declared outputs than the model has', async () => {
    const r = await publish('--artifact', join(dir, 'lr.onnx'), '--flavor', 'onnx', '--name', 'lr2', '--description', 'd', '--sample', join(dir, 'lr.csv'), '--outputs', 'p:float32,q:float32');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/2 output columns were declared \(p, q\) but the model has 1/);
  });

  it('a feature the feature source lacks is NaN in /query as in pipelines, not 0', async () => {
    const q = (await (await fetch(`${srv.url}/models/lr/query/2`)).json()) as { features: Record<string, unknown>; predictions: { p: number | null }[] };
    expect(q.features).toEqual({ price: 2.5, qty: null, rating: 0.4 });
    const pipeline = (await (await fetch(`${srv.url}/pipelines/rank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json()) as { items: { item_id: number; lr: number | null }[] };
    expect(pipeline.items.find((i) => i.item_id === 2)!.lr).toBeNull();
    expect(q.predictions[0]!.p).toBeNull();
    // and a complete row agrees with the pipeline and with the arithmetic
    const one = (await (await fetch(`${srv.url}/models/lr/query/1`)).json()) as { predictions: { p: number }[] };
    expect(one.predictions[0]!.p).toBeCloseTo(sigmoid(1.5 * 0.5 - 3 + 0.2 * 2 + 0.1), 6);
    expect(pipeline.items.find((i) => i.item_id === 1)!.lr).toBeCloseTo(one.predictions[0]!.p, 6);
  });
});

/**
 * A model whose output is float16 (a model converted to half precision, or one ending in a Cast to
 * float16) was published, served and scored with the raw bits of each value: onnxruntime-node hands
 * float16 data over as a Uint16Array, so a prediction of 2.0 came back as 16384 and -0.5 as 47104,
 * in /predict and in a pipeline's ModelScore alike, with no error anywhere. Values are now decoded.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnnxModel } from '../scripts/onnx-builder.js';
import { registryCli } from '../engine/registry/cli.js';
import { startRegistry, tempDir, type RunningRegistry } from '../engine/registry/fixtures.js';
import type { RunningServer } from '../engine/server.js';
import { registryServer, closeRegistryWorld } from './helpers.js';

const OPSET = [{ domain: '', version: 17 }];
const W = { name: 'W', dims: [2, 1], values: [1, -1] };
/** x [N, 2] float32 -> a - b, cast to float16, as [N, 1]. */
const halfScore = buildOnnxModel({
  inputs: [{ name: 'x', shape: ['N', 2] }], outputs: [{ name: 'y', shape: ['N', 1], elemType: 'float16' }], initializers: [W],
  nodes: [{ opType: 'MatMul', inputs: ['x', 'W'], outputs: ['yf'] }, { opType: 'Cast', inputs: ['yf'], outputs: ['y'], attributes: { to: { i: 10 } } }],
  opsets: OPSET,
});
/** A classifier whose probabilities [N, 2] are float16: softmax of (a - b, b - a). */
const halfClassifier = buildOnnxModel({
  inputs: [{ name: 'x', shape: ['N', 2] }], outputs: [{ name: 'probabilities', shape: ['N', 2], elemType: 'float16' }],
  initializers: [{ name: 'W2', dims: [2, 2], values: [1, -1, -1, 1] }],
  nodes: [
    { opType: 'MatMul', inputs: ['x', 'W2'], outputs: ['z'] },
    { opType: 'Softmax', inputs: ['z'], outputs: ['p'], attributes: { axis: { i: 1 } } },
    { opType: 'Cast', inputs: ['p'], outputs: ['probabilities'], attributes: { to: { i: 10 } } },
  ],
  opsets: OPSET,
});
const ROWS = [{ a: 3, b: 1 }, { a: 0.5, b: 1 }, { a: 0.25, b: 0 }];
const positive = (r: { a: number; b: number }): number => 1 / (1 + Math.exp(-2 * (r.b - r.a)));

describe('a float16 model output is served as numbers, not as its bits', () => {
  let reg: RunningRegistry;
  let dir: string;
  let srv: RunningServer;

  beforeAll(async () => {
    reg = await startRegistry();
    dir = await tempDir('airmail-f16-');
    await writeFile(join(dir, 'half.onnx'), halfScore);
    await writeFile(join(dir, 'halfclf.onnx'), halfClassifier);
    await writeFile(join(dir, 'sample.csv'), 'a,b\n1,2\n0.5,-1\n3,4\n');
    for (const [name, extra] of [['half', []], ['halfclf', ['--outputs', 'psale=probabilities[1]']]] as const) {
      const err: string[] = [];
      const code = await registryCli(['publish', '--registry', reg.url, '--artifact', join(dir, `${name}.onnx`), '--flavor', 'onnx', '--name', name, '--description', 'half precision', '--sample', join(dir, 'sample.csv'), ...extra], { out: () => undefined, err: (l) => err.push(l) });
      expect({ code, err }).toEqual({ code: 0, err: [] });
    }
    await mkdir(join(dir, 'configs'));
    await writeFile(join(dir, 'configs', 'items.json'), JSON.stringify(ROWS.map((r, i) => ({ item_id: i + 1, ...r }))));
    await writeFile(join(dir, 'configs', 'main.yaml'), `
datasets:
  items: {path: items.json, key: item_id}
pipeline:
  name: rank
  item_type: item_id
  initialization:
    includes: [{name: Static, parameters: {items: [1, 2, 3]}}]
    scores:
    - {name: ModelScore, as: half, weight: 0, parameters: {model: {tags: {name: half}}}}
    - {name: ModelScore, as: clf, weight: 0, parameters: {model: {tags: {name: halfclf}}}}
  return: [item_id, half, clf]
deployments:
- {name: half, model: {tags: {name: half}}}
- {name: halfclf, model: {tags: {name: halfclf}}}
`);
    srv = await registryServer(dir, reg.url);
  });

  afterAll(() => closeRegistryWorld(srv, reg, dir));

  const predict = async (name: string): Promise<Record<string, number>[]> => {
    const res = await fetch(`${srv.url}/models/${name}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rows: ROWS }) });
    expect(res.status).toBe(200);
    return ((await res.json()) as { predictions: Record<string, number>[] }).predictions;
  };

  it('/predict answers the values the model computed (exact in float16 here)', async () => {
    expect((await predict('half')).map((p) => p.y)).toEqual([2, -0.5, 0.25]);
  });

  it('a column of a float16 [N, 2] output is the probability, within float16 precision', async () => {
    const got = (await predict('halfclf')).map((p) => p.psale!);
    got.forEach((p, i) => expect(Math.abs(p - positive(ROWS[i]!))).toBeLessThan(1e-3));
  });

  it('a pipeline scores with both as /predict does', async () => {
    const res = await fetch(`${srv.url}/pipelines/rank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(200);
    const items = ((await res.json()) as { items: { item_id: number; half: number; clf: number }[] }).items.sort((x, y) => x.item_id - y.item_id);
    expect(items.map((i) => i.half)).toEqual([2, -0.5, 0.25]);
    items.forEach((it, i) => expect(Math.abs(it.clf - positive(ROWS[i]!))).toBeLessThan(1e-3));
  });
});

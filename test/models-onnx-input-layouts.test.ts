/**
 * ONNX exports as data scientists really have them, published with the CLI and served:
 *  - a fixed batch dimension ([1, F]: torch.onnx.export without dynamic_axes) was published from a
 *    one-row sample and then failed every request of more than one row (onnxruntime's "Got invalid
 *    dimensions for input"); a larger sample was refused with that same bare message. Rows now run
 *    in chunks of the fixed size;
 *  - one [N, 1] input per feature (skl2onnx with one initial type per column) was refused ("ModelScore
 *    needs exactly one float tensor input"); column j now feeds the model's input j, matched by name;
 *  - an int64 or double input was refused without saying what to export instead;
 *  - a classifier exported with ZipMap (seq(map(int64, float)) probabilities) was refused with
 *    onnxruntime-node's "Non tensor type is temporarily not supported", naming no fix.
 * Predictions must equal what onnxruntime-node gives for the same rows through a [N, F] export.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOnnxModel, linearModel } from '../scripts/onnx-builder.js';
import { registryCli } from '../engine/registry/cli.js';
import { startRegistry, tempDir, type RunningRegistry } from '../engine/registry/fixtures.js';
import type { RunningServer } from '../engine/server.js';
import { registryServer, closeRegistryWorld } from './helpers.js';

const W = [0.5, -1.25, 2];
const B = 0.1;
const NAMES = ['price', 'qty', 'rating'];

/** onnxruntime on the [N, F] export: the reference every layout must match exactly. */
async function reference(rows: readonly number[][]): Promise<number[]> {
  const s = await ort.InferenceSession.create(linearModel(W, B, { outputName: 'p' }));
  try {
    const out = await s.run({ features: new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, 3]) });
    return Array.from(out.p!.data as Float32Array);
  } finally {
    await s.release();
  }
}

describe('onnx input layouts: fixed batch size, one input per feature', () => {
  let reg: RunningRegistry;
  let dir: string;
  let srv: RunningServer;
  const rows = Array.from({ length: 1000 }, (_, i) => [((i * 7) % 13) / 3, (i % 5) - 2, Math.sin(i) * 0.7]);

  const publish = async (...args: string[]): Promise<{ code: number; err: string }> => {
    const err: string[] = [];
    const code = await registryCli(['publish', '--registry', reg.url, ...args], { out: () => undefined, err: (l) => err.push(l) });
    return { code, err: err.join('\n') };
  };
  const predict = async (name: string, body: unknown): Promise<{ status: number; body: { predictions?: { p: number | null }[]; reason?: string } }> => {
    const res = await fetch(`${srv.url}/models/${name}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as { predictions?: { p: number | null }[] } };
  };
  const asRows = (xs: readonly number[][]): Record<string, number>[] => xs.map((r) => Object.fromEntries(NAMES.map((n, j) => [n, r[j]!])));

  beforeAll(async () => {
    reg = await startRegistry();
    dir = await tempDir('airmail-onnx-layout-');
    await writeFile(join(dir, 'batch1.onnx'), linearModel(W, B, { outputName: 'p', batch: 1 }));
    await writeFile(join(dir, 'perfeature.onnx'), linearModel(W, B, { outputName: 'p', perFeatureInputs: NAMES }));
    await writeFile(join(dir, 'one.csv'), 'price,qty,rating\n1.5,3,0.2\n');
    await writeFile(join(dir, 'ordered.csv'), 'price,qty,rating\n0.2,1.5,3\n0.4,2.5,1\n-1,0,0\n');
    await writeFile(join(dir, 'three.csv'), 'rating,price,qty\n0.2,1.5,3\n0.4,2.5,1\n-1,0,0\n');
    for (const [name, file, sample] of [['batch1', 'batch1.onnx', 'one.csv'], ['batch1b', 'batch1.onnx', 'ordered.csv'], ['perfeature', 'perfeature.onnx', 'three.csv']]) {
      expect(await publish('--artifact', join(dir, file!), '--flavor', 'onnx', '--name', name!, '--description', 'linear', '--sample', join(dir, sample!), '--feature-source', 'items:item_id')).toEqual({ code: 0, err: '' });
    }
    await mkdir(join(dir, 'configs'));
    await writeFile(join(dir, 'configs', 'items.json'), JSON.stringify(rows.slice(0, 50).map((r, i) => ({ item_id: i + 1, ...asRows([r])[0] }))));
    await writeFile(join(dir, 'configs', 'main.yaml'), `
datasets:
  items: {path: items.json, key: item_id}
pipeline:
  name: rank
  item_type: item_id
  initialization:
    includes: [{name: Static, parameters: {items: [${rows.slice(0, 50).map((_, i) => i + 1).join(', ')}]}}]
    scores:
    - {name: ModelScore, as: b1, weight: 0, parameters: {model: {tags: {name: batch1}}}}
    - {name: ModelScore, as: pf, weight: 0, parameters: {model: {tags: {name: perfeature}}}}
  return: [item_id, b1, pf]
deployments:
- {name: batch1, model: {tags: {name: batch1}}}
- {name: batch1b, model: {tags: {name: batch1b}}}
- {name: perfeature, model: {tags: {name: perfeature}}}
`);
    srv = await registryServer(dir, reg.url);
  });

  afterAll(() => closeRegistryWorld(srv, reg, dir));

  it('the per-feature model records its inputs in the model\'s order, whatever the sample\'s column order', async () => {
    const env = (await (await fetch(`${reg.url}/envelopes/perfeature/1`)).json()) as { function: { inputs: { name: string; type: string }[] } };
    expect(env.function.inputs).toEqual(NAMES.map((name) => ({ name, type: 'float32' })));
  });

  it.each(['batch1', 'batch1b', 'perfeature'])('%s: /predict of 1 and 1000 rows equals onnxruntime on the [N, F] export', async (name) => {
    const want = await reference(rows);
    const one = await predict(name, { rows: asRows(rows.slice(0, 1)) });
    expect(one.status).toBe(200);
    expect(one.body.predictions!.map((r) => r.p)).toEqual(want.slice(0, 1));
    const all = await predict(name, { rows: asRows(rows) });
    expect(all.status).toBe(200);
    expect(all.body.predictions!.map((r) => r.p)).toEqual(want);
    expect((await predict(name, { rows: [] })).status).toBe(422); // at least one row, as for every model
  });

  it('a missing value reaches every layout as NaN and comes back null', async () => {
    for (const name of ['batch1', 'perfeature']) {
      const r = await predict(name, { rows: [{ price: 1, qty: null, rating: 0 }, { price: 1, qty: 1, rating: 0 }] });
      expect(r.status).toBe(200);
      expect(r.body.predictions!.map((x) => x.p)).toEqual([null, (await reference([[1, 1, 0]]))[0]]);
    }
  });

  it('a pipeline scores with both layouts, as onnxruntime does', async () => {
    const want = await reference(rows.slice(0, 50));
    const res = await fetch(`${srv.url}/pipelines/rank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(200);
    const items = ((await res.json()) as { items: { item_id: number; b1: number; pf: number }[] }).items.sort((a, b) => a.item_id - b.item_id);
    expect(items.map((i) => i.b1)).toEqual(want);
    expect(items.map((i) => i.pf)).toEqual(want);
  });

  it('a per-feature model whose sample lacks one of its inputs is refused at publish, naming it', async () => {
    await writeFile(join(dir, 'short.csv'), 'price,qty\n1,2\n');
    const r = await publish('--artifact', join(dir, 'perfeature.onnx'), '--flavor', 'onnx', '--name', 'pfshort', '--description', 'd', '--sample', join(dir, 'short.csv'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/SAMPLE_INVALID.*one input per feature \(price, qty, rating\).*lack\(s\) rating/);
  });

  it.each(['int64', 'double'] as const)('an %s input is refused at publish, saying what to export instead', async (elem) => {
    await writeFile(join(dir, `${elem}.onnx`), buildOnnxModel({
      inputs: [{ name: 'x', shape: ['N', 2], elemType: elem }], outputs: [{ name: 'y', shape: ['N', 1] }],
      initializers: [{ name: 'W', dims: [2, 1], values: [1, -1] }],
      nodes: [{ opType: 'Cast', inputs: ['x'], outputs: ['xf'], attributes: { to: { i: 1 } } }, { opType: 'MatMul', inputs: ['xf', 'W'], outputs: ['y'] }],
      opsets: [{ domain: '', version: 17 }],
    }));
    await writeFile(join(dir, 'ab.csv'), 'a,b\n1,2\n');
    const r = await publish('--artifact', join(dir, `${elem}.onnx`), '--flavor', 'onnx', '--name', elem, '--description', 'd', '--sample', join(dir, 'ab.csv'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/MODEL_LOAD_FAILED.*'x' is (int64|float64).*export the model with one float32 input \[N, F\]/s);
  });

  it('a ZipMap classifier is refused at publish over HTTP, naming zipmap=False', async () => {
    const zip = buildOnnxModel({
      inputs: [{ name: 'x', shape: ['N', 2] }],
      outputs: [{ name: 'label', shape: ['N'], elemType: 'int64' }, { name: 'output_probability', shape: [], seqMap: { key: 'int64' } }],
      initializers: [{ name: 'W', dims: [2, 2], values: [1, -1, -1, 1] }],
      nodes: [
        { opType: 'MatMul', inputs: ['x', 'W'], outputs: ['z'] },
        { opType: 'Softmax', inputs: ['z'], outputs: ['probabilities'], attributes: { axis: { i: 1 } } },
        { opType: 'ArgMax', inputs: ['probabilities'], outputs: ['label'], attributes: { axis: { i: 1 }, keepdims: { i: 0 } } },
        { opType: 'ZipMap', domain: 'ai.onnx.ml', inputs: ['probabilities'], outputs: ['output_probability'], attributes: { classlabels_int64s: { ints: [0, 1] } } },
      ],
    });
    const form = new FormData();
    form.set('artifact', new Blob([zip]), 'clf.onnx');
    form.set('flavor', 'onnx');
    form.set('name', 'clf');
    form.set('description', 'classifier');
    form.set('sample', new Blob(['a,b\n1,2\n0,1\n']), 'sample.csv');
    const res = await fetch(`${reg.url}/envelopes`, { method: 'POST', body: form });
    const body = (await res.json()) as { code: string; reason: string };
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(body.code).toBe('MODEL_LOAD_FAILED');
    expect(body.reason).toMatch(/'output_probability' are not tensors.*zipmap': False/);
    expect((await fetch(`${reg.url}/envelopes/clf`)).status).toBe(404);
  });
});

/**
 * The model a retailer's data scientist most often has: a classifier exported with skl2onnx
 * (zipmap=False): `label` int64 [N], then `probabilities` float32 [N, 2], "will buy" in column 1.
 * It was unusable without editing the graph: the first output (the 0/1 label) was taken as the score,
 * and the [N, 2] output was refused at publish with "export the positive-class column as its own
 * output". A selector now chooses the column: `--outputs psale=probabilities[1]` at publish (CLI and
 * HTTP, recorded in the envelope), `output: probabilities[1]` on ModelScore for a model file.
 * Scores must equal onnxruntime-node's own column 1 for the same rows.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifierModel } from '../scripts/onnx-builder.js';
import { registryCli } from '../engine/registry/cli.js';
import { validateFiles } from '../engine/cli-validate.js';
import { startRegistry, tempDir, type RunningRegistry } from '../engine/registry/fixtures.js';
import type { RunningServer } from '../engine/server.js';
import { OPS, registryServer, closeRegistryWorld } from './helpers.js';

const W = [[0.5, -0.5], [-1.25, 1], [2, -0.75]];
const B = [0.1, -0.2];
const NAMES = ['price', 'qty', 'rating'];
const CLF = classifierModel(W, B);

/** onnxruntime-node's own probabilities[:, 1] for these rows. */
async function column1(rows: readonly number[][]): Promise<number[]> {
  const s = await ort.InferenceSession.create(CLF);
  try {
    const out = await s.run({ features: new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, 3]) });
    const p = out.probabilities!.data as Float32Array;
    return rows.map((_, i) => p[i * 2 + 1]!);
  } finally {
    await s.release();
  }
}

describe('a skl2onnx classifier (label, probabilities [N, 2]) scored by probabilities[1]', () => {
  let reg: RunningRegistry;
  let dir: string;
  let srv: RunningServer;
  const rows = Array.from({ length: 1000 }, (_, i) => [((i * 7) % 13) / 3 - 2, (i % 5) - 2, Math.sin(i) * 1.7]);
  const asRows = (xs: readonly number[][]): Record<string, number>[] => xs.map((r) => Object.fromEntries(NAMES.map((n, j) => [n, r[j]!])));

  const publish = async (...args: string[]): Promise<{ code: number; err: string }> => {
    const err: string[] = [];
    const code = await registryCli(['publish', '--registry', reg.url, ...args], { out: () => undefined, err: (l) => err.push(l) });
    return { code, err: err.join('\n') };
  };
  const httpPublish = async (name: string, outputs: string | undefined): Promise<{ status: number; body: { code?: string; reason?: string; version?: number } }> => {
    const form = new FormData();
    form.set('artifact', new Blob([CLF]), 'clf.onnx');
    form.set('flavor', 'onnx');
    form.set('name', name);
    form.set('description', 'will buy');
    if (outputs !== undefined) form.set('outputs', outputs);
    form.set('sample', new Blob(['price,qty,rating\n1,2,0.5\n-1,0,1\n']), 'sample.csv');
    const res = await fetch(`${reg.url}/envelopes`, { method: 'POST', body: form });
    return { status: res.status, body: (await res.json()) as { code?: string; reason?: string } };
  };
  const predict = async (name: string, body: unknown): Promise<{ status: number; body: { predictions?: Record<string, number | null>[] } }> => {
    const res = await fetch(`${srv.url}/models/${name}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as { predictions?: Record<string, number | null>[] } };
  };
  const envelope = async (name: string, v = 1): Promise<{ function: { outputs: unknown[] } }> => (await (await fetch(`${reg.url}/envelopes/${name}/${v}`)).json()) as { function: { outputs: unknown[] } };

  beforeAll(async () => {
    reg = await startRegistry();
    dir = await tempDir('airmail-onnx-clf-');
    await writeFile(join(dir, 'sample.csv'), `price,qty,rating\n${rows.slice(0, 20).map((r) => r.join(',')).join('\n')}\n`);
    await mkdir(join(dir, 'configs', 'models'), { recursive: true });
    await writeFile(join(dir, 'configs', 'models', 'clf.onnx'), CLF);
    expect(await publish('--artifact', join(dir, 'configs', 'models', 'clf.onnx'), '--flavor', 'onnx', '--name', 'clf', '--description', 'will buy', '--sample', join(dir, 'sample.csv'), '--outputs', 'psale=probabilities[1]', '--feature-source', 'items:item_id')).toEqual({ code: 0, err: '' });
    expect(await httpPublish('clfhttp', 'psale=probabilities[1],label')).toMatchObject({ status: 201 });
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
    - {name: ModelScore, as: reg, weight: 0, parameters: {model: {tags: {name: clf}}}}
    - {name: ModelScore, as: file, weight: 1, parameters: {model: models/clf.onnx, output: 'probabilities[1]', features: [price, qty, rating]}}
  return: [item_id, reg, file]
deployments:
- {name: clf, model: {tags: {name: clf}}}
- {name: clfhttp, model: {tags: {name: clfhttp}}}
`);
    srv = await registryServer(dir, reg.url);
  });

  afterAll(() => closeRegistryWorld(srv, reg, dir));

  it('the envelope records the chosen output and column (CLI and HTTP publish)', async () => {
    expect((await envelope('clf')).function.outputs).toEqual([{ name: 'psale', type: 'float32', output: 'probabilities', column: 1 }]);
    expect((await envelope('clfhttp')).function.outputs).toEqual([
      { name: 'psale', type: 'float32', output: 'probabilities', column: 1 },
      { name: 'label', type: 'int64', output: 'label' },
    ]);
  });

  it('/predict of 1 and 1000 rows answers psale equal to onnxruntime\'s column 1', async () => {
    const want = await column1(rows);
    const one = await predict('clf', { rows: asRows(rows.slice(0, 1)) });
    expect(one.status).toBe(200);
    expect(one.body.predictions).toEqual([{ psale: want[0] }]);
    const all = await predict('clf', { rows: asRows(rows) });
    expect(all.status).toBe(200);
    expect(all.body.predictions!.map((r) => r.psale)).toEqual(want);
    const both = await predict('clfhttp', { rows: asRows(rows.slice(0, 3)) });
    expect(both.body.predictions).toEqual(want.slice(0, 3).map((p) => ({ psale: p, label: p > 0.5 ? 1 : 0 })));
  });

  it('a pipeline scores with it by registry tags and as a plain file, as onnxruntime does', async () => {
    const want = await column1(rows.slice(0, 50));
    const res = await fetch(`${srv.url}/pipelines/rank`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(200);
    const items = ((await res.json()) as { items: { item_id: number; reg: number; file: number }[] }).items.sort((a, b) => a.item_id - b.item_id);
    expect(items.map((i) => i.reg)).toEqual(want);
    expect(items.map((i) => i.file)).toEqual(want);
  });

  it('without a selector, publish is refused saying exactly how to select (CLI and HTTP)', async () => {
    const r = await publish('--artifact', join(dir, 'configs', 'models', 'clf.onnx'), '--flavor', 'onnx', '--name', 'nosel', '--description', 'd', '--sample', join(dir, 'sample.csv'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/'probabilities' has 2 values per row; choose the column to score by with --outputs psale=probabilities\[1\]/);
    expect(r.err).not.toMatch(/re-?export/);
    const h = await httpPublish('nosel', undefined);
    expect(h.status).toBe(422);
    expect(h.body.reason).toMatch(/"outputs": "psale=probabilities\[1\]"/);
    expect((await fetch(`${reg.url}/envelopes/nosel`)).status).toBe(404);
  });

  it.each([
    ['psale=probabilities[2]', 1, /column 2 of the model output 'probabilities' is out of range.*columns 0-1.*label \(int64 \[N\]\), probabilities \(float32 \[N, 2\]\)/s],
    ['psale=probs[1]', 1, /no output 'probs'.*outputs are label \(int64 \[N\]\), probabilities/s],
    ['psale=label[1]', 1, /column 1 of the model output 'label' is out of range/],
    ['psale=probabilities[x]', 2, /bad output/],
    ['psale=probabilities,label', 1, /probabilities' has 2 values per row; choose the column.*psale=probabilities\[1\]/s],
  ])('refuses --outputs %s, writing nothing', async (outputs, code, message) => {
    const r = await publish('--artifact', join(dir, 'configs', 'models', 'clf.onnx'), '--flavor', 'onnx', '--name', 'badsel', '--description', 'd', '--sample', join(dir, 'sample.csv'), '--outputs', outputs);
    expect(r.code).toBe(code);
    expect(r.err).toMatch(message);
    expect((await fetch(`${reg.url}/envelopes/badsel`)).status).toBe(404);
  });

  it('refuses a bad selector over HTTP', async () => {
    const h = await httpPublish('badhttp', 'psale=probabilities[5]');
    expect(h.status).toBe(422);
    expect(h.body).toMatchObject({ code: 'ENVELOPE_INVALID', reason: expect.stringMatching(/column 5.*out of range/) });
  });

  it.each([
    ["output: 'probabilities[2]'", /column 2 of the model output 'probabilities' is out of range.*label \(int64 \[N\]\), probabilities \(float32 \[N, 2\]\)/s],
    ['output: probs', /no output 'probs'.*label \(int64 \[N\]\), probabilities \(float32 \[N, 2\]\)/s],
    ['output: probabilities', /has 2 values per row; choose the column to score by with output: probabilities\[1\]/],
    ['features: [price, qty, rating]', /answers label \(int64 \[N\]\), probabilities \(float32 \[N, 2\]\): ModelScore scores by the first, 'label'.*output: probabilities\[1\]/s],
  ])('a model file step with %s is refused at load, with file and line', async (params, message) => {
    const file = join(dir, 'bad.yaml');
    const extra = params.startsWith('features') ? params : `${params}, features: [price, qty, rating]`;
    await writeFile(file, `datasets:\n  items: {path: configs/items.json, key: item_id}\npipeline:\n  name: bad\n  item_type: item_id\n  initialization:\n    includes: [{name: Static, parameters: {items: [1]}}]\n    scores:\n    - {name: ModelScore, parameters: {model: configs/models/clf.onnx, ${extra}}}\n`);
    const err: string[] = [];
    const code = await validateFiles([file], { operators: OPS, alone: true, out: () => undefined, err: (l) => err.push(l) });
    expect(code).not.toBe(0);
    const text = err.join('\n');
    expect(text).toContain(`${file}:9`);
    expect(text).toMatch(message);
  });
});

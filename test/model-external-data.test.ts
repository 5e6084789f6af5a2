/**
 * Issue 6, Models and artifacts: an ONNX model that keeps tensors in external data files (a path
 * inside the model that onnxruntime would open) is refused, wherever it comes from: a model file in
 * the configs directory (refused at config load, saying why; it used to reach onnxruntime, which
 * failed with an internal message, 'model_path must not be empty', and printed its own error line),
 * `airmail publish`, and a registry artifact loaded by the engine.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryCli } from '../engine/registry/cli.js';
import { startRegistry, tempDir, type RunningRegistry } from '../engine/registry/fixtures.js';
import { loadFunction, sha256Hex } from '../engine/registry/function.js';
import { buildOnnxModel, logisticModel } from '../scripts/onnx-builder.js';
import { server } from './helpers.js';

/** features [N, 3] · W, with W's 12 bytes in w.bin beside the model. */
const EXTERNAL = buildOnnxModel({
  inputs: [{ name: 'features', shape: ['N', 3] }],
  outputs: [{ name: 'psale', shape: ['N', 1] }],
  initializers: [{ name: 'W', dims: [3, 1], external: { location: 'w.bin', offset: 0, length: 12 } }],
  nodes: [{ opType: 'MatMul', inputs: ['features', 'W'], outputs: ['psale'] }],
  opsets: [{ domain: '', version: 17 }],
});

const WHY = /keeps tensors in external data files \(W\), which are never read: save a self-contained model/;

let dir: string;
let reg: RunningRegistry;

beforeAll(async () => {
  dir = await tempDir('airmail-external-data-');
  reg = await startRegistry();
  await writeFile(join(dir, 'ext.onnx'), EXTERNAL);
  await writeFile(join(dir, 'w.bin'), Buffer.from(new Float32Array([0.5, -1, 2]).buffer));
  await writeFile(join(dir, 'self.onnx'), logisticModel([0.5, -1, 2], 0));
});
afterAll(async () => {
  await reg.close();
  await rm(dir, { recursive: true, force: true });
});

describe('ONNX models with external data', () => {
  it('a model file in the configs directory: the pipeline is refused at load, saying why; a self-contained one beside it serves', async () => {
    const configs = join(dir, 'configs');
    await mkdir(configs);
    await writeFile(join(configs, 'items.json'), JSON.stringify([{ sku_id: 1, a: 1, b: 2, c: 3 }, { sku_id: 2, a: 0, b: 1, c: 0 }]));
    const pipeline = (name: string, model: string): string => `
datasets:
  items: {path: items.json, key: sku_id}
pipeline:
  name: ${name}
  item_type: sku_id
  initialization:
    includes: [{name: Lookup, parameters: {dataset: items}}]
    scores: [{name: ModelScore, as: s, parameters: {model: ${model}, features: [a, b, c]}}]
`;
    await writeFile(join(configs, 'ext.yaml'), pipeline('ext', join(dir, 'ext.onnx')));
    const ok = join(dir, 'ok');
    await mkdir(ok);
    await writeFile(join(ok, 'items.json'), JSON.stringify([{ sku_id: 1, a: 1, b: 2, c: 3 }]));
    await writeFile(join(ok, 'self.yaml'), pipeline('self', join(dir, 'self.onnx')));

    const srv = await server({ configs, threads: 1, watch: false });
    try {
      const problem = srv.startErrors.find((e) => e.code === 'MODEL_LOAD_FAILED');
      expect(problem, JSON.stringify(srv.startErrors)).toBeDefined();
      expect(problem!.message).toMatch(WHY);
      expect(srv.engine.snapshot.pipelines.has('ext')).toBe(false);
    } finally {
      await srv.close();
    }
    const good = await server({ configs: ok, threads: 1, watch: false });
    try {
      expect(good.startErrors).toEqual([]);
      const res = await fetch(`${good.url}/pipelines/self`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(res.status).toBe(200);
    } finally {
      await good.close();
    }
  });

  it('airmail publish refuses it with ARTIFACT_UNSAFE and the registry holds nothing of it', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await registryCli(['publish', '--artifact', join(dir, 'ext.onnx'), '--flavor', 'onnx', '--name', 'ext', '--description', 'external data', '--inputs', 'a:float32,b:float32,c:float32', '--registry', reg.url], { out: (l) => out.push(l), err: (l) => err.push(l) });
    expect(code).toBe(1);
    expect(err.join('\n')).toMatch(/ARTIFACT_UNSAFE/);
    expect(err.join('\n')).toMatch(WHY);
    expect(await reg.store.query('name=ext')).toEqual([]);
  });

  it('a registry artifact holding one (put there by hand) is refused when loaded, after its sha256 check', async () => {
    const artifact = { sha256: sha256Hex(EXTERNAL), size: EXTERNAL.length };
    const envelope = { name: 'ext', version: 1, function: { flavor: 'onnx' as const, artifact, inputs: [{ name: 'features', type: 'float32' as const }], outputs: [{ name: 'psale', type: 'float32' as const }] } };
    await expect(loadFunction(envelope, EXTERNAL)).rejects.toMatchObject({ code: 'ARTIFACT_UNSAFE', message: expect.stringMatching(WHY) });
    await expect(loadFunction(envelope, new Uint8Array([...EXTERNAL, 0]))).rejects.toMatchObject({ code: 'ARTIFACT_CORRUPT' });
  });
});

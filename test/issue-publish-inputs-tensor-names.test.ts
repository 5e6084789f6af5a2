/**
 * A model exported from TensorFlow (tf2onnx) names its inputs after tensors: `dense/input:0`. Such a
 * model with one input per feature takes its input columns by those names, yet `airmail publish
 * --inputs 'dense/input:0,aux:0'` was a usage error (column 'dense/input' has type "0"), and with a
 * type (`dense/input:0:float32`) "bad column spec": the inputs could be declared only through a
 * sample file. Digits after the last ':' are now part of the name; a misspelt type is still refused.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linearModel } from '../scripts/onnx-builder.js';
import { registryCli } from '../engine/registry/cli.js';
import { startRegistry, tempDir, type RunningRegistry } from '../engine/registry/fixtures.js';
import { closeRegistryWorld } from './helpers.js';

const NAMES = ['dense/input:0', 'aux:0'];

describe('publish --inputs with TensorFlow tensor names', () => {
  let reg: RunningRegistry;
  let dir: string;

  const publish = async (name: string, inputs: string): Promise<{ code: number; err: string }> => {
    const err: string[] = [];
    const code = await registryCli(['publish', '--registry', reg.url, '--artifact', join(dir, 'tf.onnx'), '--flavor', 'onnx', '--name', name, '--description', 'tf2onnx export', '--inputs', inputs], { out: () => undefined, err: (l) => err.push(l) });
    return { code, err: err.join('\n') };
  };
  const inputsOf = async (name: string): Promise<unknown> => ((await (await fetch(`${reg.url}/envelopes/${name}/1`)).json()) as { function: { inputs: unknown } }).function.inputs;

  beforeAll(async () => {
    reg = await startRegistry();
    dir = await tempDir('airmail-tf-names-');
    await writeFile(join(dir, 'tf.onnx'), linearModel([1, 2], 0.5, { perFeatureInputs: NAMES, outputName: 'dense_1/Sigmoid:0' }));
  });

  afterAll(() => closeRegistryWorld(undefined, reg, dir));

  it.each([['bare', 'dense/input:0,aux:0'], ['typed', 'dense/input:0:float32, aux:0:float32']])('%s names are the model\'s inputs', async (name, inputs) => {
    expect(await publish(name, inputs)).toEqual({ code: 0, err: '' });
    expect(await inputsOf(name)).toEqual(NAMES.map((n) => ({ name: n, type: 'float32' })));
  });

  it('a misspelt type is still a usage error naming it, and nothing is published', async () => {
    const r = await publish('typo', 'dense/input:0:flaot32,aux:0');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--inputs: column 'dense\/input:0' has type "flaot32"/);
    expect((await fetch(`${reg.url}/envelopes/typo`)).status).toBe(404);
  });
});

/**
 * Regression: an onnx model published with a JSON or CSV sample had float32 inputs (it takes one
 * float32 tensor) but statistics typed float64 (or int32 for whole numbers), the type the sample
 * file held. The statistics of an input now state the type the function takes it as.
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BENCH_NOTE, benchFile, benchSampleColumns, FEATURES, runBench, tempDir } from '../engine/registry/fixtures.js';
import { publishModel } from '../engine/registry/publish.js';
import { RegistryStore } from '../engine/registry/store.js';

let dir: string;
let store: RegistryStore;
beforeAll(async () => {
  dir = await tempDir('airmail-stats-type-');
  store = await RegistryStore.open(join(dir, 'registry'), { create: true });
});
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

describe.skipIf(!runBench)(`sample statistics of an onnx model${BENCH_NOTE}`, () => {
  it.each([['json'], ['csv']] as const)('are typed float32 like its inputs, from a %s sample', async (format) => {
    const cols = benchSampleColumns(20);
    // c0 as whole numbers: read as int32 from the file.
    cols['c0'] = Float32Array.from(cols['c0']!, (v, i) => i % 3);
    const rows = Array.from({ length: 20 }, (_, i) => Object.fromEntries(FEATURES.map((f) => [f, cols[f]![i]!])));
    const path = join(dir, `sample.${format}`);
    await writeFile(path, format === 'json' ? JSON.stringify(rows) : `${FEATURES.join(',')}\n${rows.map((r) => FEATURES.map((f) => r[f]).join(',')).join('\n')}\n`);
    const e = await publishModel({ artifact: benchFile('psale_gbdt.onnx'), flavor: 'onnx', name: `psale-${format}`, description: 'd', sample: path, onWarning: () => undefined }, store);
    expect(e.function.inputs.map((c) => c.type)).toEqual(FEATURES.map(() => 'float32'));
    expect(FEATURES.map((f) => e.data.features[f]?.type)).toEqual(FEATURES.map(() => 'float32'));
    expect(e.data.features['c0']).toMatchObject({ count: 20, min: 0, max: 2 });
  });
});

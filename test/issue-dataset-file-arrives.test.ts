/**
 * A config refused at start because its dataset file was not there yet (an export still being
 * copied, a volume mounted late) stayed refused when the file arrived, even after `touch` of it:
 * only a file read once was watched, so nothing noticed the new one until the YAML itself changed.
 * A missing dataset file is watched too, in a folder that does not exist yet as well; so is a missing
 * model file (operators say which with the operator API's `watchMissing`).
 */
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configStores, ROOT, tempDir, until } from './helpers.js';

const open = configStores();

describe('a dataset file that arrives after the config', () => {
  for (const folder of ['exists', 'is made later'] as const) {
    it(`is loaded, and the pipeline served, when its folder ${folder}`, async () => {
      const dir = await tempDir();
      if (folder === 'exists') await mkdir(join(dir, 'data'));
      await writeFile(join(dir, 'p.yaml'), 'datasets:\n  a: {path: data/a.json, key: id}\npipeline: {name: p, item_type: id, initialization: {includes: [{name: Lookup, parameters: {dataset: a}}]}}\n');
      const store = open(dir);
      const problems = await store.start();
      expect(problems.map((d) => d.code)).toContain('DATASET_LOAD_FAILED');
      expect(store.snapshot.pipelines.has('p')).toBe(false);
      store.watch(50);
      await mkdir(join(dir, 'data'), { recursive: true });
      await writeFile(join(dir, 'data', 'a.json'), '[{"id": 1}, {"id": 2}]');
      await until(() => store.snapshot.pipelines.has('p'), 'the pipeline is served once its dataset file is there', 5000);
      expect(store.snapshot.datasets.get('a')!.length).toBe(2);
      expect(store.allRejections()).toEqual([]);
    });
  }

  it('a model file that arrives after the config is loaded, and the pipeline served', async () => {
    const dir = await tempDir();
    const cols = Array.from({ length: 24 }, (_, i) => `x${i}`);
    const row = Object.fromEntries([['id', 1], ...cols.map((c, i) => [c, i / 24])]);
    await writeFile(join(dir, 'p.yaml'), `pipeline: {name: p, item_type: id, initialization: {includes: [{name: Static, parameters: {items: [${JSON.stringify(row)}]}}], scores: [{name: ModelScore, parameters: {model: models/m.onnx, features: [${cols.join(', ')}]}}]}}\n`);
    const store = open(dir);
    expect((await store.start()).map((d) => d.message).join('\n')).toContain('models/m.onnx does not exist');
    store.watch(50);
    await mkdir(join(dir, 'models'));
    await copyFile(join(ROOT, 'configs', 'models', 'psale_demo.onnx'), join(dir, 'models', 'm.onnx'));
    await until(() => store.snapshot.pipelines.has('p'), 'the pipeline is served once its model file is there', 5000);
    expect(store.allRejections()).toEqual([]);
  });
});

/**
 * A config refused at start because its dataset file was not there yet (an export still being
 * copied, a volume mounted late) stayed refused when the file arrived, even after `touch` of it:
 * only a file read once was watched, so nothing noticed the new one until the YAML itself changed.
 * A missing dataset file is watched too, in a folder that does not exist yet as well.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configStores, tempDir, until } from './helpers.js';

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
});

/**
 * A model file a pipeline names is watched like a dataset file: replacing it in place (a data
 * scientist copying a retrained model over models/psale.onnx) reloads the configs, so the pipeline
 * serves the new bytes at a new version once the file held still. Before, nothing happened until
 * some config file changed: the old pinned copy kept serving and /metrics kept the old sha256. A
 * file replaced by junk is a rejection, and the pinned copy of the last good bytes keeps serving.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigStore } from '../engine/config-store.js';
import { logisticModel } from '../scripts/onnx-builder.js';
import { demoConfigs, OPS, until } from './helpers.js';

/** The pinned model copy the pipeline's ModelScore step serves. */
function pinned(store: ConfigStore): unknown {
  const plan = store.snapshot.pipelines.get('complimentary_items')!.plan;
  return plan.scorers.find((s) => s.use === 'ModelScore')?.params['pinned'];
}

describe('a model file replaced in place', () => {
  it('reloads the pipeline at a new version with the new bytes; junk is refused and the last good bytes keep serving', async () => {
    const dir = await demoConfigs();
    const store = new ConfigStore(dir, OPS, { settleMs: 50 });
    try {
      expect(await store.start()).toEqual([]);
      store.watch(200);
      const v0 = store.status('complimentary_items')!.version;
      const p0 = pinned(store);
      expect(typeof p0).toBe('string');

      await writeFile(join(dir, 'models/psale_demo.onnx'), logisticModel(Array.from({ length: 24 }, (_, i) => (i % 5) / 10), 0.3));
      await until(() => store.status('complimentary_items')!.version !== v0, 'the pipeline moved to a new version');
      const p1 = pinned(store);
      expect(p1).not.toBe(p0);

      const v1 = store.status('complimentary_items')!.version;
      await writeFile(join(dir, 'models/psale_demo.onnx'), 'not a model');
      await until(() => store.allRejections().some((r) => /psale_demo\.onnx/.test(JSON.stringify(r))), 'the junk was refused');
      expect(store.status('complimentary_items')!.version).toBe(v1);
      expect(pinned(store)).toBe(p1);
    } finally {
      await store.close();
    }
  });
});
